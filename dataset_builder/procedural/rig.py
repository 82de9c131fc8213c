"""The armature (chest -> neck -> head, all pointing +Z, roll 0) and skin binding (bpy side).

With roll 0 a bone pointing +Z has local Y = +Z (up, along the bone), local X = +X (the
character's left) and local Z = -Y (the front).
"""

from __future__ import annotations

import bpy
import numpy as np

from .model import BONE_PARENTS, BONES


def make_armature(name: str = "Armature") -> bpy.types.Object:
    """An armature object with the bones of ``model.BONES``, linked to the current scene."""
    armature = bpy.data.armatures.new(name)
    obj = bpy.data.objects.new(name, armature)
    bpy.context.scene.collection.objects.link(obj)
    bpy.context.view_layer.objects.active = obj
    obj.select_set(True)
    bpy.ops.object.mode_set(mode="EDIT")
    for bone_name, (head, tail) in BONES.items():
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
