"""Random pose vectors drawn by the AnimeCeleb sampler (``docs/animeceleb.md``, "Sampling")."""

from __future__ import annotations

import numpy as np
import torch

from animeceleb.pose import TARGET_MORPH_NAMES
from animeceleb.sampling import sample_pairs

from ._checks import positive_int

_SAMPLER_MODEL_ID = "random"  # the sampler's per-model stream: one fixed, fully rigged model


def sample_poses(num_poses: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """Draw ``num_poses`` pose vectors with the AnimeCeleb sampler
    (``animeceleb.sample_pairs``, every target morph available): per part (eye, brow, mouth) one
    target morph at random with a value ~ U(0, 1), and yaw, pitch, roll ~ U(-20°, 20°) (the
    ``rotated`` poses).

    Args:
        num_poses (`int`): a positive integer.
        generator (`torch.Generator`, *optional*): seeds the sampler (one 62-bit seed drawn from
            it); ``None`` draws that seed from torch's global generator, so
            ``torch.manual_seed`` makes it reproducible.

    Returns:
        `torch.Tensor`: (num_poses, 20) float32.
    """
    num_poses = positive_int("num_poses", num_poses)
    seed = int(torch.randint(2**62, (1,), generator=generator))
    samples = sample_pairs(_SAMPLER_MODEL_ID, TARGET_MORPH_NAMES, seed=seed, n_samples=num_poses)
    poses = np.stack([sample.rotated_pose for sample in samples])
    return torch.from_numpy(poses)
