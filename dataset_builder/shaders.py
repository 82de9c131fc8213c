"""The four shader styles, built from each material's role, base colour and base texture.

- ``cel``: flat two-tone cel shading (emission through a constant ramp on N·L).
- ``cel_outline``: ``cel`` plus Freestyle outlines.
- ``soft``: soft diffuse shading lit by the frontal sun, with an ambient term.
- ``original``: the model's own materials (the procedural characters' textured look, a VRM's MToon).

bpy-side module: imported only inside Blender worker processes.
"""

from __future__ import annotations

import bpy

from .scene import light_direction
from .styles import STYLES

FLAT_ROLES = {"eye_white", "iris", "pupil", "highlight", "line", "mouth"}
SHADOW_TINT = (0.70, 0.62, 0.76, 1.0)
OUTLINE_COLOR = (0.06, 0.04, 0.05)


def _base_color_socket(material: bpy.types.Material, source: bpy.types.Material):
    """A colour output: the source's first image texture times its diffuse colour, or the colour."""
    nodes, links = material.node_tree.nodes, material.node_tree.links
    color = nodes.new("ShaderNodeRGB")
    color.outputs[0].default_value = tuple(source.diffuse_color)
    image = _first_image(source)
    if image is None:
        return color.outputs[0], None
    texture = nodes.new("ShaderNodeTexImage")
    texture.image = image
    multiply = nodes.new("ShaderNodeMix")
    multiply.data_type = "RGBA"
    multiply.blend_type = "MULTIPLY"
    multiply.inputs["Factor"].default_value = 1.0
    links.new(texture.outputs["Color"], multiply.inputs["A"])
    links.new(color.outputs[0], multiply.inputs["B"])
    return multiply.outputs["Result"], texture.outputs["Alpha"]


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


def cel_material(source: bpy.types.Material) -> bpy.types.Material:
    material = _new_material(f"{source.name}.cel")
    nodes, links = material.node_tree.nodes, material.node_tree.links
    color, alpha = _base_color_socket(material, source)
    emission = nodes.new("ShaderNodeEmission")
    if source.get("animeceleb_role") in FLAT_ROLES:
        links.new(color, emission.inputs["Color"])
    else:
        geometry = nodes.new("ShaderNodeNewGeometry")
        dot = nodes.new("ShaderNodeVectorMath")
        dot.operation = "DOT_PRODUCT"
        dot.inputs[1].default_value = tuple(light_direction())
        links.new(geometry.outputs["Normal"], dot.inputs[0])
        ramp = nodes.new("ShaderNodeValToRGB")
        ramp.color_ramp.interpolation = "CONSTANT"
        ramp.color_ramp.elements[0].color = SHADOW_TINT
        ramp.color_ramp.elements[1].position = 0.25
        ramp.color_ramp.elements[1].color = (1.0, 1.0, 1.0, 1.0)
        links.new(dot.outputs["Value"], ramp.inputs["Fac"])
        shade = nodes.new("ShaderNodeMix")
        shade.data_type = "RGBA"
        shade.blend_type = "MULTIPLY"
        shade.inputs["Factor"].default_value = 1.0
        links.new(color, shade.inputs["A"])
        links.new(ramp.outputs["Color"], shade.inputs["B"])
        links.new(shade.outputs["Result"], emission.inputs["Color"])
    _finish(material, emission.outputs[0], alpha)
    return material


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


def configure_outlines(scene: bpy.types.Scene, resolution: int) -> None:
    """Freestyle silhouette and border lines (enabled per style by ``StyleSwitcher``)."""
    scene.render.line_thickness_mode = "ABSOLUTE"
    scene.render.line_thickness = max(1.0, 1.4 * resolution / 256)
    view_layer = scene.view_layers[0]
    view_layer.use_freestyle = True
    settings = view_layer.freestyle_settings
    lineset = settings.linesets[0] if settings.linesets else settings.linesets.new("Outline")
    lineset.select_by_visibility = True
    lineset.select_by_edge_types = True
    lineset.select_silhouette = True
    lineset.select_border = True
    lineset.select_crease = False
    linestyle = bpy.data.linestyles.new("OutlineStyle")
    linestyle.color = OUTLINE_COLOR
    linestyle.thickness = 1.0
    lineset.linestyle = linestyle


class StyleSwitcher:
    """Swaps every material slot of the character's meshes between the four styles.

    Style materials are built once per model; switching only reassigns slots.
    """

    def __init__(self, scene: bpy.types.Scene, meshes: list[bpy.types.Object], resolution: int):
        self.scene = scene
        self.slots = [slot for obj in meshes for slot in obj.material_slots if slot.material]
        self.originals = [slot.material for slot in self.slots]
        unique = set(self.originals)
        cel = {m: cel_material(m) for m in unique}
        self.by_style = {
            "cel": cel,
            "cel_outline": cel,
            "soft": {m: soft_material(m) for m in unique},
            "original": {},
        }
        configure_outlines(scene, resolution)
        for material in (*unique, *cel.values(), *self.by_style["soft"].values()):
            # Emissive surfaces are not light sources here: without this Cycles rebuilds a light
            # distribution over every emissive triangle after each shape-key change (2x slower).
            material.cycles.emission_sampling = "NONE"

    def apply(self, style: str) -> None:
        if style not in STYLES:
            raise ValueError(f"unknown style {style!r}; expected one of {STYLES}")
        mapping = self.by_style[style]
        for slot, original in zip(self.slots, self.originals, strict=True):
            slot.material = mapping.get(original, original)
        self.scene.render.use_freestyle = style == "cel_outline"
        self.scene.cycles.samples = STYLES[style].samples
