"""Load a model into the current Blender scene (bpy-side).

One loader per source kind; each returns a ``LoadedModel`` naming the armature, the bone that
turns the head (the neck, as in the paper), the bones whose vertices frame the camera, the meshes
and the shape-key names in model order.
"""

from __future__ import annotations

from dataclasses import dataclass

import bpy

from .scene import bone_and_descendants
from .sources import ModelSource


@dataclass
class LoadedModel:
    armature: bpy.types.Object
    rotate_bone: str
    frame_bones: list[str]
    meshes: list[bpy.types.Object]
    shape_key_names: list[str]


def load_procedural(source: ModelSource) -> LoadedModel:
    from .procedural import build_character, character_spec

    built = build_character(character_spec(source.seed))
    armature = bpy.data.objects[built.armature_name]
    return LoadedModel(
        armature=armature,
        rotate_bone=built.neck_bone,
        frame_bones=bone_and_descendants(armature, built.head_bone),
        meshes=[bpy.data.objects[name] for name in built.mesh_names],
        shape_key_names=list(built.shape_key_names),
    )


LOADERS = {"procedural": load_procedural}


def load_model(source: ModelSource) -> LoadedModel:
    if source.kind not in LOADERS:
        raise ValueError(
            f"{source.model_id}: no loader for source kind {source.kind!r} yet; "
            f"supported: {sorted(LOADERS)}"
        )
    return LOADERS[source.kind](source)
