"""Loss terms that need no downloaded network (the adversarial terms use the discriminator being
trained, the regressor term our own pose regressor). Images are (N, 3, H, W) in [-1, 1]."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from pytorch_msssim import ssim
from torch import nn

from .regressor import load_regressor, resize_for_regressor

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


def discriminator_hinge_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """The discriminator's hinge loss: ``relu(1 - D(real)) + relu(1 + D(fake))``, patch means."""
    return F.relu(1 - real_logits).mean() + F.relu(1 + fake_logits).mean()


def generator_hinge_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    """The generator's side of the hinge GAN: ``-D(fake)``, the patch mean."""
    return -fake_logits.mean()


def feature_matching(
    fake_features: Sequence[torch.Tensor], real_features: Sequence[torch.Tensor]
) -> torch.Tensor:
    """Mean L1 between the discriminator's features of the output and of the target (the target's
    taken as constants), averaged over the layers (pix2pixHD)."""
    losses = [
        F.l1_loss(fake, real.detach())
        for fake, real in zip(fake_features, real_features, strict=True)
    ]
    return torch.stack(losses).mean()


class RegressorFeatureLoss(nn.Module):
    """A perceptual loss from the pose regressor (``training.regressor``): mean L1 between its
    stage features of the output and of the target, averaged over the stages. The regressor was
    trained to read eyes, mouth and head angles on this data, so its features weigh exactly the
    small regions that image losses dilute. Frozen; images are resized to its ``image_size``.

    Args:
        path: a pose regressor folder (``save_pretrained``) or Hub repo id.
    """

    def __init__(self, path: str) -> None:
        super().__init__()
        self.regressor = load_regressor(path).requires_grad_(False)
        self.size = int(self.regressor.config.image_size)

    def train(self, mode: bool = True) -> RegressorFeatureLoss:
        super().train(mode)
        self.regressor.eval()  # frozen batch-norm statistics, whatever the trainer's mode
        return self

    def features(self, images: torch.Tensor) -> tuple[torch.Tensor, ...]:
        images = resize_for_regressor(images, self.size)
        hidden = self.regressor.resnet(images, output_hidden_states=True).hidden_states
        return hidden[1:]  # the four stages (the stem's output is nearly the pixels)

    def forward(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """output, target (N, 3, H, W) in [-1, 1] -> the scalar loss."""
        with torch.no_grad():
            wanted = self.features(target)
        return torch.stack(
            [F.l1_loss(a, b) for a, b in zip(self.features(output), wanted, strict=True)]
        ).mean()
