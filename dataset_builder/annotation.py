"""Annotation: map a model's source morph names to the 23 target morphs.

The paper's group annotation matches source morphs *by name*; names follow a few conventions
(VRM expression presets, VRoid's ``Fcl_`` shape keys, MMD's Japanese morph names, ARKit
blendshapes). ``NAME_DICTIONARY`` lists, for each target morph and each naming scheme, the names
that mean it. Matching is case-insensitive and ignores ``_``, ``-``, ``.`` and spaces, so
``Blink_L``, ``blink-l`` and ``BLINKL`` are the same name. Per-model results are saved as a small
JSON file (``Annotation``) so a later visual inspection can correct them.
"""

from __future__ import annotations

import json
import os
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from animeceleb.pose import TARGET_MORPH_NAMES

from .files import write_atomic

NAMING_SCHEMES = ("vrm", "vroid", "mmd", "arkit")

# target morph -> scheme -> names that mean it (the first name of each list is the canonical one).
NAME_DICTIONARY: dict[str, dict[str, tuple[str, ...]]] = {
    "eye_close": {
        "vrm": ("blink",),
        "vroid": ("Fcl_EYE_Close",),
        "mmd": ("まばたき", "blink"),
        "arkit": ("eyeBlink", "eyesClosed"),
    },
    "eye_close_L": {
        "vrm": ("blink_l", "blinkLeft"),
        "vroid": ("Fcl_EYE_Close_L",),
        "mmd": ("ウィンク２", "ｳｨﾝｸ２", "wink"),  # MMD: ウィンク２ closes the eye plainly
        "arkit": ("eyeBlinkLeft", "eyeBlink_L"),
    },
    "eye_close_R": {
        "vrm": ("blink_r", "blinkRight"),
        "vroid": ("Fcl_EYE_Close_R",),
        "mmd": ("ウィンク２右", "ｳｨﾝｸ２右", "wink_r"),
        "arkit": ("eyeBlinkRight", "eyeBlink_R"),
    },
    "eye_happy": {
        "vrm": ("happy_eyes", "eye_joy"),
        "vroid": ("Fcl_EYE_Joy",),
        "mmd": ("笑い", "smile"),
        "arkit": ("eyeSmile", "eyesHappy"),
    },
    "eye_happy_L": {
        "vrm": ("happy_eyes_l", "eye_joy_l"),
        "vroid": ("Fcl_EYE_Joy_L",),
        "mmd": ("ウィンク", "ｳｨﾝｸ", "笑い左"),  # MMD: ウィンク is the smiling wink, as 笑い
        "arkit": ("eyeSmileLeft", "eyeSmile_L"),
    },
    "eye_happy_R": {
        "vrm": ("happy_eyes_r", "eye_joy_r"),
        "vroid": ("Fcl_EYE_Joy_R",),
        "mmd": ("ウィンク右", "ｳｨﾝｸ右", "笑い右"),
        "arkit": ("eyeSmileRight", "eyeSmile_R"),
    },
    "eye_relaxed": {
        "vrm": ("relaxed_eyes", "eye_relaxed"),
        "vroid": ("Fcl_EYE_Relax",),
        "mmd": ("じと目", "ジト目"),
        "arkit": ("eyeSquint", "eyesRelaxed"),
    },
    "eye_relaxed_L": {
        "vrm": ("relaxed_eyes_l", "eye_relaxed_l"),
        "vroid": ("Fcl_EYE_Relax_L",),
        "mmd": ("じと目左", "ジト目左"),
        "arkit": ("eyeSquintLeft", "eyeSquint_L"),
    },
    "eye_relaxed_R": {
        "vrm": ("relaxed_eyes_r", "eye_relaxed_r"),
        "vroid": ("Fcl_EYE_Relax_R",),
        "mmd": ("じと目右", "ジト目右"),
        "arkit": ("eyeSquintRight", "eyeSquint_R"),
    },
    "brow_troubled": {
        "vrm": ("brow_sorrow", "brow_troubled"),
        "vroid": ("Fcl_BRW_Sorrow",),
        "mmd": ("困る",),
        "arkit": ("browInnerUp",),
    },
    "brow_troubled_L": {
        "vrm": ("brow_sorrow_l", "brow_troubled_l"),
        "vroid": ("Fcl_BRW_Sorrow_L",),
        "mmd": ("困る左",),
        "arkit": ("browInnerUpLeft", "browInnerUp_L"),
    },
    "brow_troubled_R": {
        "vrm": ("brow_sorrow_r", "brow_troubled_r"),
        "vroid": ("Fcl_BRW_Sorrow_R",),
        "mmd": ("困る右",),
        "arkit": ("browInnerUpRight", "browInnerUp_R"),
    },
    "brow_angry": {
        "vrm": ("brow_angry", "angled_eyebrows"),
        "vroid": ("Fcl_BRW_Angry",),
        "mmd": ("怒り",),
        "arkit": ("browDown",),
    },
    "brow_angry_L": {
        "vrm": ("brow_angry_l",),
        "vroid": ("Fcl_BRW_Angry_L",),
        "mmd": ("怒り左",),
        "arkit": ("browDownLeft", "browDown_L"),
    },
    "brow_angry_R": {
        "vrm": ("brow_angry_r",),
        "vroid": ("Fcl_BRW_Angry_R",),
        "mmd": ("怒り右",),
        "arkit": ("browDownRight", "browDown_R"),
    },
    "brow_raised": {
        "vrm": ("brow_surprised", "brow_up"),
        "vroid": ("Fcl_BRW_Surprised",),
        "mmd": ("上", "眉上"),
        "arkit": ("browOuterUp", "browsUp"),
    },
    "brow_raised_L": {
        "vrm": ("brow_surprised_l", "brow_up_l"),
        "vroid": ("Fcl_BRW_Surprised_L",),
        "mmd": ("上左", "眉上左"),
        "arkit": ("browOuterUpLeft", "browOuterUp_L"),
    },
    "brow_raised_R": {
        "vrm": ("brow_surprised_r", "brow_up_r"),
        "vroid": ("Fcl_BRW_Surprised_R",),
        "mmd": ("上右", "眉上右"),
        "arkit": ("browOuterUpRight", "browOuterUp_R"),
    },
    "mouth_a": {
        "vrm": ("a", "aa", "ah"),
        "vroid": ("Fcl_MTH_A",),
        "mmd": ("あ", "ああ"),
        "arkit": ("jawOpen", "viseme_aa"),
    },
    "mouth_i": {
        "vrm": ("i", "ih"),
        "vroid": ("Fcl_MTH_I",),
        "mmd": ("い",),
        "arkit": ("mouthStretch", "viseme_I"),
    },
    "mouth_u": {
        "vrm": ("u", "ou", "uu"),
        "vroid": ("Fcl_MTH_U",),
        "mmd": ("う",),
        "arkit": ("mouthPucker", "viseme_U"),
    },
    "mouth_e": {
        "vrm": ("e", "ee"),
        "vroid": ("Fcl_MTH_E",),
        "mmd": ("え",),
        "arkit": ("mouthShrug", "viseme_E"),
    },
    "mouth_o": {
        "vrm": ("o", "oh"),
        "vroid": ("Fcl_MTH_O",),
        "mmd": ("お",),
        "arkit": ("mouthFunnel", "viseme_O"),
    },
}

# Names real models carry that are *not* target morphs (the generator adds some of these).
NON_TARGET_NAMES: dict[str, tuple[str, ...]] = {
    "vrm": ("lookup", "lookdown", "neutral", "extra_tongue", "cheek_blush"),
    "vroid": ("Fcl_EYE_Surprised", "Fcl_HA_Hide", "Fcl_EYE_Iris_Hide", "Fcl_MTH_Tongue_Out"),
    "mmd": ("瞳小", "照れ", "ぺろっ", "にやり", "ハイライト消し"),
    "arkit": ("cheekPuff", "tongueOut", "eyeLookUpLeft", "noseSneerLeft"),
}

_PREFIX = re.compile(r"^(blendshape\d*\.|shapekey\.|mtoon\.)", re.IGNORECASE)


def normalize_name(name: str) -> str:
    """Canonical form of a morph name for dictionary lookup (NFKC, case-folded, no separators)."""
    text = unicodedata.normalize("NFKC", name).strip()
    text = _PREFIX.sub("", text)
    return re.sub(r"[\s_\-.]+", "", text).casefold()


# normalised name -> target morph (tests/test_annotation_names.py checks that no name means two
# targets and that the dictionary names every target morph)
_LOOKUP: dict[str, str] = {
    normalize_name(name): target
    for target, schemes in NAME_DICTIONARY.items()
    for names in schemes.values()
    for name in names
}


def target_for_name(name: str) -> str | None:
    """The target morph a source morph name means, or None when it is not in the dictionary."""
    return _LOOKUP.get(normalize_name(name))


@dataclass
class Annotation:
    """Per-model annotation: which source morph drives each target morph.

    ``targets`` maps target morph name -> source morph name. ``method`` says how the file was
    made ("name": the dictionary alone, files before inspection; "build": per target, see
    ``methods``); a person who edits the file may write anything there (e.g. "person"). The
    optional ``methods`` (target -> "preset", "name", "group" or "inspection"), ``reasons``
    (target -> why) and ``declined`` (source morph -> why it drives no target) explain each
    decision; files without them still load.
    """

    model_id: str
    targets: dict[str, str]
    unmatched: list[str] = field(default_factory=list)
    method: str = "name"
    methods: dict[str, str] = field(default_factory=dict)
    reasons: dict[str, str] = field(default_factory=dict)
    declined: dict[str, str] = field(default_factory=dict)

    def save(self, path: str | os.PathLike) -> None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, json.dumps(asdict(self), ensure_ascii=False, indent=1, sort_keys=True))

    @classmethod
    def load(cls, path: str | os.PathLike) -> Annotation:
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
            annotation = cls(**data)
        except (json.JSONDecodeError, UnicodeDecodeError, TypeError) as error:
            raise ValueError(
                f"{path}: not an annotation (expected model_id, targets, unmatched, method): "
                f"{error}"
            ) from None
        unknown = set(annotation.targets) - set(TARGET_MORPH_NAMES)
        if unknown:
            raise ValueError(
                f"{path}: unknown target morphs {sorted(unknown)}; expected {TARGET_MORPH_NAMES}"
            )
        return annotation

    def source_names(self) -> list[str]:
        """Every source morph name the file mentions (driving a target or not)."""
        return list(dict.fromkeys([*self.targets.values(), *self.unmatched, *self.declined]))

    def target_sources(self, available: Iterable[str]) -> dict[str, int]:
        """How many of the ``available`` targets came from each source (a file without
        ``methods`` counts all under its ``method``)."""
        return dict(Counter(self.methods.get(t, self.method) for t in available))


def annotate_by_name(model_id: str, source_names: Iterable[str]) -> Annotation:
    """Match source morph names to target morphs with ``NAME_DICTIONARY``.

    When two source morphs mean the same target, the first one (in model order) wins.
    """
    targets: dict[str, str] = {}
    unmatched: list[str] = []
    for name in source_names:
        target = target_for_name(name)
        if target is None:
            unmatched.append(name)
        elif target not in targets:
            targets[target] = name
    return Annotation(model_id=model_id, targets=targets, unmatched=unmatched)
