"""Named driving poses for demos: a slider per pose dimension and a few preset expressions, as
AnimeCeleb pose vectors (``animeceleb.pose``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from animeceleb.pose import (
    ANGLE_SLICE,
    POSE_NAMES,
    POSE_RANGES,
    pose_from_morphs,
    validate_pose,
)

# Target-morph values (both-side names fill L and R) of each preset expression.
EXPRESSION_PRESETS: dict[str, dict[str, float]] = {
    "neutral": {},
    "smile": {"eye_happy": 1.0, "mouth_i": 0.5},
    "eyes closed": {"eye_close": 1.0},
    "wink": {"eye_close_L": 1.0, "mouth_i": 0.3},
    "surprised": {"brow_raised": 1.0, "mouth_o": 0.8},
    "angry": {"brow_angry": 1.0, "mouth_e": 0.4},
    "sad": {"brow_troubled": 1.0, "eye_relaxed": 0.5, "mouth_u": 0.3},
    "talking": {"mouth_a": 0.8},
}


@dataclass(frozen=True)
class PoseSlider:
    """One pose dimension as a slider: its name, range and step (degrees for the angles)."""

    name: str
    minimum: float
    maximum: float
    step: float


POSE_SLIDERS: tuple[PoseSlider, ...] = tuple(
    PoseSlider(name, low, high, 1.0 if i >= ANGLE_SLICE.start else 0.05)
    for i, (name, (low, high)) in enumerate(zip(POSE_NAMES, POSE_RANGES, strict=True))
)


def preset_pose(name: str, angles: Sequence[float] = (0.0, 0.0, 0.0)) -> np.ndarray:
    """The (20,) pose of the preset expression ``name`` with (yaw, pitch, roll) ``angles`` in
    degrees; ``ValueError`` naming the known presets for an unknown name."""
    if name not in EXPRESSION_PRESETS:
        raise ValueError(f"unknown preset {name!r}; expected one of {list(EXPRESSION_PRESETS)}")
    return pose_from_morphs(EXPRESSION_PRESETS[name], angles)


def pose_from_sliders(values: Sequence[float]) -> np.ndarray:
    """The (20,) pose of the 20 slider values, in :data:`POSE_SLIDERS` order; ``ValueError``
    naming a value out of its range."""
    return validate_pose(values, what="sliders")
