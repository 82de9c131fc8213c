"""The editing network G: source encoder, flow-warped features, AdaIN residual decoder, and (by
default) a mask that composes the output from the warped source and the generated image."""

from __future__ import annotations

import math

import torch
from diffusers import ConfigMixin, ModelMixin
from diffusers.configuration_utils import register_to_config
from diffusers.loaders.peft import PeftAdapterMixin
from torch import nn

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

    With ``source_skip`` the warped source image itself, pixel-unshuffled to the finest level,
    reaches the head through a 1x1 convolution (run with the fixed gain ``SKIP_GAIN``) added
    before the pixel shuffle: features warped at 1/``downscale`` hardly place detail more finely
    than one cell, so the generated image is soft wherever the mask uses it; with the skip the
    generator can copy the aligned detail and draw only the change. The skip starts at zero, so
    adding it to trained weights (``training`` ``init_weights``) leaves their output unchanged.

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
        source_skip: feed the warped source image to the head (see above).
    """

    MASK_START = 0.5  # the mask's value before training: neither side saturated
    # The source skip's 1x1 conv runs with this fixed gain (its stored weights are the effective
    # ones divided by it): Adam moves a weight by about the learning rate per step, so at 1e-4 a
    # zero-initialised copy could reach only 0.06 in 600 fine-tuning steps (measured: 0.027),
    # far from the gain of about 1 that copying detail needs; with it, about 200 steps.
    SKIP_GAIN = 50.0

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
        source_skip: bool = False,
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
        self.source_skip_head = None
        if source_skip:
            skip = nn.Conv2d(in_channels * downscale**2, self.to_image[0].out_channels, 1)
            nn.init.zeros_(skip.weight)
            nn.init.zeros_(skip.bias)
            self.source_skip_head = nn.Sequential(nn.PixelUnshuffle(downscale), skip)

    def encode_source(self, source: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """Args: source (N, in_channels, H, W) in [-1, 1]. Returns multi-scale features, level k
        (N, block_out_channels[k], H / (downscale * 2**k), W / (downscale * 2**k))."""
        return self.encoder(source)

    def decode(
        self,
        source_features: tuple[torch.Tensor, ...],
        flow: torch.Tensor,
        z: torch.Tensor,
        warped_source: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The generated image (N, out_channels, H, W) in [-1, 1] and, with ``composite``, the
        mask (N, 1, H, W) in [0, 1] (else ``None``). Arguments as :meth:`forward`;
        ``warped_source`` (N, in_channels, H, W) from :meth:`warp_source`, needed with
        ``source_skip``."""
        n = z.shape[0]
        warped = tuple(warp(f.expand(n, -1, -1, -1), flow) for f in source_features)
        conv, *shuffle_and_tanh = self.to_image
        head = conv(self.decoder(warped, z))
        if self.source_skip_head is not None:
            if warped_source is None:
                raise ValueError("warped_source: needed when source_skip is set")
            head = head + self.SKIP_GAIN * self.source_skip_head(warped_source)
        for layer in shuffle_and_tanh:
            head = layer(head)
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
        [-1, 1]: the source image, needed when ``composite`` or ``source_skip``.

        Returns:
            (N, out_channels, H, W) image in [-1, 1]: with ``composite``,
            ``mask * warp(source, flow) + (1 - mask) * generated``.
        """
        needs_source = self.config.composite or self.source_skip_head is not None
        if needs_source and source is None:
            raise ValueError(
                "source: the source image is needed when composite or source_skip is set"
            )
        warped = (
            self.warp_source(source.expand(z.shape[0], -1, -1, -1), flow) if needs_source else None
        )
        generated, mask = self.decode(source_features, flow, z, warped)
        if mask is None:
            return generated
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
