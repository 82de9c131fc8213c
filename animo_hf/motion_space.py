"""The shared motion space ``m`` (DESIGN.md): MediaPipe blendshapes ⊕ head rotation ⊕ translation.

``m`` is a float32 vector of ``MOTION_DIM = 58`` values::

    0..51   the 52 MediaPipe face-landmarker blendshape scores, in MediaPipe's order
            (index 0 is ``_neutral``; the rest are ARKit names). Left/Right are the subject's own
            sides (checked on a winked portrait and its mirror, see ``docs/animo_hf.md``).
    52..54  yaw, pitch, roll of the head in radians, with the pose vector's signs: yaw > 0 turns
            the face toward the image's right, pitch > 0 tilts it up, roll > 0 tilts the top of
            the head toward the image's right.
    55..57  head translation (MediaPipe metric units, centimetres); 0 for the anime domain.
"""

from __future__ import annotations

import torch

BLENDSHAPE_NAMES: tuple[str, ...] = (
    "_neutral",
    "browDownLeft",
    "browDownRight",
    "browInnerUp",
    "browOuterUpLeft",
    "browOuterUpRight",
    "cheekPuff",
    "cheekSquintLeft",
    "cheekSquintRight",
    "eyeBlinkLeft",
    "eyeBlinkRight",
    "eyeLookDownLeft",
    "eyeLookDownRight",
    "eyeLookInLeft",
    "eyeLookInRight",
    "eyeLookOutLeft",
    "eyeLookOutRight",
    "eyeLookUpLeft",
    "eyeLookUpRight",
    "eyeSquintLeft",
    "eyeSquintRight",
    "eyeWideLeft",
    "eyeWideRight",
    "jawForward",
    "jawLeft",
    "jawOpen",
    "jawRight",
    "mouthClose",
    "mouthDimpleLeft",
    "mouthDimpleRight",
    "mouthFrownLeft",
    "mouthFrownRight",
    "mouthFunnel",
    "mouthLeft",
    "mouthLowerDownLeft",
    "mouthLowerDownRight",
    "mouthPressLeft",
    "mouthPressRight",
    "mouthPucker",
    "mouthRight",
    "mouthRollLower",
    "mouthRollUpper",
    "mouthShrugLower",
    "mouthShrugUpper",
    "mouthSmileLeft",
    "mouthSmileRight",
    "mouthStretchLeft",
    "mouthStretchRight",
    "mouthUpperUpLeft",
    "mouthUpperUpRight",
    "noseSneerLeft",
    "noseSneerRight",
)
BLENDSHAPE_INDEX: dict[str, int] = {name: i for i, name in enumerate(BLENDSHAPE_NAMES)}
NUM_BLENDSHAPES = len(BLENDSHAPE_NAMES)
MOTION_DIM = NUM_BLENDSHAPES + 3 + 3
ROTATION_SLICE = slice(NUM_BLENDSHAPES, NUM_BLENDSHAPES + 3)


def compose_motion(
    blendshapes: torch.Tensor, rotation: torch.Tensor, translation: torch.Tensor | None = None
) -> torch.Tensor:
    """Concatenate the parts of ``m``.

    Args:
        blendshapes: (N, 52) scores in MediaPipe's order.
        rotation: (N, 3) yaw, pitch, roll in radians.
        translation: (N, 3), or ``None`` for zeros (the anime domain).

    Returns:
        (N, 58) motion vectors.
    """
    if translation is None:
        translation = rotation.new_zeros(rotation.shape)
    return torch.cat([blendshapes, rotation, translation], dim=-1)
