"""Random pose vectors drawn like the AnimeCeleb sampler (DESIGN.md, "Sampling")."""

from __future__ import annotations

import torch

from dataset_builder.pose import ANGLE_LIMIT_DEG, ANGLE_SLICE, PARTS, POSE_DIM, TARGET_MORPHS


def sample_poses(num_poses: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """Draw ``num_poses`` pose vectors: per part (eye, brow, mouth) one target morph at random with
    a value ~ U(0, 1), and yaw, pitch, roll ~ U(-20°, 20°).

    Returns:
        (num_poses, 20) float32.
    """
    if num_poses < 1:
        raise ValueError(f"num_poses: expected a positive count, got {num_poses}")
    poses = torch.zeros(num_poses, POSE_DIM)
    rows = torch.arange(num_poses)
    for part in PARTS:
        morphs = [m for m in TARGET_MORPHS if m.part == part]
        choice = torch.randint(len(morphs), (num_poses,), generator=generator)
        values = torch.rand(num_poses, generator=generator)
        for k, morph in enumerate(morphs):
            for dim in morph.dims:
                poses[rows[choice == k], dim] = values[choice == k]
    angles = (torch.rand(num_poses, 3, generator=generator) * 2 - 1) * ANGLE_LIMIT_DEG
    poses[:, ANGLE_SLICE] = angles
    return poses
