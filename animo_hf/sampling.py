"""Random pose vectors drawn by the AnimeCeleb dataset sampler (DESIGN.md, "Sampling")."""

from __future__ import annotations

import numpy as np
import torch

from dataset_builder.pose import TARGET_MORPH_NAMES
from dataset_builder.sampling import sample_items

from ._checks import positive_int

_SAMPLER_MODEL_ID = "random"  # the sampler's per-model stream: one fixed, fully rigged model


def sample_poses(num_poses: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """Draw ``num_poses`` pose vectors with the dataset sampler
    (``dataset_builder.sampling.sample_items``, every target morph available): per part (eye,
    brow, mouth) one target morph at random with a value ~ U(0, 1), and yaw, pitch, roll
    ~ U(-20°, 20°) (the ``rotated`` items).

    Args:
        num_poses: a positive integer.
        generator: seeds the sampler (one 62-bit seed drawn from it); ``None`` draws that seed
            from torch's global generator, so ``torch.manual_seed`` makes it reproducible.

    Returns:
        (num_poses, 20) float32.
    """
    num_poses = positive_int("num_poses", num_poses)
    seed = int(torch.randint(2**62, (1,), generator=generator))
    items = sample_items(_SAMPLER_MODEL_ID, TARGET_MORPH_NAMES, seed=seed, n_samples=num_poses)
    poses = np.stack([item.pose for item in items if item.group == "rotated"])
    return torch.from_numpy(poses.astype(np.float32))
