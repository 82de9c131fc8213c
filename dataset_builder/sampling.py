"""The images to render per model: the neutral ``basis``, then each sample of the AnimeCeleb
sampler (``animeceleb.sampling``) as a ``frontal`` and a ``rotated`` item sharing a ``pair_id``."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from animeceleb.pose import pose_from_morphs
from animeceleb.sampling import NO_ANGLES, sample_pairs


@dataclass(frozen=True)
class RenderItem:
    """One image to render: the target-morph values, the head angles and the resulting pose."""

    group: str
    pair_id: str
    morphs: dict[str, float]
    angles: tuple[float, float, float]

    @property
    def pose(self) -> np.ndarray:
        return pose_from_morphs(self.morphs, self.angles)


def basis_pair_id(model_id: str) -> str:
    """The pair id of a model's neutral basis image."""
    return f"{model_id}-basis"


def render_items(
    model_id: str,
    available_targets: Iterable[str],
    *,
    seed: int = 0,
    n_samples: int | None = None,
) -> list[RenderItem]:
    """``basis``, then a ``frontal``/``rotated`` pair per sample (arguments as ``sample_pairs``)."""
    items = [RenderItem("basis", basis_pair_id(model_id), {}, NO_ANGLES)]
    for sample in sample_pairs(model_id, available_targets, seed=seed, n_samples=n_samples):
        items.append(RenderItem("frontal", sample.pair_id, sample.morphs, NO_ANGLES))
        items.append(RenderItem("rotated", sample.pair_id, sample.morphs, sample.angles))
    return items
