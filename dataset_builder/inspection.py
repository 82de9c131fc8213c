"""Annotation by inspection: which target morph each source morph is, from what it moves (no bpy).

Input is ``motion.ModelMotion`` (each morph's vertex displacements in the framed image). The rule,
precision first (a wrong label is worse than none, so every doubt declines with its reason):

1. *Face frame.* Midline: the eye bones' midpoint, else the image centre (the camera is centred on
   the head's symmetric bounding box). Eye line: the eye bones' height, else the centre of the
   moved box of the morph that moves the most downward in the upper face (``y < UPPER_FACE``: the
   head spans 0.18..0.82 of the framed image and mouths sit in its lowest quarter) among those
   shorter than ``MAX_EYE_HEIGHT``, moving mostly vertically and not rigidly (not an eyeball
   looking down): a blink.
   Mouth line: the centroid of the morph that moves the most with 90% of its motion below
   ``UPPER_FACE`` (the blink: 90% above). ``D`` is the
   eye-to-mouth distance.
2. *Part.* A morph that moves both the upper face and the mouth (each over ``WHOLE_FACE_SHARE``
   of its motion, split halfway between eye and mouth line) is a whole-face expression: declined.
   Else its displacement-weighted centroid and its moved box name the part: mouth within
   ``0.2 D`` of the mouth line; brow a thin strip (box under ``THIN * D`` tall) from ``0.9 D`` to
   ``0.15 D`` above the eye line; eye a taller box (the lids) from ``0.5 D`` above to ``0.3 D``
   below it. Motion under ``MIN_SIZE * D`` is too small.
3. *Side.* Share of motion on the character's left (the image's right): over ``ONE_SIDE`` is L,
   under ``1 - ONE_SIDE`` R; both-side morphs must be balanced and mirror-symmetric.
4. *Kind*, on the moved box's height ``h``. An eye morph must move its lids (largest
   displacement >= 0.28 h, 80% of the motion vertical), else it is not a target. With
   ``up``/``down`` the 95th percentiles of the upward and downward displacements: *happy* lifts
   the lower lid more than it lowers the upper (``up > 1.5 down``, ``down >= 0.1 h``: the "^"
   arc); *close* lowers the upper lid fully and lifts the lower one a little
   (``0.12 <= up/down <= 0.9``, ``down >= 0.12 h``); *relaxed* lowers only the upper lid, part
   way (``up < 0.05 down``, ``down >= 0.3 h``). Brows: the upward motion of the inner half
   against the outer half: troubled lifts the inner end, angry lowers it and lifts the outer
   one, raised lifts both alike. Mouth vowels: the nearest of ``VOWELS`` (relative change of
   width, opening over ``D``) within a tolerance and a margin; a mouth that opens under
   ``0.04 D`` is not a vowel.
5. *Names.* A name the dictionary knows is accepted when inspection finds the same target, or
   when inspection declines only the kind but confirms the named part and side; a name that
   disagrees with a measured part, side or kind is caught and the measured target wins.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from .annotation import target_for_name
from .motion import ModelMotion, MorphMotion

UPPER_FACE = 0.68
WHOLE_FACE_SHARE = 0.2
MIN_SIZE = 0.025
MAX_EYE_HEIGHT = 0.3  # an eye is under half the head's height (the head spans ~0.64 of the image)
THIN = 0.4  # a brow's moved box is under 0.4 D tall; an eye's lids span more
ONE_SIDE = 0.9
SYMMETRY = 0.2
# vowel -> (relative width change, opening / D), measured on procedural characters.
VOWELS: dict[str, tuple[float, float]] = {
    "a": (0.31, 0.44),
    "i": (0.51, 0.11),
    "u": (-0.38, 0.2),
    "e": (0.36, 0.24),
    "o": (-0.09, 0.43),
}
VOWEL_TOLERANCE = 0.1  # farther than this from every vowel: not told
VOWEL_MARGIN = 0.6  # nearest distance / second nearest must be below this


@dataclass(frozen=True)
class FaceFrame:
    """Where the face's parts are in the image (image widths; y down)."""

    midline: float
    eye_y: float
    mouth_y: float

    @property
    def span(self) -> float:
        """D: the eye-to-mouth distance."""
        return self.mouth_y - self.eye_y


@dataclass(frozen=True)
class Finding:
    """What inspection concluded for one source morph: a target, or None, and why; ``measured``
    is what the motion alone says (possibly part and side only, ``"eye?_L"``), None when it
    names no part; ``preset`` says the morph is one of the format's expression presets (VRM)."""

    name: str
    target: str | None
    reason: str
    measured: str | None = None
    preset: bool = False


def face_frame(model: ModelMotion) -> FaceFrame | None:
    """The model's face frame (see the module docstring), or None without eye and mouth motion."""
    moving = [m for m in model.morphs if len(m.rest)]
    lower_share = {m.name: _share(m, m.rest[:, 1] >= UPPER_FACE) for m in moving}
    upper = [m for m in moving if lower_share[m.name] <= 0.1]
    lower = [m for m in moving if lower_share[m.name] >= 0.9]
    if not lower or not (upper or model.eye_bones):
        return None
    mouth = max(lower, key=lambda m: m.size.sum())
    if model.eye_bones:
        (lx, ly), (rx, ry) = model.eye_bones["L"], model.eye_bones["R"]
        return FaceFrame((lx + rx) / 2, (ly + ry) / 2, centroid(mouth)[1])
    eyes = [
        m
        for m in upper
        if np.ptp(m.rest[:, 1]) < MAX_EYE_HEIGHT and _vertical(m) >= 0.8 and _rigid(m) < 0.9
    ]
    if not eyes:
        return None
    blink = max(eyes, key=lambda m: np.clip(m.delta[:, 1], 0, None).sum())
    eye_y = float((blink.rest[:, 1].min() + blink.rest[:, 1].max()) / 2)
    return FaceFrame(0.5, eye_y, centroid(mouth)[1])


def _share(morph: MorphMotion, where: np.ndarray) -> float:
    """Share of a morph's motion (displacement lengths) at the vertices ``where`` selects."""
    return float(morph.size[where].sum() / morph.size.sum())


def _vertical(morph: MorphMotion) -> float:
    """Share of a morph's motion that is vertical (lids move up and down; hiding shrinks)."""
    return float(np.abs(morph.delta[:, 1]).sum() / np.abs(morph.delta).sum())


def _rigid(morph: MorphMotion) -> float:
    """1 when every vertex moves alike (an eyeball looking), lower when lids converge."""
    return float(np.linalg.norm(morph.delta.mean(axis=0)) / morph.size.mean())


def centroid(morph: MorphMotion) -> tuple[float, float]:
    """Displacement-weighted rest position of what a morph moves."""
    weights = morph.size
    x, y = (morph.rest * weights[:, None]).sum(axis=0) / weights.sum()
    return float(x), float(y)


def measured_target(morph: MorphMotion, frame: FaceFrame) -> tuple[str | None, str]:
    """(target or None, reason) from the morph's motion alone; ``target`` may be a part and side
    only (``"eye?_L"``) when the kind cannot be told."""
    if not len(morph.rest) or morph.size.max() < MIN_SIZE * frame.span:
        return None, "moves too little to be seen"
    split = (frame.eye_y + frame.mouth_y) / 2
    upper_share = _share(morph, morph.rest[:, 1] < split)
    if WHOLE_FACE_SHARE < upper_share < 1 - WHOLE_FACE_SHARE:
        return None, f"whole-face expression: {upper_share:.0%} upper face, the rest mouth"
    _, y = centroid(morph)
    offset = (y - frame.eye_y) / frame.span
    thin = np.ptp(morph.rest[:, 1]) < THIN * frame.span
    if abs(y - frame.mouth_y) <= 0.2 * frame.span:
        part = "mouth"
    elif thin and -0.9 <= offset <= -0.15:
        part = "brow"
    elif not thin and -0.5 < offset <= 0.3:
        part = "eye"
    else:
        return None, f"moves neither eyes, brows nor mouth (centroid {offset:+.2f} D from the eyes)"
    if part == "mouth":
        return _vowel(morph, frame.span)
    if part == "eye" and not _moves_lids(morph):
        return None, "eye: does not move the lids (the iris, a highlight or the eyeball)"
    side, why = _side(morph, frame.midline)
    if side is None:
        return None, f"{part}: {why}"
    kind, how = _eye_kind(morph) if part == "eye" else _brow_kind(morph, frame.midline)
    suffix = "" if side == "both" else f"_{side}"
    where = f"{part}, {why}"
    if kind is None:
        return f"{part}?{suffix}", f"{where}; {how}"
    return f"{part}_{kind}{suffix}", f"{where}; {how}"


def _side(morph: MorphMotion, midline: float) -> tuple[str | None, str]:
    left = morph.rest[:, 0] > midline
    share = _share(morph, left)
    if share >= ONE_SIDE:
        return "L", f"{share:.0%} on the character's left"
    if share <= 1 - ONE_SIDE:
        return "R", f"{1 - share:.0%} on the character's right"
    if abs(2 * share - 1) > SYMMETRY:
        return None, f"lopsided: {share:.0%} on the character's left"
    mirror_l = centroid(MorphMotion("", morph.rest[left], morph.delta[left]))[0] - midline
    mirror_r = midline - centroid(MorphMotion("", morph.rest[~left], morph.delta[~left]))[0]
    if abs(mirror_l - mirror_r) > SYMMETRY * max(mirror_l, mirror_r):
        return None, f"not mirror-symmetric (sides {mirror_l:.3f} and {mirror_r:.3f} from centre)"
    return "both", f"both sides, symmetric ({share:.0%} left)"


def _moves_lids(morph: MorphMotion) -> bool:
    """Lids travel a good part of the eye's height, mostly vertically."""
    return bool(morph.size.max() >= 0.28 * np.ptp(morph.rest[:, 1]) and _vertical(morph) >= 0.8)


def _eye_kind(morph: MorphMotion) -> tuple[str | None, str]:
    dy = morph.delta[:, 1]
    height = float(np.ptp(morph.rest[:, 1])) or 1e-9
    up = float(np.percentile(np.clip(-dy, 0, None), 95)) / height
    down = float(np.percentile(np.clip(dy, 0, None), 95)) / height
    cue = f"up {up:.2f} h, down {down:.2f} h"
    if up > 1.5 * down and down >= 0.1:
        return "happy", f"lower lid rises over the upper one ({cue})"
    if 0.12 * down <= up <= 0.9 * down and down >= 0.12:
        return "close", f"upper lid comes down to the lower ({cue})"
    if up < 0.05 * down and down >= 0.3:
        return "relaxed", f"only the upper lid lowers, part way ({cue})"
    return None, f"cannot tell close, happy or relaxed ({cue})"


def _brow_kind(morph: MorphMotion, midline: float) -> tuple[str | None, str]:
    reach = np.abs(morph.rest[:, 0] - midline)
    inner = reach <= np.median(reach)
    lift = -morph.delta[:, 1]
    scale = float(np.abs(lift).max()) or 1e-9
    lift_in, lift_out = float(lift[inner].mean()) / scale, float(lift[~inner].mean()) / scale
    cue = f"inner {lift_in:+.2f}, outer {lift_out:+.2f}"
    if lift_in > 0.3 and lift_in - lift_out > 0.4:
        return "troubled", f"inner end rises ({cue})"
    if lift_in < -0.1 and lift_out - lift_in > 0.4:
        return "angry", f"inner end lowers ({cue})"
    if lift_in > 0.3 and lift_out > 0.3 and abs(lift_in - lift_out) < 0.3:
        return "raised", f"whole brow rises ({cue})"
    return None, f"cannot tell troubled, angry or raised ({cue})"


def _vowel(morph: MorphMotion, span: float) -> tuple[str | None, str]:
    width = float(np.ptp(morph.rest[:, 0])) or 1e-9
    moved = morph.rest + morph.delta
    spread = float(np.ptp(moved[:, 0])) / width - 1
    dy = morph.delta[:, 1]
    opening = np.percentile(np.clip(dy, 0, None), 95) + np.percentile(np.clip(-dy, 0, None), 95)
    opening = float(opening) / span
    cue = f"width {spread:+.2f}, opening {opening:.2f}"
    if opening < 0.04:
        return None, f"mouth: barely opens ({cue})"
    distance = {vowel: float(np.hypot(spread - w, opening - o)) for vowel, (w, o) in VOWELS.items()}
    first, second = sorted(distance, key=distance.get)[:2]
    if distance[first] > min(VOWEL_TOLERANCE, VOWEL_MARGIN * distance[second]):
        return "mouth?", f"mouth, no vowel within reach: nearest {first}, then {second} ({cue})"
    return f"mouth_{first}", f"mouth, nearest vowel {first} ({cue})"


def inspect_morph(morph: MorphMotion, frame: FaceFrame) -> Finding:
    """The target of one morph from its motion, checked against what its name says."""
    measured, why = measured_target(morph, frame)
    claimed = target_for_name(morph.name)
    if measured is None:
        return Finding(morph.name, None, why)
    if "?" not in measured:
        if claimed in (None, measured):
            agree = "" if claimed is None else "; the name agrees"
            return Finding(morph.name, measured, f"{why}: {measured}{agree}", measured)
        said = f"{why}: {measured} (its name says {claimed})"
        return Finding(morph.name, measured, said, measured)
    if claimed is not None and _same_part_and_side(claimed, measured):
        fits = f"{why}; the name's {claimed} fits part and side"
        return Finding(morph.name, claimed, fits, measured)
    if claimed is not None:
        why = f"{why}; its name says {claimed}, which the motion contradicts"
    return Finding(morph.name, None, why, measured)


def _same_part_and_side(target: str, measured: str) -> bool:
    part, _, side = measured.partition("?")
    return target.startswith(f"{part}_") and (
        target.endswith(side) if side else not target.endswith(("_L", "_R"))
    )


def inspect_model(model: ModelMotion) -> list[Finding]:
    """A finding for every morph of ``model``, in model order."""
    frame = face_frame(model)
    if frame is None:
        findings = [
            Finding(m.name, None, "no eye and mouth motion to frame the face") for m in model.morphs
        ]
    else:
        findings = [inspect_morph(morph, frame) for morph in model.morphs]
    return [replace(f, preset=f.name in model.presets) for f in findings]
