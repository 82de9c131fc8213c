"""What a model's morphs move in the image: plain data measured in a Blender worker (no bpy).

Image coordinates: x to the image's right, y down, both in image widths (0..1 over the framed
image). The character's left is the image's right in the frontal view.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

MIN_MOTION = 1e-4  # displacements below this (image widths) count as not moving


@dataclass
class MorphMotion:
    """One source morph at 1 against neutral: the image positions (rest) of the vertices it moves
    and their displacements, both (N, 2)."""

    name: str
    rest: np.ndarray
    delta: np.ndarray

    @property
    def size(self) -> np.ndarray:
        """Each moved vertex's displacement length."""
        return np.linalg.norm(self.delta, axis=1)


@dataclass
class ModelMotion:
    """Every source morph of one model, its eye bones' image positions ("L", "R") if any, and
    the names of the morphs that are the format's expression presets (VRM)."""

    model_id: str
    morphs: list[MorphMotion]
    eye_bones: dict[str, tuple[float, float]] = field(default_factory=dict)
    presets: frozenset[str] = frozenset()
