"""The paper's best AnimeCeleb baseline: a PIRenderer-style generator driven by the pose vector."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from diffusers import ConfigMixin, ModelMixin
from diffusers.configuration_utils import register_to_config
from diffusers.utils import BaseOutput
from torch import nn

from animeceleb.pose import POSE_DIM

from .._checks import check_batch
from .layers import AdaINDecoder, SourceEncoder, flow_head, image_head, warp
from .modeling import StrictLoadingMixin
from .motion_network import ResidualMLPBlock


@dataclass
class PIRendererSourceFeatures(BaseOutput):
    """What :meth:`PIRendererGenerator.encode_source` caches for one source.

    Attributes:
        image: (1 or N, 3, H, W) the source in [-1, 1].
        features: the warping encoder's multi-scale features.
    """

    image: torch.Tensor
    features: tuple[torch.Tensor, ...]


@dataclass
class PIRendererOutput(BaseOutput):
    """Attributes: image (N, 3, H, W) in [-1, 1]; warped (N, 3, H, W) the flow-warped source;
    flow (N, 2, H / downscale, W / downscale)."""

    image: torch.Tensor
    warped: torch.Tensor
    flow: torch.Tensor


class PIRendererGenerator(StrictLoadingMixin, ModelMixin, ConfigMixin):
    """PIRenderer (Ren et al., ICCV 2021) with the 20-dim pose vector in place of 3DMM.

    Mapping network (pose → z), warping network (AdaIN hourglass → flow at 1/4 resolution, which
    warps the source *image*) and editing network (encodes source ⊕ warped image, AdaIN residual
    decoder, ``tanh``). It has the same interface as the AniMo path of
    :class:`~animo_hf.AniMoPipeline`: :meth:`encode_source` once per source, then
    :meth:`animate` per batch of poses, so evaluations can run both on the same inputs.

    Args:
        pose_dim: size of the driving pose vector.
        latent_dim: size of the pose code ``z``.
        num_mapping_blocks: residual MLP blocks in the mapping network.
        warp_block_out_channels / edit_block_out_channels: channels per level, finest first.
        downscale: pixel-(un)shuffle factor between the image and the finest level.
    """

    @register_to_config
    def __init__(
        self,
        pose_dim: int = POSE_DIM,
        latent_dim: int = 256,
        num_mapping_blocks: int = 3,
        warp_block_out_channels: tuple[int, ...] = (16, 32, 64),
        edit_block_out_channels: tuple[int, ...] = (32, 64, 96),
        downscale: int = 4,
    ) -> None:
        super().__init__()
        self.mapping = nn.Sequential(
            nn.Linear(pose_dim, latent_dim),
            *(ResidualMLPBlock(latent_dim) for _ in range(num_mapping_blocks)),
        )
        self.warp_encoder = SourceEncoder(3, tuple(warp_block_out_channels), downscale)
        self.warp_decoder = AdaINDecoder(tuple(warp_block_out_channels), latent_dim)
        self.to_flow = flow_head(warp_block_out_channels[0])
        self.edit_encoder = SourceEncoder(6, tuple(edit_block_out_channels), downscale)
        self.edit_decoder = AdaINDecoder(tuple(edit_block_out_channels), latent_dim)
        self.to_image = image_head(edit_block_out_channels[0], 3, downscale)

    def encode_source(self, source: torch.Tensor) -> PIRendererSourceFeatures:
        """Args: source (N, 3, H, W) in [-1, 1]. Returns the per-source cache."""
        return PIRendererSourceFeatures(image=source, features=self.warp_encoder(source))

    def animate(self, source: PIRendererSourceFeatures, pose: torch.Tensor) -> PIRendererOutput:
        """Args: source from :meth:`encode_source` (batch 1 or N), pose (N, pose_dim)."""
        check_batch("pose", pose, self.config.pose_dim)
        n = pose.shape[0]
        z = self.mapping(pose)
        features = tuple(f.expand(n, -1, -1, -1) for f in source.features)
        flow = self.to_flow(self.warp_decoder(features, z))
        image = source.image.expand(n, -1, -1, -1)
        warped = warp(image, flow)
        edited = self.edit_decoder(self.edit_encoder(torch.cat([image, warped], dim=1)), z)
        return PIRendererOutput(image=self.to_image(edited), warped=warped, flow=flow)

    def forward(self, source: torch.Tensor, pose: torch.Tensor) -> PIRendererOutput:
        """Args: source (N, 3, H, W) in [-1, 1], pose (N, pose_dim). Returns the driven image."""
        return self.animate(self.encode_source(source), pose)
