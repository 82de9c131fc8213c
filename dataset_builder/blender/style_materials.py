"""The four shader styles, built from each material's role, base colour and base texture.

- ``cel``: flat two-tone cel shading (emission through a constant ramp on N·L).
- ``cel_outline``: ``cel`` with ink lines along silhouettes and folds (from the facing ratio).
- ``soft``: soft diffuse shading lit by the frontal sun, with an ambient term.
- ``original``: the model's own materials (the procedural characters' textured look, a VRM's MToon).

A material Cycles cannot render (:func:`material_fallback.unrenderable`: a missing texture, a
node tree it cannot evaluate) takes its colour from :func:`material_fallback.fallback_colour` and
only the textures that load; in ``original`` it is rendered in ``cel``.
"""

from __future__ import annotations

import functools
import logging

import bpy

from ..styles import STYLES
from .material_fallback import fallback_colour, image_has_data, unrenderable
from .shader_nodes import Graph

logger = logging.getLogger(__name__)

FLAT_ROLES = {"eye_white", "iris", "pupil", "highlight", "line", "mouth"}
SHADOW_TINT = (0.70, 0.62, 0.76)
WHITE = (1.0, 1.0, 1.0)
INK_COLOR = (0.08, 0.05, 0.06)
INK_THRESHOLD = 0.6  # facing ratio from which a surface is drawn as a line


def _first_image(material: bpy.types.Material) -> bpy.types.Image | None:
    """The first image texture of ``material`` that has pixels (a missing file is skipped)."""
    if material.node_tree is None:
        return None
    for node in material.node_tree.nodes:
        if node.type == "TEX_IMAGE" and node.image is not None and image_has_data(node.image):
            return node.image
    return None


def _colour_attribute(material: bpy.types.Material) -> str | None:
    """The colour attribute ``material`` reads (a Color Attribute node's layer; "" for the
    mesh's active one, as glTF imports name it), None when it reads none."""
    for node in material.node_tree.nodes if material.node_tree is not None else ():
        if node.type == "VERTEX_COLOR":
            return node.layer_name
    return None


def _style_graph(
    source: bpy.types.Material, problem: str | None, style: str
) -> tuple[Graph, object, object]:
    """A new material for ``source`` in ``style``: its graph, the base colour (the source's first
    image texture times its diffuse colour, else the vertex colours it reads, else the colour;
    the fallback colour when ``problem`` says why Cycles cannot render it) and the texture's
    alpha (or None)."""
    material = bpy.data.materials.new(f"{source.name}.{style}")
    graph = Graph(material)
    colour = fallback_colour(source) if problem else tuple(source.diffuse_color)
    image = _first_image(source)
    if image is None:
        layer = _colour_attribute(source)
        if layer is not None:
            return graph, graph.node("ShaderNodeVertexColor", layer_name=layer).outputs[0], None
        return graph, colour, None
    texture, alpha = graph.image(image)
    return graph, graph.multiply(texture, colour), alpha


def cel_material(
    source: bpy.types.Material, problem: str | None, ink: bool = False
) -> bpy.types.Material:
    """Two-tone cel shading; with ``ink``, dark lines where the surface turns away from the view.
    ``problem``: why Cycles cannot render ``source`` (:func:`material_fallback.unrenderable`).

    The lines come from the facing ratio (``1 - |N·I|``) in the shader itself, so outlines cost
    no extra render pass (Freestyle costs about 0.2 s per 256² image here).
    """
    graph, colour, alpha = _style_graph(source, problem, "cel_outline" if ink else "cel")
    if source.get("animeceleb_role") in FLAT_ROLES:
        graph.emit(colour, alpha)
        return graph.material
    shaded = graph.multiply(colour, graph.step(graph.light_dot(), 0.25, SHADOW_TINT, WHITE))
    if ink:
        shaded = graph.multiply(shaded, graph.step(graph.facing(), INK_THRESHOLD, WHITE, INK_COLOR))
    graph.emit(shaded, alpha)
    return graph.material


def soft_material(source: bpy.types.Material, problem: str | None) -> bpy.types.Material:
    """Soft diffuse shading under the frontal sun, plus an ambient (emission) term; ``problem``
    as for :func:`cel_material`."""
    graph, colour, alpha = _style_graph(source, problem, "soft")
    diffuse = graph.node("ShaderNodeBsdfDiffuse")
    graph.set_input(diffuse.inputs["Color"], colour)
    add = graph.node("ShaderNodeAddShader")
    graph.link(diffuse.outputs[0], add.inputs[0])
    graph.link(graph.emission(colour, strength=0.35), add.inputs[1])
    graph.surface(add.outputs[0], alpha)
    return graph.material


class StyleSwitcher:
    """Swaps every material slot of the character's meshes between the four styles.

    A style's materials are built the first time it is used, once per model; switching only
    reassigns slots. The VRM add-on's MToon outlines (a geometry-nodes shell drawn in the outline
    material) render only in ``original``: in the other styles they draw nothing (the same cel
    image with and without them) but cost a second mesh to evaluate after every shape-key change.
    """

    def __init__(self, scene: bpy.types.Scene, meshes: list[bpy.types.Object]):
        self.scene = scene
        self.slots = [slot for obj in meshes for slot in obj.material_slots if slot.material]
        self.originals = [slot.material for slot in self.slots]
        self.outlines = [m for obj in meshes for m in obj.modifiers if _is_mtoon_outline(m)]
        self.by_style: dict[str, dict[bpy.types.Material, bpy.types.Material]] = {}
        self._problems: dict[bpy.types.Material, str | None] | None = None

    @property
    def problems(self) -> dict[bpy.types.Material, str | None]:
        """Why Cycles cannot render each of the model's own materials (None when it can),
        checked once per model, the first time a style is built; each problem logged once."""
        if self._problems is None:
            self._problems = {m: unrenderable(m) for m in set(self.originals)}
            for material, problem in self._problems.items():
                if problem:
                    logger.warning(
                        "material %s: %s; rendered from its base colour", material.name, problem
                    )
        return self._problems

    def _materials(self, style: str) -> dict[bpy.types.Material, bpy.types.Material]:
        if style not in self.by_style:
            build = STYLE_MATERIALS.get(style, _own_material)
            mapping = {m: build(m, problem) for m, problem in self.problems.items()}
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
        for modifier in self.outlines:  # the viewport too, or every change evaluates it there
            modifier.show_render = modifier.show_viewport = style == "original"
        self.scene.cycles.samples = STYLES[style].samples


def _is_mtoon_outline(modifier: bpy.types.Modifier) -> bool:
    """Whether ``modifier`` is the VRM add-on's MToon outline (its "... Outline Geometry" group)."""
    group = getattr(modifier, "node_group", None) if modifier.type == "NODES" else None
    name = group.name if group is not None else ""
    return name.startswith("VRM Add-on MToon") and "Outline" in name


def _own_material(source: bpy.types.Material, problem: str | None) -> bpy.types.Material:
    """``source`` itself (the ``original`` style), or its ``cel`` material when Cycles cannot
    render it (``problem``)."""
    return source if problem is None else cel_material(source, problem)


STYLE_MATERIALS = {
    "cel": cel_material,
    "cel_outline": functools.partial(cel_material, ink=True),
    "soft": soft_material,
}  # "original": _own_material
