"""The four shader styles, built from each material's role, base colour and base texture.

- ``cel``: flat two-tone cel shading (emission through a constant ramp on N·L).
- ``cel_outline``: ``cel`` with ink lines along silhouettes and folds (from the facing ratio).
- ``soft``: soft diffuse shading lit by the frontal sun, with an ambient term.
- ``original``: the model's own materials (the procedural characters' textured look, a VRM's MToon).

bpy-side module: imported only inside Blender worker processes.
"""

from __future__ import annotations

import functools

import bpy

from .scene import light_direction
from .styles import STYLES

FLAT_ROLES = {"eye_white", "iris", "pupil", "highlight", "line", "mouth"}
SHADOW_TINT = (0.70, 0.62, 0.76, 1.0)
INK_COLOR = (0.08, 0.05, 0.06, 1.0)
INK_THRESHOLD = 0.6  # facing ratio from which a surface is drawn as a line


def _base_color_socket(material: bpy.types.Material, source: bpy.types.Material):
    """A colour output: the source's first image texture times its diffuse colour, or the colour."""
    color = material.node_tree.nodes.new("ShaderNodeRGB")
    color.outputs[0].default_value = tuple(source.diffuse_color)
    image = _first_image(source)
    if image is None:
        return color.outputs[0], None
    texture = material.node_tree.nodes.new("ShaderNodeTexImage")
    texture.image = image
    return _multiply(material, texture.outputs["Color"], color.outputs[0]), texture.outputs["Alpha"]


def _first_image(material: bpy.types.Material) -> bpy.types.Image | None:
    if material.node_tree is None:
        return None
    for node in material.node_tree.nodes:
        if node.type == "TEX_IMAGE" and node.image is not None:
            return node.image
    return None


def _finish(material: bpy.types.Material, shader_socket, alpha_socket) -> None:
    """Connect ``shader_socket`` to the output, through a transparency mix when there is alpha."""
    nodes, links = material.node_tree.nodes, material.node_tree.links
    output = nodes.new("ShaderNodeOutputMaterial")
    if alpha_socket is None:
        links.new(shader_socket, output.inputs["Surface"])
        return
    transparent = nodes.new("ShaderNodeBsdfTransparent")
    mix = nodes.new("ShaderNodeMixShader")
    links.new(alpha_socket, mix.inputs["Fac"])
    links.new(transparent.outputs[0], mix.inputs[1])
    links.new(shader_socket, mix.inputs[2])
    links.new(mix.outputs[0], output.inputs["Surface"])


def _new_material(name: str) -> bpy.types.Material:
    material = bpy.data.materials.new(name)
    material.use_nodes = True
    material.node_tree.nodes.clear()
    return material


def cel_material(source: bpy.types.Material, ink: bool = False) -> bpy.types.Material:
    """Two-tone cel shading; with ``ink``, dark lines where the surface turns away from the view.

    The lines come from the facing ratio (``1 - |N·I|``) in the shader itself, so outlines cost
    no extra render pass (Freestyle costs about 0.2 s per 256² image here).
    """
    material = _new_material(f"{source.name}.{'cel_outline' if ink else 'cel'}")
    nodes, links = material.node_tree.nodes, material.node_tree.links
    color, alpha = _base_color_socket(material, source)
    emission = nodes.new("ShaderNodeEmission")
    if source.get("animeceleb_role") in FLAT_ROLES:
        links.new(color, emission.inputs["Color"])
        _finish(material, emission.outputs[0], alpha)
        return material
    geometry = nodes.new("ShaderNodeNewGeometry")
    dot = nodes.new("ShaderNodeVectorMath")
    dot.operation = "DOT_PRODUCT"
    dot.inputs[1].default_value = tuple(light_direction())
    links.new(geometry.outputs["Normal"], dot.inputs[0])
    shaded = _multiply(
        material, color, _step(material, dot.outputs["Value"], 0.25, SHADOW_TINT, (1, 1, 1, 1))
    )
    if ink:
        facing = nodes.new("ShaderNodeLayerWeight")
        facing.inputs["Blend"].default_value = 0.5  # facing = 1 - |N·I|, linear
        line = _step(material, facing.outputs["Facing"], INK_THRESHOLD, (1, 1, 1, 1), INK_COLOR)
        shaded = _multiply(material, shaded, line)
    links.new(shaded, emission.inputs["Color"])
    _finish(material, emission.outputs[0], alpha)
    return material


def _step(material: bpy.types.Material, value, position: float, below, above):
    """A constant colour ramp: ``below`` under ``position``, ``above`` from it on."""
    ramp = material.node_tree.nodes.new("ShaderNodeValToRGB")
    ramp.color_ramp.interpolation = "CONSTANT"
    ramp.color_ramp.elements[0].color = below
    ramp.color_ramp.elements[1].position = position
    ramp.color_ramp.elements[1].color = above
    material.node_tree.links.new(value, ramp.inputs["Fac"])
    return ramp.outputs["Color"]


def _multiply(material: bpy.types.Material, a, b):
    mix = material.node_tree.nodes.new("ShaderNodeMix")
    mix.data_type = "RGBA"
    mix.blend_type = "MULTIPLY"
    mix.inputs["Factor"].default_value = 1.0
    material.node_tree.links.new(a, mix.inputs["A"])
    material.node_tree.links.new(b, mix.inputs["B"])
    return mix.outputs["Result"]


def soft_material(source: bpy.types.Material) -> bpy.types.Material:
    material = _new_material(f"{source.name}.soft")
    nodes, links = material.node_tree.nodes, material.node_tree.links
    color, alpha = _base_color_socket(material, source)
    diffuse = nodes.new("ShaderNodeBsdfDiffuse")
    links.new(color, diffuse.inputs["Color"])
    ambient = nodes.new("ShaderNodeEmission")
    ambient.inputs["Strength"].default_value = 0.35
    links.new(color, ambient.inputs["Color"])
    add = nodes.new("ShaderNodeAddShader")
    links.new(diffuse.outputs[0], add.inputs[0])
    links.new(ambient.outputs[0], add.inputs[1])
    _finish(material, add.outputs[0], alpha)
    return material


class StyleSwitcher:
    """Swaps every material slot of the character's meshes between the four styles.

    A style's materials are built the first time it is used, once per model; switching only
    reassigns slots.
    """

    def __init__(self, scene: bpy.types.Scene, meshes: list[bpy.types.Object]):
        self.scene = scene
        self.slots = [slot for obj in meshes for slot in obj.material_slots if slot.material]
        self.originals = [slot.material for slot in self.slots]
        self.by_style: dict[str, dict[bpy.types.Material, bpy.types.Material]] = {}

    def _materials(self, style: str) -> dict[bpy.types.Material, bpy.types.Material]:
        if style not in self.by_style:
            unique = set(self.originals)
            build = STYLE_MATERIALS.get(style)
            mapping = {m: build(m) for m in unique} if build else {m: m for m in unique}
            for material in mapping.values():
                # Emissive surfaces are not light sources here: otherwise Cycles rebuilds a light
                # distribution over every emissive triangle after each shape-key change (2x).
                material.cycles.emission_sampling = "NONE"
            self.by_style[style] = mapping
        return self.by_style[style]

    def apply(self, style: str) -> None:
        mapping = self._materials(style)
        for slot, original in zip(self.slots, self.originals, strict=True):
            slot.material = mapping.get(original, original)
        self.scene.cycles.samples = STYLES[style].samples


STYLE_MATERIALS = {
    "cel": cel_material,
    "cel_outline": functools.partial(cel_material, ink=True),
    "soft": soft_material,
}  # "original" keeps the model's own materials
