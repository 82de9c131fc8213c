"""Blender's true render of poses a held-out procedural character was never rendered in (a
person's poses driving it), so that driven outputs can be scored against the truth and not
only through the pose regressor. Blender runs in a worker process (``dataset_builder.worker``);
needs the ``render`` extra."""

from __future__ import annotations

import numpy as np
import torch

from dataset_builder.sources import ModelSource

from .data import decode_rgba, network_input

# A re-render of a pose the dataset holds must match the dataset's image this closely (mean
# absolute difference in [0, 1] units): Cycles is seeded, so it differs only by float noise.
REPRODUCED = 0.01


def evenly_spaced(poses: torch.Tensor, count: int) -> torch.Tensor:
    """``count`` poses of (N, 20) ``poses`` spread evenly from the first to the last."""
    picks = np.unique(np.linspace(0, len(poses) - 1, min(count, len(poses))).round().astype(int))
    return poses[torch.from_numpy(picks)]


def render_truth(
    source: ModelSource,
    style: str,
    poses: torch.Tensor,
    resolution: int,
    known_pose: torch.Tensor,
    known_image: torch.Tensor,
    blender_log: str | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Blender's renders of ``poses`` (K, 20) as far as the character can show them: the poses
    shown (K, 20; the expression dims it has no morph for dropped, ``showable_pose``) and the
    renders as network input (K, 3, H, W) in [-1, 1].

    ``known_pose`` (20,) and ``known_image`` (3, H, W) are one example of the dataset: the pose
    is rendered first and must reproduce the image (``ValueError`` otherwise: the build used
    other settings, and its characters' truth cannot be made here). Blender's own output goes
    to ``blender_log`` when given."""
    from dataset_builder.worker import run_in_blender

    wanted = torch.cat([known_pose[None], poses]).tolist()
    shown, pngs = run_in_blender(
        "render_showable_poses", source, wanted, style, resolution, blender_log=blender_log
    )
    images, _ = network_input(torch.stack([decode_rgba(png, resolution) for png in pngs]))
    difference = float((images[0] - known_image).abs().mean()) / 2
    if difference > REPRODUCED:
        raise ValueError(
            f"{source.model_id} ({style}): re-rendering one of its dataset poses differs from the "
            f"dataset's image by {difference:.3f} (expected <= {REPRODUCED}): the build used "
            "other render settings, so its true renders cannot be made here"
        )
    return torch.tensor(shown[1:], dtype=poses.dtype), images[1:]
