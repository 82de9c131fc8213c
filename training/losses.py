"""Loss terms that need no downloaded network (the adversarial terms use the discriminator being
trained, the regressor term our own pose regressor). Images are (N, 3, H, W) in [-1, 1]."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from pytorch_msssim import ssim
from torch import nn

from animeceleb.pose import ANGLE_SLICE, EXPRESSION_DIM

from .metrics._common import FACE_CROP, crop_box
from .regressor import load_regressor, normalize_poses, resize_for_regressor

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


def face_crop(images: torch.Tensor) -> torch.Tensor:
    """The central face crop of (N, C, H, W) images, the one the evaluation scores
    (``FACE_CROP`` of each side)."""
    rows, cols = crop_box(images.shape[-2], images.shape[-1], FACE_CROP)
    return images[..., rows, cols]


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


CHANGED_DILATION = 5  # pixels around a mismatch that count as changed too (odd, a max-pool window)


@torch.no_grad()
def changed_region(reference: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Where ``reference`` does not explain ``target`` (N, 3, H, W) in [-1, 1]: 1 where their mean
    absolute RGB error is above ``MASK_MATCH``, dilated by ``CHANGED_DILATION``; (N, 1, H, W)."""
    mismatch = ((reference - target).abs().mean(dim=1, keepdim=True) > MASK_MATCH).float()
    return F.max_pool2d(mismatch, CHANGED_DILATION, stride=1, padding=CHANGED_DILATION // 2)


def changed_l1(
    output: torch.Tensor, target: torch.Tensor, reference: torch.Tensor, per_image: bool = False
) -> torch.Tensor:
    """L1 between ``output`` and ``target`` averaged only over the pixels ``reference`` does not
    explain (mean absolute RGB error above ``MASK_MATCH``, dilated by ``CHANGED_DILATION``): with
    the warped source as the reference, a closing eye or an opening mouth weighs as much as the
    whole image does in the plain L1, whatever its area. Zero when the reference explains every
    pixel.

    The average is over the batch's changed pixels together, or with ``per_image`` over each
    image's own, then over the images: each image weighs the same, however large its changed
    region (a turned head changes about 2.6x the pixels a frontal expression does)."""
    changed = changed_region(reference, target)
    error = (output - target).abs().mean(dim=1, keepdim=True) * changed
    if per_image:
        return (error.sum(dim=(1, 2, 3)) / changed.sum(dim=(1, 2, 3)).clamp(min=1.0)).mean()
    return error.sum() / changed.sum().clamp(min=1.0)


def expression_l1(
    output: torch.Tensor, target: torch.Tensor, source: torch.Tensor, target_pose: torch.Tensor
) -> torch.Tensor:
    """:func:`changed_l1` per image against the unwarped ``source``, over the pairs whose target
    is frontal (head angles 0 in ``target_pose`` (N, 20), as the source's are): the head has not
    moved, so the pixels where the target differs from the source are exactly its expression
    (eyes, brows, an open mouth; a median of 2,200 pixels of 65,536 at 256², against 6,000 the
    warped source misses at edges). Zero when the batch has no frontal pair."""
    frontal = (target_pose[:, ANGLE_SLICE] == 0).all(dim=1)
    if not frontal.any():
        return output.new_zeros(())
    return changed_l1(output[frontal], target[frontal], source[frontal], per_image=True)


def laplacian(images: torch.Tensor) -> torch.Tensor:
    """The 4-neighbour Laplacian of each channel of (N, C, H, W) images, valid region."""
    return (
        images[..., :-2, 1:-1]
        + images[..., 2:, 1:-1]
        + images[..., 1:-1, :-2]
        + images[..., 1:-1, 2:]
        - 4 * images[..., 1:-1, 1:-1]
    )


def edge_l1(output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """L1 between the Laplacians of ``output`` and ``target``: asks for the target's edges and
    fine detail where L1 on the pixels is content with a blur (the evaluation's sharpness is
    the Laplacian's variance)."""
    return F.l1_loss(laplacian(output), laplacian(target))


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


class RegressorLoss(nn.Module):
    """Losses from the frozen pose regressor (``training.regressor``), one pass over the output:

    - ``features``: mean L1 between its stage features of the output and of the target, averaged
      over the stages (a perceptual loss from a network trained to read eyes, mouth and head
      angles on this data, so it weighs the small regions that image losses dilute);
    - ``expression``: L1 between the expression it reads from the output and the target's pose
      label (dims 0-16), which asks for the expression itself, not only for pixels like it;
    - ``head``: L1 between the head angles it reads from the output and the target's (dims
      17-19), normalised as the regressor learnt them (degrees / 20), which asks for the head
      angle the pose drives however the detail terms pull the pixels.

    Images are resized to its ``image_size``.

    Args:
        path: a pose regressor folder (``save_pretrained``) or Hub repo id.
    """

    def __init__(self, path: str) -> None:
        super().__init__()
        self.regressor = load_regressor(path).requires_grad_(False)
        self.size = int(self.regressor.config.image_size)

    def train(self, mode: bool = True) -> RegressorLoss:
        super().train(mode)
        self.regressor.eval()  # frozen batch-norm statistics, whatever the trainer's mode
        return self

    def read(self, images: torch.Tensor) -> tuple[torch.Tensor, tuple[torch.Tensor, ...]]:
        """The normalised pose (N, 20) and the four stage features of ``images``."""
        out = self.regressor(resize_for_regressor(images, self.size), output_hidden_states=True)
        return out.logits, out.hidden_states[1:]  # the stem's output is nearly the pixels

    def forward(
        self,
        output: torch.Tensor,
        target: torch.Tensor,
        target_pose: torch.Tensor,
        *,
        features: bool = True,
    ) -> dict[str, torch.Tensor]:
        """output, target (N, 3, H, W) in [-1, 1], target_pose (N, 20) -> the terms
        ``expression``, ``head`` and (with ``features``) ``features``."""
        pose, output_features = self.read(output)
        wanted_pose = normalize_poses(target_pose.to(pose.dtype), self.regressor)
        terms = {
            "expression": F.l1_loss(pose[:, :EXPRESSION_DIM], wanted_pose[:, :EXPRESSION_DIM]),
            "head": F.l1_loss(pose[:, EXPRESSION_DIM:], wanted_pose[:, EXPRESSION_DIM:]),
        }
        if features:
            with torch.no_grad():
                _, wanted = self.read(target)
            terms["features"] = torch.stack(
                [F.l1_loss(a, b) for a, b in zip(output_features, wanted, strict=True)]
            ).mean()
        return terms
