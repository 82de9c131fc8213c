"""Which face state each shape key shows: the 23 target morphs and the non-target effects."""

from __future__ import annotations

from .eyes import EyeState
from .face import FaceState

REST_EYE = EyeState()

# non-target effect -> face state (see ``naming.NON_TARGET_EFFECT``)
NON_TARGET_EFFECTS: dict[str, FaceState] = {
    "none": FaceState(),
    "look_up": FaceState(eyes=(EyeState(iris_shift=0.16), EyeState(iris_shift=0.16))),
    "look_down": FaceState(eyes=(EyeState(iris_shift=-0.16), EyeState(iris_shift=-0.16))),
    "look_up_left": FaceState(eyes=(EyeState(iris_shift=0.16), REST_EYE)),
    "iris_small": FaceState(eyes=(EyeState(iris_scale=0.7), EyeState(iris_scale=0.7))),
    "iris_hide": FaceState(eyes=(EyeState(iris_scale=0.0), EyeState(iris_scale=0.0))),
    "highlight_hide": FaceState(
        eyes=(EyeState(highlight_scale=0.0), EyeState(highlight_scale=0.0))
    ),
    "tongue": FaceState(mouth="tongue"),
    "smirk": FaceState(mouth="smirk"),
    "blush": FaceState(blush=1.0),
    "cheek_puff": FaceState(cheek_puff=1.0),
    "sneer_left": FaceState(sneer_left=1.0),
}


def target_state(target: str) -> FaceState:
    """The face state of a target morph (e.g. ``eye_close_L``, ``brow_angry``, ``mouth_a``).

    The kind in the name is the eye's lid state or the brow mode (close, happy, relaxed;
    troubled, angry, raised).
    """
    if target.startswith("mouth_"):
        return FaceState(mouth=target.removeprefix("mouth_"))
    kind, _, side = target.partition("_")[2].partition("_")
    sides = {"": (True, True), "L": (True, False), "R": (False, True)}[side]
    if target.startswith("eye_"):
        eyes = tuple(EyeState(lids=kind) if on else REST_EYE for on in sides)
        return FaceState(eyes=eyes)  # type: ignore[arg-type]
    return FaceState(brows=tuple(kind if on else "rest" for on in sides))  # type: ignore[arg-type]
