"""The AnimeCeleb pose vector: one definition shared by the whole project.

``p`` is a float32 vector of 20 values (see ``docs/animeceleb.md``)::

    0, 1   eye_close L, R        [0, 1]
    2, 3   eye_happy L, R        [0, 1]
    4, 5   eye_relaxed L, R      [0, 1]
    6, 7   brow_troubled L, R    [0, 1]
    8, 9   brow_angry L, R       [0, 1]
    10, 11 brow_raised L, R      [0, 1]
    12-16  mouth a, i, u, e, o   [0, 1]
    17-19  yaw, pitch, roll      degrees, [-20, 20] in the data

Left and right are the character's own. Signs: yaw > 0 turns the face toward the image's right,
pitch > 0 tilts the face up, roll > 0 tilts the top of the head toward the image's right.

This module imports only the standard library and numpy.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

POSE_DIM = 20
EXPRESSION_DIM = 17
ANGLE_LIMIT_DEG = 20.0

EYE_KINDS = ("eye_close", "eye_happy", "eye_relaxed")
BROW_KINDS = ("brow_troubled", "brow_angry", "brow_raised")
MOUTH_VOWELS = ("a", "i", "u", "e", "o")
ANGLE_NAMES = ("yaw", "pitch", "roll")

POSE_NAMES: tuple[str, ...] = (
    *(f"{kind}_{side}" for kind in (*EYE_KINDS, *BROW_KINDS) for side in ("L", "R")),
    *(f"mouth_{vowel}" for vowel in MOUTH_VOWELS),
    *ANGLE_NAMES,
)
POSE_INDEX: dict[str, int] = {name: i for i, name in enumerate(POSE_NAMES)}
ANGLE_SLICE = slice(EXPRESSION_DIM, POSE_DIM)

PARTS = ("eye", "brow", "mouth")


@dataclass(frozen=True)
class TargetMorph:
    """One of the 23 target morphs and the pose dims it fills."""

    name: str
    part: str
    dims: tuple[int, ...]


def _side_morphs(kind: str, part: str) -> list[TargetMorph]:
    left, right = POSE_INDEX[f"{kind}_L"], POSE_INDEX[f"{kind}_R"]
    return [
        TargetMorph(kind, part, (left, right)),  # both sides: fills L and R with the same value
        TargetMorph(f"{kind}_L", part, (left,)),
        TargetMorph(f"{kind}_R", part, (right,)),
    ]


TARGET_MORPHS: tuple[TargetMorph, ...] = (
    *(m for kind in EYE_KINDS for m in _side_morphs(kind, "eye")),
    *(m for kind in BROW_KINDS for m in _side_morphs(kind, "brow")),
    *(TargetMorph(f"mouth_{v}", "mouth", (POSE_INDEX[f"mouth_{v}"],)) for v in MOUTH_VOWELS),
)
TARGET_MORPH_BY_NAME: dict[str, TargetMorph] = {m.name: m for m in TARGET_MORPHS}
TARGET_MORPH_NAMES: tuple[str, ...] = tuple(TARGET_MORPH_BY_NAME)

POSE_RANGES: tuple[tuple[float, float], ...] = (
    *((0.0, 1.0),) * EXPRESSION_DIM,
    *((-ANGLE_LIMIT_DEG, ANGLE_LIMIT_DEG),) * 3,
)
# Divide a pose by this to bring every dim to [-1, 1]: expressions as they are, angles / 20.
POSE_SCALE: tuple[float, ...] = tuple(max(abs(low), abs(high)) for low, high in POSE_RANGES)


def validate_pose(pose: Sequence[float] | np.ndarray, *, what: str = "pose") -> np.ndarray:
    """``pose`` as a float32 array of shape (20,); ``ValueError`` naming any problem."""
    array = np.asarray(pose, dtype=np.float64)
    if array.shape != (POSE_DIM,):
        raise ValueError(f"{what}: expected {POSE_DIM} values, got shape {array.shape}")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{what}: expected finite values, got {array.tolist()}")
    for i, (low, high) in enumerate(POSE_RANGES):
        if not low <= array[i] <= high:
            raise ValueError(
                f"{what}: {POSE_NAMES[i]} = {array[i]:g} is outside its range [{low:g}, {high:g}]"
            )
    return array.astype(np.float32)


def pose_from_morphs(
    morph_values: Mapping[str, float], angles: Sequence[float] = (0.0, 0.0, 0.0)
) -> np.ndarray:
    """Compose a pose vector from target-morph values and (yaw, pitch, roll) in degrees.

    A both-side morph fills its L and R dims with the same value.
    """
    pose = np.zeros(POSE_DIM, dtype=np.float64)
    for name, value in morph_values.items():
        if name not in TARGET_MORPH_BY_NAME:
            raise ValueError(f"unknown target morph {name!r}; expected one of {TARGET_MORPH_NAMES}")
        for dim in TARGET_MORPH_BY_NAME[name].dims:
            pose[dim] = max(pose[dim], value)
    pose[ANGLE_SLICE] = angles
    return validate_pose(pose)


def showable_pose(pose: Sequence[float] | np.ndarray, available: Sequence[str]) -> np.ndarray:
    """``pose`` as far as a model with the target morphs ``available`` can show it, so that
    :func:`morphs_from_pose` accepts it: an eye or brow kind with unequal sides and no morph per
    side takes the mean of the two on its both-side morph; a dim with no morph to show it is 0.
    The head angles are kept."""
    pose = validate_pose(pose).copy()
    have = set(available)
    for kind in (*EYE_KINDS, *BROW_KINDS):
        dims = [POSE_INDEX[f"{kind}_{side}"] for side in ("L", "R")]
        sides = {f"{kind}_L", f"{kind}_R"}
        if pose[dims[0]] != pose[dims[1]] and kind in have and not sides <= have:
            pose[dims] = pose[dims].mean()
        if not (pose[dims[0]] == pose[dims[1]] and kind in have):
            for dim, side in zip(dims, ("L", "R"), strict=True):
                if f"{kind}_{side}" not in have:
                    pose[dim] = 0.0
    for vowel in MOUTH_VOWELS:
        if f"mouth_{vowel}" not in have:
            pose[POSE_INDEX[f"mouth_{vowel}"]] = 0.0
    return pose


def morphs_from_pose(
    pose: Sequence[float] | np.ndarray, available: Sequence[str]
) -> dict[str, float]:
    """The target-morph values that reproduce the expression dims of ``pose`` on a model.

    Uses a both-side morph where L and R are equal and the model has it, else the one-side morphs.
    Raises ``ValueError`` when the model lacks a morph the pose needs.
    """
    pose = validate_pose(pose)
    have = set(available)
    morphs: dict[str, float] = {}
    for kind in (*EYE_KINDS, *BROW_KINDS):
        left, right = float(pose[POSE_INDEX[f"{kind}_L"]]), float(pose[POSE_INDEX[f"{kind}_R"]])
        if left == right and left > 0 and kind in have:
            morphs[kind] = left
            continue
        for side, value in (("L", left), ("R", right)):
            if value > 0:
                morphs[f"{kind}_{side}"] = value
    for vowel in MOUTH_VOWELS:
        value = float(pose[POSE_INDEX[f"mouth_{vowel}"]])
        if value > 0:
            morphs[f"mouth_{vowel}"] = value
    missing = sorted(set(morphs) - have)
    if missing:
        raise ValueError(f"the model has no target morph {missing} needed by this pose")
    return morphs
