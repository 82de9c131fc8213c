"""A small pose-conditioned patch discriminator (PatchGAN with a projection head) for the optional
adversarial and feature-matching losses. Used in training only; never shipped."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from animeceleb.pose import POSE_DIM, POSE_SCALE


class PatchDiscriminator(nn.Module):
    """Scores each patch of an image as a real render of the given pose.

    ``len(channels)`` stride-2 convolutions (4x4, spectral norm, leaky ReLU) and a 3x3 convolution
    to one logit per patch, plus a projection term ``<embed(pose), features>`` per patch (Miyato &
    Koyama, 2018), so an open eye under a "closed eye" pose is what it learns to catch, not only
    blur. At 128² with the default channels each logit sees a ~46-pixel patch.

    Args:
        channels: output channels of each stride-2 convolution.
        pose_dim: size of the conditioning pose vector.
    """

    def __init__(self, channels: tuple[int, ...] = (32, 64, 128), pose_dim: int = POSE_DIM):
        super().__init__()
        widths = (3, *channels)
        self.blocks = nn.ModuleList(
            nn.Sequential(
                spectral_norm(nn.Conv2d(c_in, c_out, 4, stride=2, padding=1)),
                nn.LeakyReLU(0.2),
            )
            for c_in, c_out in zip(widths[:-1], widths[1:], strict=True)
        )
        self.to_logit = spectral_norm(nn.Conv2d(channels[-1], 1, 3, padding=1))
        self.embed_pose = spectral_norm(nn.Linear(pose_dim, channels[-1], bias=False))
        self.register_buffer("pose_scale", torch.tensor(POSE_SCALE[:pose_dim]), persistent=False)

    def forward(
        self, image: torch.Tensor, pose: torch.Tensor
    ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Args: image (N, 3, H, W) in [-1, 1], pose (N, pose_dim) in pose units.

        Returns:
            logits (N, 1, H / 2**k, W / 2**k) for k = len(channels), and the features of each
            block (for the feature-matching loss).
        """
        features = []
        x = image
        for block in self.blocks:
            x = block(x)
            features.append(x)
        embedded = self.embed_pose(pose / self.pose_scale)  # every dim in [-1, 1]
        projection = (embedded[:, :, None, None] * x).sum(dim=1, keepdim=True)
        return self.to_logit(x) + projection, features
