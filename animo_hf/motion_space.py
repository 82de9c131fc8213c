"""The shared motion space ``m`` (``docs/animeceleb.md``): MediaPipe blendshapes ⊕ head rotation ⊕
translation.

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

import math
from collections.abc import Mapping, Sequence

import torch

from animeceleb.pose import ANGLE_NAMES

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


def motion_from_blendshapes(
    blendshapes: Mapping[str, float] | Sequence[Mapping[str, float]],
) -> torch.Tensor:
    """Motion vectors from one dict per frame (a single dict is one frame).

    Args:
        blendshapes: N dicts mapping MediaPipe blendshape names (:data:`BLENDSHAPE_NAMES`, scores
            in [0, 1]) and ``yaw``, ``pitch``, ``roll`` (degrees) to numbers; absent keys are 0.

    Returns:
        (N, 58) float32 motion vectors, angles in radians, translation 0.
    """
    frames = [blendshapes] if isinstance(blendshapes, Mapping) else blendshapes
    if isinstance(frames, str | bytes) or not isinstance(frames, Sequence):
        raise ValueError(
            "blendshapes: expected a dict or a sequence of dicts (or, in the pipeline, a "
            "HumanPoseSequence), "
            f"got {type(frames).__name__} {frames!r:.80}"
        )
    if len(frames) == 0:
        raise ValueError("blendshapes: expected a dict or a non-empty sequence of dicts")
    scores = torch.zeros(len(frames), NUM_BLENDSHAPES)
    angles = torch.zeros(len(frames), len(ANGLE_NAMES))
    for i, frame in enumerate(frames):
        if not isinstance(frame, Mapping):
            raise ValueError(
                f"blendshapes[{i}]: expected a dict of blendshape scores and angles, "
                f"got {type(frame).__name__} {frame!r:.80}"
            )
        for key, value in frame.items():
            where = f"blendshapes[{i}][{key!r}]"
            if key in ANGLE_NAMES:
                angles[i, ANGLE_NAMES.index(key)] = _finite_number(where, value)
            elif key in BLENDSHAPE_INDEX:
                scores[i, BLENDSHAPE_INDEX[key]] = _blendshape_score(where, value)
            else:
                raise ValueError(
                    f"{where} = {value!r}: expected a MediaPipe blendshape name with a score in "
                    f"[0, 1] or one of {ANGLE_NAMES}"
                )
    return compose_motion(scores, torch.deg2rad(angles))


def _finite_number(where: str, value: object) -> float:
    """``value`` as a finite ``float``; ``ValueError`` naming ``where`` otherwise."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{where} = {value!r:.80}: expected a number") from None
    if not math.isfinite(number):
        raise ValueError(f"{where} = {number}: expected a finite number")
    return number


def _blendshape_score(where: str, value: object) -> float:
    """``value`` as a blendshape score in [0, 1]; ``ValueError`` naming ``where`` otherwise."""
    number = _finite_number(where, value)
    if not 0.0 <= number <= 1.0:
        raise ValueError(f"{where} = {value!r}: expected a MediaPipe blendshape score in [0, 1]")
    return number
