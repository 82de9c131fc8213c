"""The editing network G: source encoder, flow-warped features, AdaIN residual decoder, and (by
default) a mask that composes the output from the warped source and the generated image."""

from __future__ import annotations

import math

import torch
from diffusers import ConfigMixin, ModelMixin
from diffusers.configuration_utils import register_to_config
from diffusers.loaders.peft import PeftAdapterMixin

from .layers import WARP_INTERPOLATIONS, AdaINDecoder, SourceEncoder, image_head, warp
from .modeling import StrictLoadingMixin


class EditingNetwork(StrictLoadingMixin, ModelMixin, ConfigMixin, PeftAdapterMixin):
    """Renders the driven image from the source's warped features and the pose code.

    The source is encoded once (:meth:`encode_source`); per frame (:meth:`forward`) every
    encoder level is warped with the flow (resized to that level) and decoded with AdaIN residual
    blocks. The finest level is 1/``downscale`` of the image; the output is produced there with
    ``out_channels * downscale**2`` channels and pixel-shuffled to full resolution, then ``tanh``.

    With ``composite`` (the default) the head also predicts a mask ``M`` in [0, 1], and the output
    is ``M * warp(source, flow) + (1 - M) * generated``: what only moves is copied from the source
    at full resolution (sharp), what changes is generated (as in FOMM and LivePortrait).

    Args:
        in_channels: source image channels (RGB).
        out_channels: output image channels (RGB).
        latent_dim: size of the pose code ``z``.
        block_out_channels: channels per level, finest first; each level halves the size.
        layers_per_block: AdaIN residual blocks per decoder level.
        downscale: pixel-(un)shuffle factor between the image and the finest level.
        composite: predict a mask and compose the output from the warped source image.
        sample_size: the image size the weights were trained at (the pipeline's default frame
            size); the networks run at any multiple of 16.
        warp_interpolation: how the source image is sampled where the flow moves it
            (``"bilinear"`` or ``"bicubic"``; the features are always sampled bilinearly).
            Not part of the architecture: weights may be fine-tuned or run with the other one
            (``EditingNetwork.from_pretrained(..., warp_interpolation="bicubic")``).
    """

    MASK_START = 0.5  # the mask's value before training: neither side saturated

    @register_to_config
    def __init__(
        self,
        in_channels: int = 3,
        out_channels: int = 3,
        latent_dim: int = 256,
        block_out_channels: tuple[int, ...] = (32, 64, 96),
        layers_per_block: int = 1,
        downscale: int = 4,
        composite: bool = True,
        sample_size: int = 256,
        warp_interpolation: str = "bilinear",
    ) -> None:
        super().__init__()
        if warp_interpolation not in WARP_INTERPOLATIONS:
            raise ValueError(
                f"warp_interpolation: {warp_interpolation!r}; expected one of {WARP_INTERPOLATIONS}"
            )
        self.encoder = SourceEncoder(in_channels, tuple(block_out_channels), downscale)
        self.decoder = AdaINDecoder(tuple(block_out_channels), latent_dim, layers_per_block)
        self.to_image = image_head(block_out_channels[0], out_channels + composite, downscale)
        if composite:  # the last downscale**2 conv channels become the mask after the shuffle
            with torch.no_grad():
                bias = self.to_image[0].bias
                bias[out_channels * downscale**2 :] = math.atanh(2 * self.MASK_START - 1)

    def encode_source(self, source: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """Args: source (N, in_channels, H, W) in [-1, 1]. Returns multi-scale features, level k
        (N, block_out_channels[k], H / (downscale * 2**k), W / (downscale * 2**k))."""
        return self.encoder(source)

    def decode(
        self, source_features: tuple[torch.Tensor, ...], flow: torch.Tensor, z: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The generated image (N, out_channels, H, W) in [-1, 1] and, with ``composite``, the
        mask (N, 1, H, W) in [0, 1] (else ``None``). Arguments as :meth:`forward`."""
        n = z.shape[0]
        warped = tuple(warp(f.expand(n, -1, -1, -1), flow) for f in source_features)
        head = self.to_image(self.decoder(warped, z))
        if not self.config.composite:
            return head, None
        return head[:, :-1], (head[:, -1:] + 1) / 2

    def forward(
        self,
        source_features: tuple[torch.Tensor, ...],
        flow: torch.Tensor,
        z: torch.Tensor,
        source: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Args: source_features from :meth:`encode_source` (batch 1 or N), flow (N, 2, h, w)
        from the warping network, z (N, latent_dim), source (1 or N, in_channels, H, W) in
        [-1, 1]: the source image, needed when ``composite``.

        Returns:
            (N, out_channels, H, W) image in [-1, 1]: with ``composite``,
            ``mask * warp(source, flow) + (1 - mask) * generated``.
        """
        if self.config.composite and source is None:
            raise ValueError("source: the source image is needed when composite is set")
        generated, mask = self.decode(source_features, flow, z)
        if mask is None:
            return generated
        warped = self.warp_source(source.expand(z.shape[0], -1, -1, -1), flow)
        return self.compose(generated, mask, warped)

    def warp_source(self, source: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
        """The source image (N, C, H, W) warped by ``flow`` (N, 2, h, w), sampled as
        ``warp_interpolation`` says: the warped source the mask composes the output from."""
        return warp(source, flow, mode=self.config.warp_interpolation)

    @staticmethod
    def compose(
        generated: torch.Tensor, mask: torch.Tensor, warped_source: torch.Tensor
    ) -> torch.Tensor:
        """The output: ``mask`` (N, 1, H, W) of ``warped_source``, the rest ``generated``."""
        return mask * warped_source + (1 - mask) * generated
