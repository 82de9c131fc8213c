"""Materials Cycles cannot render, and the base colour they fall back to (bpy-side).

Cycles draws a missing image texture in magenta and a material with no surface output (or with a
node it does not know, such as a shader group from an add-on that is not installed) in black or
magenta. Such a material is rendered in the style's material instead, from its base colour:
:func:`fallback_colour`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import bpy

RGB = tuple[float, float, float]
NEUTRAL = (0.78, 0.72, 0.70)  # a skin-ish grey, for a material that says nothing of its colour
BLENDER_DEFAULT = (0.8, 0.8, 0.8)  # a new material's diffuse colour: says nothing either


def image_has_data(image: bpy.types.Image) -> bool:
    """Whether ``image`` has pixels: packed, generated, or a file on disk that loads."""
    if image.has_data or image.packed_file is not None or image.source == "GENERATED":
        return True
    path = bpy.path.abspath(image.filepath, library=image.library)
    if not os.path.isfile(path):
        return False
    image.reload()
    return image.size[0] > 0 and image.size[1] > 0


def _nodes(tree: bpy.types.NodeTree, seen: set[str] | None = None) -> Iterator[bpy.types.Node]:
    """Every node of ``tree`` and of the node groups it uses, each group once."""
    seen = set() if seen is None else seen
    for node in tree.nodes:
        yield node
        group = getattr(node, "node_tree", None) if node.type == "GROUP" else None
        if group is not None and group.name not in seen:
            seen.add(group.name)
            yield from _nodes(group, seen)


def unrenderable(material: bpy.types.Material) -> str | None:
    """Why Cycles cannot render ``material`` as its author meant (None when it can)."""
    tree = material.node_tree
    if not material.use_nodes or tree is None:
        return None  # Cycles renders its diffuse colour
    outputs = [n for n in tree.nodes if n.type == "OUTPUT_MATERIAL" and n.is_active_output]
    if not outputs or not outputs[0].inputs["Surface"].is_linked:
        return "no surface output"
    for node in _nodes(tree):
        if node.bl_idname == "NodeUndefined":
            return f"node {node.name!r} is of a kind Blender does not know (a missing add-on?)"
        if node.type == "GROUP" and node.node_tree is None:
            return f"node group {node.name!r} is missing"
        if node.type == "TEX_IMAGE" and node.image is not None and not image_has_data(node.image):
            return f"image {node.image.name!r} has no data ({node.image.filepath or 'no file'})"
    return None


def fallback_colour(material: bpy.types.Material) -> RGB:
    """The colour a material stands for: its Principled BSDF's unlinked base colour (glTF,
    VRM, FBX), else its diffuse colour when set, else :data:`NEUTRAL`."""
    tree = material.node_tree if material.use_nodes else None
    for node in tree.nodes if tree is not None else ():
        if node.type == "BSDF_PRINCIPLED" and not node.inputs["Base Color"].is_linked:
            return tuple(node.inputs["Base Color"].default_value)[:3]
    diffuse = tuple(material.diffuse_color)[:3]
    if any(abs(a - b) > 1e-3 for a, b in zip(diffuse, BLENDER_DEFAULT, strict=True)):
        return diffuse
    return NEUTRAL
