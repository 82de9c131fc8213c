"""The motion network F: m → z, shared by the anime and the human domain."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from diffusers import ConfigMixin, ModelMixin
from diffusers.configuration_utils import register_to_config
from diffusers.loaders.peft import PeftAdapterMixin
from torch import nn

from .._checks import check_batch
from ..motion_space import MOTION_DIM
from .modeling import StrictLoadingMixin


class ResidualMLPBlock(nn.Module):
    """``x + Linear(act(Linear(act(x))))``; shapes (N, D) → (N, D)."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, dim)
        self.fc2 = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.fc2(F.leaky_relu(self.fc1(F.leaky_relu(x, 0.2)), 0.2))


class MotionNetwork(StrictLoadingMixin, ModelMixin, ConfigMixin, PeftAdapterMixin):
    """Maps a motion vector to the latent pose code that drives every AdaIN layer.

    Args:
        motion_dim: size of ``m`` (58: 52 blendshapes, 3 angles, 3 translation values).
        latent_dim: size of ``z``.
        num_blocks: number of residual MLP blocks after the input projection.
    """

    @register_to_config
    def __init__(
        self, motion_dim: int = MOTION_DIM, latent_dim: int = 256, num_blocks: int = 3
    ) -> None:
        super().__init__()
        self.proj = nn.Linear(motion_dim, latent_dim)
        self.blocks = nn.Sequential(*(ResidualMLPBlock(latent_dim) for _ in range(num_blocks)))

    def forward(self, motion: torch.Tensor) -> torch.Tensor:
        """Args: motion (N, motion_dim). Returns: z (N, latent_dim)."""
        check_batch("motion", motion, self.config.motion_dim)
        return self.blocks(self.proj(motion))
