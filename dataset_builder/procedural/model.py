"""A character as plain mesh data (no bpy): objects, bone weights and face shape keys."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .accessories import accessory_parts
from .body import arms, collar, neck, place_body, shoulders
from .face import FaceBuilder, FaceState
from .hair import hair_parts, hair_uv
from .meshdata import MeshData, merge
from .morphs import NON_TARGET_EFFECTS, target_state
from .spec import COLLAR_Z, CharacterSpec
from .surface import HeadShape

NECK_BONE = "neck"
HEAD_BONE = "head"
CHEST_BONE = "chest"
NECK_PIVOT_Z = 1.28  # the neck bone's head (the head turns about it) under a "shoulders" body
BONE_PARENTS = {NECK_BONE: CHEST_BONE, HEAD_BONE: NECK_BONE}
Point = tuple[float, float, float]


def bones(spec: CharacterSpec) -> dict[str, tuple[Point, Point]]:
    """Each bone's (head, tail) in metres; all point +Z (roll 0: local X = +X, local Z = -Y, the
    front). The neck's pivot rises with the collar, so a short neck turns inside it."""
    pivot = NECK_PIVOT_Z + spec.collar_z - COLLAR_Z
    return {
        CHEST_BONE: ((0.0, 0.014, 1.10), (0.0, 0.014, pivot)),
        NECK_BONE: ((0.0, 0.014, pivot), (0.0, 0.014, 1.41)),
        HEAD_BONE: ((0.0, 0.014, 1.41), (0.0, 0.014, 1.66)),
    }


@dataclass
class ObjectData:
    """One mesh object: its mesh, vertex indices per bone, and shape keys (name, vertices)."""

    name: str
    mesh: MeshData
    weights: dict[str, np.ndarray]
    shape_keys: list[tuple[str, np.ndarray]]


def character_objects(spec: CharacterSpec) -> list[ObjectData]:
    """Every mesh object of the character; the first is the face (it carries the shape keys)."""
    head = HeadShape(spec)
    builder = FaceBuilder(spec, head)
    face = builder.mesh(FaceState())
    keys = [(name, builder.mesh(target_state(t)).verts) for t, name in spec.target_names]
    keys += [(name, builder.mesh(NON_TARGET_EFFECTS[e]).verts) for name, e in spec.extra_morphs]
    everything = np.arange(len(face.verts))
    objects = [ObjectData("Face", face, {HEAD_BONE: everything}, keys)]

    hair, ties = hair_parts(spec, head)
    hair_mesh = merge(hair + ties)
    hair_mesh.uv = hair_uv(hair_mesh.verts)
    objects.append(ObjectData("Hair", hair_mesh, {HEAD_BONE: np.arange(len(hair_mesh.verts))}, []))

    extras = accessory_parts(spec, head)
    if extras:
        acc = merge(extras)
        objects.append(ObjectData("Accessory", acc, {HEAD_BONE: np.arange(len(acc.verts))}, []))

    neck_part = neck()
    body = merge([neck_part, *place_body(spec, [shoulders(), collar(), *arms(spec)])])
    n_neck = len(neck_part.verts)
    objects.append(
        ObjectData(
            "Body",
            body,
            {NECK_BONE: np.arange(n_neck), CHEST_BONE: np.arange(n_neck, len(body.verts))},
            [],
        )
    )
    return objects


@dataclass
class BuiltCharacter:
    """Names of what ``build_character`` made in the Blender scene."""

    armature_name: str
    neck_bone: str
    head_bone: str
    face_mesh_name: str
    mesh_names: list[str]
    shape_key_names: list[str]
