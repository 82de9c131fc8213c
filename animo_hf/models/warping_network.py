"""The warping network W: an AdaIN hourglass that predicts a flow field at 1/4 resolution."""

from __future__ import annotations

import torch
from diffusers import ConfigMixin, ModelMixin
from diffusers.configuration_utils import register_to_config
from diffusers.loaders.peft import PeftAdapterMixin

from .layers import AdaINDecoder, SourceEncoder, flow_head
from .modeling import StrictLoadingMixin


class WarpingNetwork(StrictLoadingMixin, ModelMixin, ConfigMixin, PeftAdapterMixin):
    """Predicts the flow that moves the source head into the driving pose.

    The hourglass's encoder sees only the source, so its features are computed once per source
    (:meth:`encode_source`); the decoder injects the pose code ``z`` through AdaIN at every level
    (:meth:`forward`). All work happens at 1/4 resolution or below: the image is pixel-unshuffled
    by ``downscale`` before the first convolution, and the flow stays at 1/``downscale``
    (:func:`~animo_hf.models.layers.warp` resizes it bilinearly to what it warps).

    Args:
        in_channels: source image channels (RGB).
        latent_dim: size of the pose code ``z`` (the motion network's ``latent_dim``).
        block_out_channels: channels per level, finest (1/downscale) first; each level halves.
        downscale: the pixel-unshuffle factor; the flow comes out at 1/downscale resolution.
    """

    @register_to_config
    def __init__(
        self,
        in_channels: int = 3,
        latent_dim: int = 256,
        block_out_channels: tuple[int, ...] = (16, 32, 64),
        downscale: int = 4,
    ) -> None:
        super().__init__()
        self.encoder = SourceEncoder(in_channels, tuple(block_out_channels), downscale)
        self.decoder = AdaINDecoder(tuple(block_out_channels), latent_dim)
        self.to_flow = flow_head(block_out_channels[0])

    def encode_source(self, source: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """Args: source (N, in_channels, H, W) in [-1, 1], H and W divisible by
        ``downscale * 2**(levels - 1)``. Returns the encoder's multi-scale features."""
        return self.encoder(source)

    def forward(self, source_features: tuple[torch.Tensor, ...], z: torch.Tensor) -> torch.Tensor:
        """Args: source_features from :meth:`encode_source` (batch 1 or N), z (N, latent_dim).

        Returns:
            flow (N, 2, H / downscale, W / downscale): sampling offsets (x, y) in normalised
            coordinates, for :func:`animo_hf.models.layers.warp`.
        """
        features = tuple(f.expand(z.shape[0], -1, -1, -1) for f in source_features)
        return self.to_flow(self.decoder(features, z))
