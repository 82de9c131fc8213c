"""Small building blocks shared by the AniMo and PIRenderer networks."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class AdaIN(nn.Module):
    """Adaptive instance normalisation: ``norm(x) * (1 + gamma(z)) + beta(z)``.

    Shapes: ``x`` (N, C, H, W), ``z`` (N, latent_dim) → (N, C, H, W).
    """

    def __init__(self, channels: int, latent_dim: int) -> None:
        super().__init__()
        self.norm = nn.InstanceNorm2d(channels, affine=False)
        self.affine = nn.Linear(latent_dim, 2 * channels)

    def forward(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        gamma, beta = self.affine(z)[:, :, None, None].chunk(2, dim=1)
        return self.norm(x) * (1 + gamma) + beta


class AdaINResBlock(nn.Module):
    """``x + conv(act(AdaIN(conv(act(AdaIN(x, z))), z)))``; shapes (N, C, H, W) → (N, C, H, W)."""

    def __init__(self, channels: int, latent_dim: int) -> None:
        super().__init__()
        self.norm1 = AdaIN(channels, latent_dim)
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1)
        self.norm2 = AdaIN(channels, latent_dim)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.leaky_relu(self.norm1(x, z), 0.2))
        h = self.conv2(F.leaky_relu(self.norm2(h, z), 0.2))
        return x + h


class SourceEncoder(nn.Module):
    """Pose-independent image encoder working at low resolution.

    The image is pixel-unshuffled by ``downscale`` first (no pixel is dropped; the spatial size
    shrinks by ``downscale`` at once), then each level halves the size again.

    Shapes: (N, in_channels, H, W) → a tuple of ``len(block_out_channels)`` maps, level ``k`` being
    (N, block_out_channels[k], H / (downscale * 2**k), W / (downscale * 2**k)).
    """

    def __init__(self, in_channels: int, block_out_channels: tuple[int, ...], downscale: int):
        super().__init__()
        self.stem = nn.Sequential(
            nn.PixelUnshuffle(downscale),
            nn.Conv2d(in_channels * downscale**2, block_out_channels[0], 3, padding=1),
            nn.LeakyReLU(0.2),
        )
        self.down = nn.ModuleList(
            nn.Sequential(nn.Conv2d(c_in, c_out, 4, stride=2, padding=1), nn.LeakyReLU(0.2))
            for c_in, c_out in zip(block_out_channels[:-1], block_out_channels[1:], strict=True)
        )

    def forward(self, image: torch.Tensor) -> tuple[torch.Tensor, ...]:
        features = [self.stem(image)]
        for block in self.down:
            features.append(block(features[-1]))
        return tuple(features)


class AdaINDecoder(nn.Module):
    """U-Net style decoder: coarsest level to finest, ``layers_per_block`` AdaIN residual blocks
    per level.

    Shapes: ``features`` as produced by :class:`SourceEncoder` (finest first), ``z``
    (N, latent_dim) → (N, block_out_channels[0], H0, W0), the finest level's size.
    """

    def __init__(
        self, block_out_channels: tuple[int, ...], latent_dim: int, layers_per_block: int = 1
    ) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(AdaINResBlock(c, latent_dim) for c in block_out_channels)
        # the blocks after each level's first: a separate list, so that one block per level keeps
        # the weight names of the checkpoints that shipped before this option
        self.more_blocks = nn.ModuleList(
            nn.ModuleList(AdaINResBlock(c, latent_dim) for _ in range(layers_per_block - 1))
            for c in block_out_channels
        )
        self.up = nn.ModuleList(
            nn.Conv2d(c_in, c_out, 3, padding=1)
            for c_out, c_in in zip(block_out_channels[:-1], block_out_channels[1:], strict=True)
        )

    def level(self, index: int, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        x = self.blocks[index](x, z)
        for block in self.more_blocks[index]:
            x = block(x, z)
        return x

    def forward(self, features: tuple[torch.Tensor, ...], z: torch.Tensor) -> torch.Tensor:
        x = self.level(len(features) - 1, features[-1], z)
        for level in range(len(features) - 2, -1, -1):
            x = F.leaky_relu(self.up[level](x), 0.2)  # convolve before upsampling: 4x cheaper
            x = F.interpolate(x, scale_factor=2.0, mode="nearest") + features[level]
            x = self.level(level, x, z)
        return x


def flow_head(channels: int) -> nn.Conv2d:
    """Decoder features (N, channels, h, w) → flow (N, 2, h, w), initialised close to the
    identity warp (small weights, zero bias)."""
    head = nn.Conv2d(channels, 2, 3, padding=1)
    with torch.no_grad():
        head.weight.mul_(0.01)
        head.bias.zero_()
    return head


def image_head(channels: int, out_channels: int, downscale: int) -> nn.Sequential:
    """Decoder features (N, channels, h, w) → image (N, out_channels, h * downscale,
    w * downscale) in [-1, 1] (conv, pixel shuffle, tanh)."""
    return nn.Sequential(
        nn.Conv2d(channels, out_channels * downscale**2, 3, padding=1),
        nn.PixelShuffle(downscale),
        nn.Tanh(),
    )


WARP_INTERPOLATIONS = ("bilinear", "bicubic")


def warp(features: torch.Tensor, flow: torch.Tensor, mode: str = "bilinear") -> torch.Tensor:
    """Backward-warp ``features`` with ``flow`` (``grid_sample``, border padding).

    Args:
        features: (N, C, H, W).
        flow: (N, 2, h, w) sampling offsets (x, y) in normalised coordinates ([-1, 1] spans the
            image), at any resolution; resized bilinearly to (H, W) when it differs.
        mode: ``"bilinear"`` or ``"bicubic"`` sampling (bicubic keeps more of the detail a
            sub-pixel shift blurs, and may overshoot the input's range a little).

    Returns:
        (N, C, H, W): ``out[p] = features[p + flow[p]]``.
    """
    if flow.shape[-2:] != features.shape[-2:]:
        flow = F.interpolate(flow, size=features.shape[-2:], mode="bilinear", align_corners=False)
    n, _, h, w = features.shape
    ys = torch.linspace(-1 + 1 / h, 1 - 1 / h, h, device=flow.device, dtype=flow.dtype)
    xs = torch.linspace(-1 + 1 / w, 1 - 1 / w, w, device=flow.device, dtype=flow.dtype)
    base = torch.stack(torch.meshgrid(xs, ys, indexing="xy"), dim=-1)
    grid = base.unsqueeze(0) + flow.permute(0, 2, 3, 1)
    return F.grid_sample(features, grid, mode=mode, padding_mode="border", align_corners=False)
