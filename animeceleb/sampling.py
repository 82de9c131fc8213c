"""Pose sampling and the identity split of AnimeCeleb (the paper's data-sampling section).

Per model: a neutral basis; then per sample, for each part (eye, brow, mouth) one of the model's
available target morphs at a value ~ U(0, 1), and yaw, pitch, roll ~ U(-20°, 20°). Each sample is
rendered twice, ``frontal`` (angles 0) and ``rotated`` (the drawn angles), sharing a ``pair_id``.
100 samples when a model has more than 5 annotated target morphs, else 20. Everything is a pure
function of (seed, model id, available targets), so the same settings give the same poses.

This module imports only the standard library and numpy.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from .pose import ANGLE_LIMIT_DEG, PARTS, TARGET_MORPH_BY_NAME, pose_from_morphs

GROUPS = ("basis", "frontal", "rotated")
SPLITS = ("train", "test")
TEST_FRACTION = 0.08
RICH_MODEL_SAMPLES = 100
POOR_MODEL_SAMPLES = 20
RICH_MODEL_MIN_TARGETS = 6  # "more than five annotated target morphs"
NO_ANGLES = (0.0, 0.0, 0.0)


@dataclass(frozen=True)
class PoseSample:
    """One sample: target-morph values and the head angles of its ``rotated`` image (degrees)."""

    pair_id: str
    morphs: dict[str, float]
    angles: tuple[float, float, float]

    @property
    def frontal_pose(self) -> np.ndarray:
        """(20,) float32: the expression with angles 0."""
        return pose_from_morphs(self.morphs, NO_ANGLES)

    @property
    def rotated_pose(self) -> np.ndarray:
        """(20,) float32: the expression with the drawn angles."""
        return pose_from_morphs(self.morphs, self.angles)


def stable_hash(text: str) -> int:
    """A 64-bit hash of ``text`` that is the same in every process and Python version."""
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "big")


def identity_split(model_id: str) -> str:
    """Train/test split by identity: a stable hash of the model id, test ≈ 8%."""
    return "test" if stable_hash(model_id) % 10_000 < TEST_FRACTION * 10_000 else "train"


def samples_for(n_targets: int) -> int:
    """The paper's samples per model: 100, or 20 for models with at most 5 target morphs."""
    return RICH_MODEL_SAMPLES if n_targets >= RICH_MODEL_MIN_TARGETS else POOR_MODEL_SAMPLES


def sample_pairs(
    model_id: str,
    available_targets: Iterable[str],
    *,
    seed: int = 0,
    n_samples: int | None = None,
) -> list[PoseSample]:
    """The samples of one model, in order (the basis is not a sample: it is the neutral pose).

    Args:
        model_id: the model's id (part of the random stream, so models differ).
        available_targets: the target morphs the model has (after annotation).
        seed: the build seed.
        n_samples: samples per model; ``None`` uses the paper's rule (:func:`samples_for`).
    """
    available = sorted(set(available_targets))
    unknown = [name for name in available if name not in TARGET_MORPH_BY_NAME]
    if unknown:
        raise ValueError(f"{model_id}: unknown target morphs {unknown}")
    by_part = {
        part: [n for n in available if TARGET_MORPH_BY_NAME[n].part == part] for part in PARTS
    }
    n = samples_for(len(available)) if n_samples is None else n_samples
    if n < 0:
        raise ValueError(f"samples per model must be >= 0, got {n}")

    rng = np.random.default_rng([seed, stable_hash(model_id)])
    samples = []
    for index in range(n):
        morphs = {}
        for part in PARTS:
            if by_part[part]:
                name = by_part[part][int(rng.integers(len(by_part[part])))]
                morphs[name] = round(float(rng.uniform(0.0, 1.0)), 4)
        angles = rng.uniform(-ANGLE_LIMIT_DEG, ANGLE_LIMIT_DEG, size=3).round(3)
        samples.append(
            PoseSample(f"{model_id}-{index:04d}", morphs, tuple(float(a) for a in angles))
        )
    return samples
