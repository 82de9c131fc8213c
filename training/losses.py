"""Loss terms that need no downloaded network. Images are (N, 3, H, W) in [-1, 1]."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from pytorch_msssim import ssim

L1_SCALES = (1, 2, 4)


def multiscale_l1(output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean L1 at full, 1/2 and 1/4 resolution (average pooling), averaged over the scales."""
    losses = [
        F.l1_loss(F.avg_pool2d(output, s), F.avg_pool2d(target, s))
        if s > 1
        else F.l1_loss(output, target)
        for s in L1_SCALES
    ]
    return torch.stack(losses).mean()


def ssim_loss(output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """``1 - SSIM`` (Gaussian window 11, sigma 1.5) on images mapped to [0, 1]."""
    return 1 - ssim((output + 1) / 2, (target + 1) / 2, data_range=1.0, size_average=True)


def flow_smoothness(flow: torch.Tensor) -> torch.Tensor:
    """Total variation of a flow field (N, 2, h, w): mean absolute difference of neighbours."""
    dx = (flow[..., :, 1:] - flow[..., :, :-1]).abs().mean()
    dy = (flow[..., 1:, :] - flow[..., :-1, :]).abs().mean()
    return dx + dy


MASK_MATCH = 0.1  # a pixel "matches" when its mean absolute RGB error is below this ([-1, 1] units)


def mask_loss(mask: torch.Tensor, warped: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Binary cross-entropy of the composition mask (N, 1, H, W) against where the warped source
    already matches the target (1) and where it does not (0), so the generated image is used where
    warping cannot explain the target (an eye closing, a mouth opening) instead of the mask
    settling on the warped source everywhere."""
    with torch.no_grad():
        matches = ((warped - target).abs().mean(dim=1, keepdim=True) < MASK_MATCH).float()
    return F.binary_cross_entropy(mask.clamp(1e-4, 1 - 1e-4), matches)
