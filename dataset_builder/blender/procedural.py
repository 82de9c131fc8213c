"""Build a procedural character into the current Blender scene: mesh objects from numpy mesh data
(``foreach_set``), the armature (chest -> neck -> head, all pointing +Z, roll 0), skin binding,
materials and face shape keys.

With roll 0 a bone pointing +Z has local Y = +Z (up, along the bone), local X = +X (the
character's left) and local Z = -Y (the front).
"""

from __future__ import annotations

import bpy
import numpy as np

from ..procedural.meshdata import MeshData
from ..procedural.model import (
    BONE_PARENTS,
    HEAD_BONE,
    NECK_BONE,
    BuiltCharacter,
    Point,
    bones,
    character_objects,
)
from ..procedural.spec import CharacterSpec
from .procedural_materials import make_materials


def build_character(spec: CharacterSpec) -> BuiltCharacter:
    """Create the character's armature, meshes, materials and face shape keys."""
    objects = character_objects(spec)
    materials = make_materials(spec, {role for o in objects for role in o.mesh.roles})
    armature = make_armature(bones(spec))
    names, shape_keys = [], []
    for data in objects:
        obj = mesh_object(data.name, data.mesh, materials)
        bind(obj, armature, data.weights)
        if data.shape_keys:
            shape_keys = add_shape_keys(obj, data.shape_keys)
        names.append(obj.name)
    return BuiltCharacter(
        armature_name=armature.name,
        neck_bone=NECK_BONE,
        head_bone=HEAD_BONE,
        face_mesh_name=names[0],
        mesh_names=names,
        shape_key_names=shape_keys,
    )


def mesh_object(
    name: str, data: MeshData, materials: dict[str, bpy.types.Material]
) -> bpy.types.Object:
    """A mesh object linked to the current scene, with UVs, smooth flags and material slots."""
    mesh = bpy.data.meshes.new(name)
    mesh.vertices.add(len(data.verts))
    mesh.vertices.foreach_set("co", data.verts.astype(np.float32).ravel())
    mesh.loops.add(len(data.loops))
    mesh.loops.foreach_set("vertex_index", data.loops)
    mesh.polygons.add(len(data.sizes))
    mesh.polygons.foreach_set("loop_start", (np.cumsum(data.sizes) - data.sizes).astype(np.int32))
    mesh.polygons.foreach_set("material_index", data.material_index.astype(np.int32))
    mesh.polygons.foreach_set("use_smooth", data.smooth.astype(bool))
    mesh.update(calc_edges=True)
    uv = mesh.uv_layers.new(name="UVMap")
    uv.data.foreach_set("uv", data.uv[data.loops].astype(np.float32).ravel())
    for role in data.roles:
        mesh.materials.append(materials[role])
    obj = bpy.data.objects.new(name, mesh)
    bpy.context.scene.collection.objects.link(obj)
    return obj


def add_shape_keys(obj: bpy.types.Object, keys: list[tuple[str, np.ndarray]]) -> list[str]:
    """Add "Basis" and one shape key per (name, vertices); returns the names as stored."""
    obj.shape_key_add(name="Basis", from_mix=False)
    names = []
    for name, verts in keys:
        block = obj.shape_key_add(name=name, from_mix=False)
        block.data.foreach_set("co", verts.astype(np.float32).ravel())
        block.value = 0.0  # new keys start at 1.0 in Blender 5
        names.append(block.name)
    return names


def make_armature(
    bone_ends: dict[str, tuple[Point, Point]],
    name: str = "Armature",
) -> bpy.types.Object:
    """An armature object with these bones ((head, tail) by name, parents from
    ``model.BONE_PARENTS``), linked to the current scene."""
    armature = bpy.data.armatures.new(name)
    obj = bpy.data.objects.new(name, armature)
    bpy.context.scene.collection.objects.link(obj)
    bpy.context.view_layer.objects.active = obj
    obj.select_set(True)
    bpy.ops.object.mode_set(mode="EDIT")
    for bone_name, (head, tail) in bone_ends.items():
        bone = armature.edit_bones.new(bone_name)
        bone.head, bone.tail, bone.roll = head, tail, 0.0
    for child, parent in BONE_PARENTS.items():
        bone = armature.edit_bones[child]
        bone.parent = armature.edit_bones[parent]
        bone.use_connect = bone.head == bone.parent.tail
    bpy.ops.object.mode_set(mode="OBJECT")
    return obj


def bind(obj: bpy.types.Object, armature: bpy.types.Object, weights: dict[str, np.ndarray]) -> None:
    """Weight vertices 100 % to bones (vertex groups) and deform with an Armature modifier."""
    for bone_name, indices in weights.items():
        group = obj.vertex_groups.new(name=bone_name)
        group.add(indices.tolist(), 1.0, "REPLACE")
    obj.parent = armature
    modifier = obj.modifiers.new("Armature", "ARMATURE")
    modifier.object = armature
