"""AniMo's loss terms and their weighted sum (:func:`compute_losses`), none of which needs a
downloaded network (the adversarial terms use the discriminator being trained, the regressor term
our own pose regressor). Images are (N, 3, H, W) in [-1, 1]."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from pytorch_msssim import ssim
from torch import nn

from animeceleb.pose import EXPRESSION_DIM
from animeceleb.regions import CHANGED_DILATION, MASK_MATCH
from animo_hf.models.layers import warp

from ..regressor.modeling_regressor import load_regressor, normalize_poses, resize_for_regressor
from .configuration_animo import LossWeights
from .discriminator import PatchDiscriminator
from .modeling_animo import Prediction

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


@torch.no_grad()
def changed_region(reference: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Where ``reference`` does not explain ``target`` (N, 3, H, W) in [-1, 1]: 1 where their mean
    absolute RGB error is above ``MASK_MATCH``, dilated by ``CHANGED_DILATION``; (N, 1, H, W)."""
    mismatch = ((reference - target).abs().mean(dim=1, keepdim=True) > MASK_MATCH).float()
    return F.max_pool2d(mismatch, CHANGED_DILATION, stride=1, padding=CHANGED_DILATION // 2)


def changed_l1(output: torch.Tensor, target: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
    """L1 between ``output`` and ``target`` averaged only over the batch's pixels ``reference``
    does not explain (mean absolute RGB error above ``MASK_MATCH``, dilated by
    ``CHANGED_DILATION``): with the warped source as the reference, a closing eye or an opening
    mouth weighs as much as the whole image does in the plain L1, whatever its area. Zero when
    the reference explains every pixel."""
    changed = changed_region(reference, target)
    error = (output - target).abs().mean(dim=1, keepdim=True) * changed
    return error.sum() / changed.sum().clamp(min=1.0)


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
    """The expression loss from the frozen pose regressor (``training.regressor``): L1 between
    the expression it reads from the output and the target's pose label (dims 0-16), which asks
    for the expression itself, not only for pixels like it. Images are resized to its
    ``image_size``.

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

    def forward(self, output: torch.Tensor, target_pose: torch.Tensor) -> torch.Tensor:
        """output (N, 3, H, W) in [-1, 1], target_pose (N, 20) -> the expression L1."""
        pose = self.regressor(resize_for_regressor(output, self.size)).logits
        wanted = normalize_poses(target_pose.to(pose.dtype), self.regressor)
        return F.l1_loss(pose[:, :EXPRESSION_DIM], wanted[:, :EXPRESSION_DIM])


def judged_images(
    prediction: Prediction, weights: LossWeights
) -> dict[str, tuple[torch.Tensor, float]]:
    """The images the discriminator judges, by loss-term prefix, with the scale of their terms:
    the output and, with ``loss.generated_adversarial``, AniMo's generated image."""
    judged = {"image": (prediction.image, 1.0)}
    if prediction.generated is not None and weights.generated_adversarial:
        judged["generated"] = (prediction.generated, weights.generated_adversarial)
    return judged


def compute_losses(
    prediction: Prediction,
    batch: dict[str, torch.Tensor],
    weights: LossWeights,
    discriminator: PatchDiscriminator | None = None,
    regressor: RegressorLoss | None = None,
) -> dict[str, torch.Tensor]:
    """Named loss terms and their weighted ``total``. The warped source is compared with the
    target always, the output too once the whole model trains, and (with ``loss.generated``)
    AniMo's generated image before the mask, so the generator learns wherever the mask rests.
    Once the whole model trains, the output also meets the ``discriminator`` (its weights are
    not updated here) and the pose regressor's expression loss when they are given; the
    regressor's also meets the generated image (scaled by ``loss.generated``), whose gradient
    the mask would otherwise block wherever it rests on the warped source; so do the
    discriminator's terms, scaled by ``loss.generated_adversarial``."""
    outputs = {"warp": (prediction.warped, 1.0)}
    if prediction.image is not None:
        outputs["image"] = (prediction.image, 1.0)
    if prediction.generated is not None and weights.generated:
        outputs["generated"] = (prediction.generated, weights.generated)
    terms: dict[str, torch.Tensor] = {}
    weighted = []

    def add(name: str, weight: float, value: torch.Tensor) -> None:
        terms[name] = value
        weighted.append(weight * value)

    target = batch["target"]
    for prefix, (output, scale) in outputs.items():
        add(f"{prefix}_l1", scale * weights.l1, multiscale_l1(output, target))
        if weights.ssim:
            add(f"{prefix}_ssim", scale * weights.ssim, ssim_loss(output, target))
        if weights.changed and prefix != "warp":
            changed = changed_l1(output, target, prediction.warped.detach())
            add(f"{prefix}_changed", scale * weights.changed, changed)
    if weights.flow_smoothness:
        add("flow_smoothness", weights.flow_smoothness, flow_smoothness(prediction.flow))
    if weights.alpha:
        warped_alpha = warp(batch["source_alpha"], prediction.flow)
        add("alpha", weights.alpha, (warped_alpha - batch["target_alpha"]).abs().mean())
    for prefix, (output, scale) in outputs.items():
        if prefix != "warp" and regressor is not None:
            name = "regressor_expression" if prefix == "image" else f"{prefix}_regressor_expression"
            add(name, scale * weights.regressor_expression, regressor(output, batch["pose"]))
    if prediction.image is not None and discriminator is not None:
        real_features = None
        if weights.feature_matching:
            with torch.no_grad():
                _, real_features = discriminator(target, batch["pose"])
        for prefix, (output, scale) in judged_images(prediction, weights).items():
            name = "" if prefix == "image" else f"{prefix}_"
            fake_logits, fake_features = discriminator(output, batch["pose"])
            if weights.adversarial:
                adversarial = generator_hinge_loss(fake_logits)
                add(f"{name}adversarial", scale * weights.adversarial, adversarial)
            if real_features is not None:
                matching = feature_matching(fake_features, real_features)
                add(f"{name}feature_matching", scale * weights.feature_matching, matching)
    terms["total"] = torch.stack(weighted).sum()
    return terms


def morpher_losses(
    prediction: Prediction,
    batch: dict[str, torch.Tensor],
    weights: LossWeights,
    box: tuple[slice, slice],
) -> dict[str, torch.Tensor]:
    """The expression stage's terms on its own output (``prediction.morphed``) and their
    weighted ``total``: the image terms of :func:`compute_losses` (``l1``, ``ssim``), L1 over
    only the pixels where the target differs from the source (``morpher_changed``: its
    expression, a few percent of the frame), and the binary cross-entropy of its alpha against
    those pixels in its crop ``box`` (``morpher_alpha``: without it an L1-trained alpha settles
    at 0, copying the source)."""
    output, target, source = prediction.image, batch["target"], batch["source"]
    terms = {"morpher_l1": multiscale_l1(output, target)}
    weighted = [weights.l1 * terms["morpher_l1"]]
    if weights.ssim:
        terms["morpher_ssim"] = ssim_loss(output, target)
        weighted.append(weights.ssim * terms["morpher_ssim"])
    if weights.morpher_changed:
        terms["morpher_changed"] = changed_l1(output, target, source)
        weighted.append(weights.morpher_changed * terms["morpher_changed"])
    if weights.morpher_alpha:
        rows, cols = box
        changed = changed_region(source[..., rows, cols], target[..., rows, cols])
        alpha = prediction.morphed.alpha.float().clamp(1e-4, 1 - 1e-4)
        terms["morpher_alpha"] = F.binary_cross_entropy(alpha, changed)
        weighted.append(weights.morpher_alpha * terms["morpher_alpha"])
    terms["total"] = torch.stack(weighted).sum()
    return terms
