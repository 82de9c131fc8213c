"""The trained models behind one interface: ``forward(source, pose, full)`` gives the warped source
and the flow (the warping path) and, with ``full``, the generated image; ``save(folder)`` writes
the weights in the Hub layout the pipeline loads."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from animo_hf import (
    AniMoPipeline,
    EditingNetwork,
    MotionNetwork,
    PIRendererGenerator,
    PoseMapping,
    WarpingNetwork,
)
from animo_hf.models.layers import warp


@dataclass
class Prediction:
    """warped (N, 3, H, W): the source warped by the flow; flow (N, 2, h, w); image (N, 3, H, W)
    the output (``None`` on the warping path alone); generated (N, 3, H, W): AniMo's generated
    image before the mask composes it with the warped source (``None`` without a mask); all
    images in [-1, 1]; mask (N, 1, H, W) in [0, 1]: the weight of the warped source in the output
    (``None`` without a mask)."""

    warped: torch.Tensor
    flow: torch.Tensor
    image: torch.Tensor | None
    generated: torch.Tensor | None = None
    mask: torch.Tensor | None = None


class AniMoModel(nn.Module):
    """AniMo's anime-domain path: T (fixed), F, the warping and the editing networks."""

    def __init__(self) -> None:
        super().__init__()
        self.pose_mapping = PoseMapping()
        self.motion_network = MotionNetwork()
        self.warping_network = WarpingNetwork()
        self.editing_network = EditingNetwork()

    def forward(self, source: torch.Tensor, pose: torch.Tensor, full: bool) -> Prediction:
        z = self.motion_network(self.pose_mapping(pose))
        flow = self.warping_network(self.warping_network.encode_source(source), z)
        warped = warp(source, flow)
        if not full:
            return Prediction(warped=warped, flow=flow, image=None)
        features = self.editing_network.encode_source(source)
        generated, mask = self.editing_network.decode(features, flow, z)
        if mask is None:
            return Prediction(warped=warped, flow=flow, image=generated)
        image = self.editing_network.compose(generated, mask, warped)
        return Prediction(warped, flow, image, generated=generated, mask=mask)

    def save(self, folder: Path) -> None:
        AniMoPipeline(
            self.pose_mapping, self.motion_network, self.warping_network, self.editing_network
        ).save_pretrained(folder)


class PIRendererModel(nn.Module):
    """The PIRenderer-style baseline, driven by the pose vector."""

    def __init__(self) -> None:
        super().__init__()
        self.generator = PIRendererGenerator()

    def forward(self, source: torch.Tensor, pose: torch.Tensor, full: bool) -> Prediction:
        output = self.generator.animate(self.generator.encode_source(source), pose)
        return Prediction(
            warped=output.warped, flow=output.flow, image=output.image if full else None
        )

    def save(self, folder: Path) -> None:
        self.generator.save_pretrained(folder)


MODEL_CLASSES = {"animo": AniMoModel, "pirenderer": PIRendererModel}


def build_model(name: str, seed: int) -> nn.Module:
    """A freshly initialised model (``torch.manual_seed(seed)`` first, so runs are repeatable)."""
    torch.manual_seed(seed)
    return MODEL_CLASSES[name]()
