"""The expression stage: draws eyes, brows and a mouth onto the neutral source at full resolution,
before the head turns (Talking Head Anime 3's face morpher is the reference design)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from diffusers import ConfigMixin, ModelMixin
from diffusers.configuration_utils import register_to_config
from torch import nn

from .layers import warp
from .modeling import StrictLoadingMixin


@dataclass
class MorpherOutput:
    """image (N, C, H, W): the source with the expression drawn in its crop, in [-1, 1];
    alpha (N, 1, h, w) in [0, 1]: where the crop takes the drawn colour (0: an exact copy of the
    source); colour (N, C, h, w) in [-1, 1]; flow (N, 2, h, w): the small warp of the crop (zero
    without ``warp``); h, w: the crop's size."""

    image: torch.Tensor
    alpha: torch.Tensor
    colour: torch.Tensor
    flow: torch.Tensor


def _block(in_channels: int, out_channels: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1),
        nn.LeakyReLU(0.2),
        nn.Conv2d(out_channels, out_channels, 3, padding=1),
        nn.LeakyReLU(0.2),
    )


class ExpressionMorpher(StrictLoadingMixin, ModelMixin, ConfigMixin):
    """Changes the expression of a framed, neutral character image.

    A U-Net on a crop fixed in the frame's coordinates (``crop_top``, ``crop_left`` and
    ``crop_size`` as fractions of the side: by default rows 96-224 and columns 64-192 of a 256²
    frame, the eyes, brows and an open mouth of a character framed like the training data). The
    ``expression_dim`` expression values are broadcast into the feature maps at the input and at
    the bottleneck (spatial conditioning: every pixel sees them). Its heads give a colour
    change, an alpha and, with ``warp``, a small flow that starts at zero (irises and lips move
    more cheaply than they are redrawn); the crop becomes
    ``alpha * colour + (1 - alpha) * warp(crop, flow)`` and is pasted back, so pixels where
    alpha is 0 and the flow is 0 are exact copies of the source.

    Args:
        in_channels: image channels (RGB).
        expression_dim: expression values (the pose vector's first 17 dims).
        block_out_channels: channels per U-Net level, finest first; each level halves the size.
        crop_top, crop_left, crop_size: the crop, as fractions of the frame's height and width.
        warp: predict the small flow too.
        alpha_start: the alpha before training (a copy of the source, almost).
        downscale: pixel-(un)shuffle factor between the crop and the U-Net's finest level (its
            heads predict ``downscale**2`` values per cell, shuffled to full resolution).
    """

    @register_to_config
    def __init__(
        self,
        in_channels: int = 3,
        expression_dim: int = 17,
        block_out_channels: tuple[int, ...] = (32, 64, 96, 128),
        crop_top: float = 0.375,
        crop_left: float = 0.25,
        crop_size: float = 0.5,
        warp: bool = True,
        alpha_start: float = 0.05,
        downscale: int = 2,
    ) -> None:
        super().__init__()
        channels = list(block_out_channels)
        cells = downscale**2
        self.encoder = nn.ModuleList(
            [_block(in_channels * cells + expression_dim, channels[0])]
            + [_block(a, b, stride=2) for a, b in zip(channels, channels[1:], strict=False)]
        )
        self.bottleneck = _block(channels[-1] + expression_dim, channels[-1])
        self.decoder = nn.ModuleList(
            [_block(b + a, a) for a, b in zip(channels, channels[1:], strict=False)]
        )
        self.colour_head = nn.Conv2d(channels[0], in_channels * cells, 3, padding=1)
        self.alpha_head = nn.Conv2d(channels[0], cells, 3, padding=1)
        self.flow_head = nn.Conv2d(channels[0], 2 * cells, 3, padding=1) if warp else None
        with torch.no_grad():
            self.alpha_head.bias.fill_(torch.logit(torch.tensor(alpha_start)).item())
            if self.flow_head is not None:
                self.flow_head.weight.zero_()
                self.flow_head.bias.zero_()

    @property
    def multiple(self) -> int:
        """The crop's side must be a multiple of this (the U-Net halves it per level)."""
        return self.config.downscale * 2 ** (len(self.config.block_out_channels) - 1)

    def crop_box(self, height: int, width: int) -> tuple[slice, slice]:
        """The crop's rows and columns in a frame of ``height`` x ``width``: its side rounded to
        a multiple of :attr:`multiple`, kept inside the frame. The box depends only on the frame's
        size (Python ints, also when an exporter traces the sizes as tensors), so an exported
        graph has a fixed crop for its fixed frame size."""
        height, width = int(height), int(width)
        config, step = self.config, self.multiple
        rows = max(step, round(height * config.crop_size / step) * step)
        cols = max(step, round(width * config.crop_size / step) * step)
        top = min(round(height * config.crop_top), height - rows)
        left = min(round(width * config.crop_left), width - cols)
        return slice(top, top + rows), slice(left, left + cols)

    def forward(self, image: torch.Tensor, expression: torch.Tensor) -> MorpherOutput:
        """image (N, C, H, W) in [-1, 1], the neutral source (a batch of one is expanded to the
        expressions); expression (N, expression_dim) in [0, 1]. Returns :class:`MorpherOutput`."""
        n = expression.shape[0]
        image = image.expand(n, -1, -1, -1)
        rows, cols = self.crop_box(image.shape[-2], image.shape[-1])
        crop = image[..., rows, cols]
        condition = expression.to(crop.dtype)[:, :, None, None]
        x = F.pixel_unshuffle(crop, self.config.downscale)
        x = torch.cat([x, condition.expand(-1, -1, *x.shape[-2:])], dim=1)
        skips = []
        for level, block in enumerate(self.encoder):
            x = block(x)
            if level < len(self.encoder) - 1:
                skips.append(x)
        x = self.bottleneck(torch.cat([x, condition.expand(-1, -1, *x.shape[-2:])], dim=1))
        for block, skip in zip(reversed(self.decoder), reversed(skips), strict=True):
            x = F.interpolate(x, scale_factor=2.0, mode="nearest")
            x = block(torch.cat([x, skip], dim=1))
        scale = self.config.downscale
        colour = torch.tanh(F.pixel_shuffle(self.colour_head(x), scale))
        alpha = torch.sigmoid(F.pixel_shuffle(self.alpha_head(x), scale))
        if self.flow_head is not None:
            flow = F.pixel_shuffle(self.flow_head(x), scale)
            moved = warp(crop, flow)
        else:
            flow = crop.new_zeros(n, 2, *crop.shape[-2:])
            moved = crop
        drawn = alpha * colour + (1 - alpha) * moved
        top = image[..., : rows.start, :]
        middle = torch.cat(
            [image[..., rows, : cols.start], drawn, image[..., rows, cols.stop :]], dim=-1
        )
        bottom = image[..., rows.stop :, :]
        return MorpherOutput(torch.cat([top, middle, bottom], dim=-2), alpha, colour, flow)
