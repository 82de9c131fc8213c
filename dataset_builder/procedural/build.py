"""Build a procedural character into the current Blender scene (bpy side)."""

from __future__ import annotations

from .blender_mesh import add_shape_keys, mesh_object
from .materials import make_materials
from .model import HEAD_BONE, NECK_BONE, BuiltCharacter, character_objects
from .rig import bind, make_armature
from .spec import CharacterSpec


def build_character(spec: CharacterSpec) -> BuiltCharacter:
    """Create the character's armature, meshes, materials and face shape keys."""
    objects = character_objects(spec)
    materials = make_materials(spec, {role for o in objects for role in o.mesh.roles})
    armature = make_armature()
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
