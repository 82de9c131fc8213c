"""The pose mapping T between the AnimeCeleb pose vector and the shared motion space m."""

from __future__ import annotations

import torch
from diffusers import ConfigMixin, ModelMixin
from diffusers.configuration_utils import register_to_config

from animeceleb.pose import ANGLE_LIMIT_DEG, ANGLE_SLICE, EXPRESSION_DIM, POSE_DIM, POSE_NAMES

from .._checks import check_batch
from ..motion_space import (
    BLENDSHAPE_INDEX,
    MOTION_DIM,
    NUM_BLENDSHAPES,
    ROTATION_SLICE,
    compose_motion,
)
from .modeling import StrictLoadingMixin

# Φ: each of the 17 anime expression dims written as MediaPipe blendshapes. "L"/"R" are the
# character's and the subject's own sides on both ends (MediaPipe's "Left" is the subject's own
# left, measured on a winked portrait and its mirror). Rows are linearly independent, so T can be
# inverted on its range (see PoseMapping.expression_from_blendshapes).
PHI_TABLE: dict[str, dict[str, float]] = {
    "eye_close_L": {"eyeBlinkLeft": 1.0},
    "eye_close_R": {"eyeBlinkRight": 1.0},
    "eye_happy_L": {
        "eyeBlinkLeft": 0.6,
        "eyeSquintLeft": 0.7,
        "cheekSquintLeft": 0.6,
        "mouthSmileLeft": 0.4,
    },
    "eye_happy_R": {
        "eyeBlinkRight": 0.6,
        "eyeSquintRight": 0.7,
        "cheekSquintRight": 0.6,
        "mouthSmileRight": 0.4,
    },
    "eye_relaxed_L": {"eyeBlinkLeft": 0.45, "eyeSquintLeft": 0.3, "eyeLookDownLeft": 0.3},
    "eye_relaxed_R": {"eyeBlinkRight": 0.45, "eyeSquintRight": 0.3, "eyeLookDownRight": 0.3},
    "brow_troubled_L": {"browInnerUp": 0.5, "browDownLeft": 0.2, "mouthFrownLeft": 0.2},
    "brow_troubled_R": {"browInnerUp": 0.5, "browDownRight": 0.2, "mouthFrownRight": 0.2},
    "brow_angry_L": {"browDownLeft": 1.0, "noseSneerLeft": 0.3},
    "brow_angry_R": {"browDownRight": 1.0, "noseSneerRight": 0.3},
    "brow_raised_L": {"browOuterUpLeft": 1.0, "browInnerUp": 0.5, "eyeWideLeft": 0.3},
    "brow_raised_R": {"browOuterUpRight": 1.0, "browInnerUp": 0.5, "eyeWideRight": 0.3},
    "mouth_a": {"jawOpen": 1.0, "mouthLowerDownLeft": 0.3, "mouthLowerDownRight": 0.3},
    "mouth_i": {
        "mouthStretchLeft": 0.6,
        "mouthStretchRight": 0.6,
        "mouthSmileLeft": 0.3,
        "mouthSmileRight": 0.3,
        "jawOpen": 0.15,
    },
    "mouth_u": {"mouthPucker": 1.0, "mouthFunnel": 0.4, "jawOpen": 0.1},
    "mouth_e": {
        "jawOpen": 0.4,
        "mouthStretchLeft": 0.4,
        "mouthStretchRight": 0.4,
        "mouthUpperUpLeft": 0.3,
        "mouthUpperUpRight": 0.3,
    },
    "mouth_o": {"mouthFunnel": 1.0, "jawOpen": 0.5, "mouthPucker": 0.3},
}


def phi_matrix() -> torch.Tensor:
    """:data:`PHI_TABLE` as a (17, 52) float32 matrix, rows in pose-vector order."""
    phi = torch.zeros(EXPRESSION_DIM, NUM_BLENDSHAPES)
    for row, name in enumerate(POSE_NAMES[:EXPRESSION_DIM]):
        for blendshape, weight in PHI_TABLE[name].items():
            phi[row, BLENDSHAPE_INDEX[blendshape]] = weight
    return phi


class PoseMapping(StrictLoadingMixin, ModelMixin, ConfigMixin):
    """The paper's pose mapping ``T(b, h) = (b · Φ) ⊕ rad(h) ⊕ 0`` and its inverse.

    ``Φ`` (17 × 52, :data:`PHI_TABLE`) is a non-trainable buffer saved with the weights, so a
    refined table travels with a checkpoint. The module has no trainable parameters.

    Args:
        inverse_ridge: ``λ`` of the ridge-regularised inverse ``Φᵀ (Φ Φᵀ + λ I)⁻¹``.
    """

    @register_to_config
    def __init__(self, inverse_ridge: float = 1e-3) -> None:
        super().__init__()
        if inverse_ridge <= 0:
            raise ValueError(f"inverse_ridge must be > 0, got {inverse_ridge}")
        self.register_buffer("phi", phi_matrix())

    def forward(self, pose: torch.Tensor) -> torch.Tensor:
        """Map pose vectors to motion vectors.

        Args:
            pose: (N, 20) AnimeCeleb pose vectors (expression in [0, 1], angles in degrees).

        Returns:
            (N, 58) motion vectors ``m`` (translation 0).
        """
        check_batch("pose", pose, POSE_DIM)
        expression = pose[:, :EXPRESSION_DIM].to(self.phi.dtype)
        return compose_motion(expression @ self.phi, torch.deg2rad(pose[:, ANGLE_SLICE]))

    def expression_from_blendshapes(self, blendshapes: torch.Tensor) -> torch.Tensor:
        """The inverse direction: blendshapes → the 17 anime expression dims.

        Solves ``min_e ||e Φ - b||² + λ ||e||²`` in closed form and clips to [0, 1]; for ``b`` in
        the range of ``Φ`` this recovers ``e`` up to the small ridge bias.

        Args:
            blendshapes: (N, 52) scores in MediaPipe's order.

        Returns:
            (N, 17) expression values in [0, 1].
        """
        check_batch("blendshapes", blendshapes, NUM_BLENDSHAPES)
        phi = self.phi.float()  # solved in float32 whatever the weights' dtype
        gram = phi @ phi.T
        eye = torch.eye(EXPRESSION_DIM, dtype=gram.dtype, device=gram.device)
        ridge = self.config.inverse_ridge * eye
        expression = torch.linalg.solve(gram + ridge, phi @ blendshapes.float().T).T
        return expression.clamp(0.0, 1.0)

    def pose_from_motion(self, motion: torch.Tensor) -> torch.Tensor:
        """Map motion vectors back to pose vectors: expression via the inverse of ``Φ``, angles
        converted to degrees and clipped to the data's ±20°; translation is dropped.

        Args:
            motion: (N, 58) motion vectors.

        Returns:
            (N, 20) pose vectors.
        """
        check_batch("motion", motion, MOTION_DIM)
        expression = self.expression_from_blendshapes(motion[:, :NUM_BLENDSHAPES])
        angles = torch.rad2deg(motion[:, ROTATION_SLICE]).clamp(-ANGLE_LIMIT_DEG, ANGLE_LIMIT_DEG)
        return torch.cat([expression, angles.to(expression.dtype)], dim=1)
