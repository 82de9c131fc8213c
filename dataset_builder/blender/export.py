"""Save a built character as .blend or .glb (bpy side), via a temporary name and a rename."""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import bpy

from ..files import atomic_path
from ..procedural.model import BuiltCharacter


@contextmanager
def _flat_surfaces() -> Iterator[None]:
    """Temporarily wire every material's output to its flat ``diffuse_color`` (but those that
    read vertex colours).

    The glTF exporter cannot express the procedural node trees; a colour wired straight into the
    output is exported as an unlit (KHR_materials_unlit) material with that base colour.
    """
    saved = []
    for material in bpy.data.materials:
        tree = material.node_tree
        if tree is None or any(node.type == "VERTEX_COLOR" for node in tree.nodes):
            continue  # vertex colours export as glTF's COLOR_0, which the flat colour would drop
        output = next(
            (n for n in tree.nodes if n.type == "OUTPUT_MATERIAL" and n.is_active_output), None
        )
        if output is None:
            continue
        surface = output.inputs["Surface"]
        previous = [link.from_socket for link in surface.links]
        flat = tree.nodes.new("ShaderNodeRGB")
        flat.outputs[0].default_value = material.diffuse_color
        tree.links.new(flat.outputs[0], surface)
        saved.append((tree, surface, previous, flat))
    try:
        yield
    finally:
        for tree, surface, previous, flat in saved:
            tree.nodes.remove(flat)
            for socket in previous:
                tree.links.new(socket, surface)


@contextmanager
def _selected(names: list[str]) -> Iterator[None]:
    """Temporarily select exactly the objects named ``names``."""
    before = {obj.name: obj.select_get() for obj in bpy.context.view_layer.objects}
    for obj in bpy.context.view_layer.objects:
        obj.select_set(obj.name in names)
    try:
        yield
    finally:
        for obj in bpy.context.view_layer.objects:
            obj.select_set(before.get(obj.name, False))


def save_character(built: BuiltCharacter, path: str | os.PathLike) -> None:
    """Write the character to ``path``: .blend (a copy of the whole file), or .glb (the
    armature and meshes of ``built``: skin, shape keys, flat unlit colours, roles as extras)."""
    save_rig(built.armature_name, built.mesh_names, path)


def animate_bone(armature: bpy.types.Object, bone_name: str, degrees: float) -> None:
    """Give ``armature`` an action that turns ``bone_name`` about its local Y axis by
    ``degrees`` on frames 1 and 20 (an animation shipped with a model)."""
    bone = armature.pose.bones[bone_name]
    bone.rotation_mode = "XYZ"
    for frame in (1, 20):
        bone.rotation_euler = (0.0, math.radians(degrees), 0.0)
        bone.keyframe_insert("rotation_euler", frame=frame)


def paint_vertex_colours(mesh: bpy.types.Object) -> None:
    """Replace ``mesh``'s materials by one that reads a colour attribute holding each face's
    former material colour (its viewport colour): a vertex-coloured model, as low-poly and
    palette-free exports are."""
    colours = [
        tuple(slot.material.diffuse_color) if slot.material else (0.8, 0.8, 0.8, 1.0)
        for slot in mesh.material_slots
    ] or [(0.8, 0.8, 0.8, 1.0)]
    data = mesh.data
    for attribute in list(data.color_attributes):  # the painted one becomes glTF's COLOR_0
        data.color_attributes.remove(attribute)
    layer = data.color_attributes.new("Col", "FLOAT_COLOR", "CORNER")
    for polygon in data.polygons:
        colour = colours[min(polygon.material_index, len(colours) - 1)]
        for loop in polygon.loop_indices:
            layer.data[loop].color = colour
    material = bpy.data.materials.new(f"{mesh.name} vertex colours")
    material.diffuse_color = (1.0, 1.0, 1.0, 1.0)  # the base colour factor the colours scale
    material.use_nodes = True
    tree = material.node_tree
    attribute = tree.nodes.new("ShaderNodeVertexColor")
    attribute.layer_name = "Col"
    principled = next(n for n in tree.nodes if n.type == "BSDF_PRINCIPLED")
    tree.links.new(attribute.outputs["Color"], principled.inputs["Base Color"])
    data.materials.clear()
    data.materials.append(material)


def parent_to_bone(mesh: bpy.types.Object, armature: bpy.types.Object, bone: str) -> None:
    """Make ``mesh`` a rigid part of ``bone``: no armature modifier, no vertex groups, parented
    to the bone where it stands (a low-poly head or a glTF export's rigid part)."""
    for modifier in [m for m in mesh.modifiers if m.type == "ARMATURE"]:
        mesh.modifiers.remove(modifier)
    mesh.vertex_groups.clear()
    world = mesh.matrix_world.copy()
    mesh.parent = armature
    mesh.parent_type = "BONE"
    mesh.parent_bone = bone
    bpy.context.view_layer.update()
    mesh.matrix_world = world


def save_rig(
    armature_name: str, mesh_names: list[str], path: str | os.PathLike, animations: bool = False
) -> None:
    """Write a rigged model to ``path``: .blend (a copy of the whole file), or .glb (the
    armature and meshes named: skin, shape keys, flat unlit colours, extras; its animations
    with ``animations``)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    suffix = path.suffix.lower()
    if suffix not in (".blend", ".glb", ".fbx"):
        raise ValueError(f"{path}: expected a .blend, .glb or .fbx file name")
    with atomic_path(path, keep_suffix=True) as tmp:
        if suffix == ".blend":
            bpy.ops.wm.save_as_mainfile(filepath=str(tmp), copy=True, check_existing=False)
        elif suffix == ".glb":
            with _flat_surfaces(), _selected([armature_name, *mesh_names]):
                bpy.ops.export_scene.gltf(
                    filepath=str(tmp),
                    export_format="GLB",
                    use_selection=True,  # the character only (not cameras or lights)
                    export_apply=False,
                    export_skins=True,
                    export_morph=True,
                    export_morph_normal=False,
                    export_animations=animations,
                    export_extras=True,  # keeps mat["animeceleb_role"]
                )
        elif suffix == ".fbx":
            with _selected([armature_name, *mesh_names]):
                bpy.ops.export_scene.fbx(
                    filepath=str(tmp),
                    use_selection=True,
                    object_types={"ARMATURE", "MESH"},
                    add_leaf_bones=False,
                    use_mesh_modifiers=False,  # the armature modifier applied would drop shape keys
                    bake_anim=animations,
                )
