"""Shape-key names for procedural characters, drawn like real models name them.

A character uses one naming scheme (``NAMING_SCHEMES``), one variant per target morph from
``NAME_DICTIONARY`` and one spelling style (case and separator), plus a few non-target morphs
from ``NON_TARGET_NAMES``. Every drawn name is checked against ``target_for_name``.
"""

from __future__ import annotations

import random
import re

from animeceleb.pose import TARGET_MORPH_NAMES

from ..annotation import NAME_DICTIONARY, NAMING_SCHEMES, NON_TARGET_NAMES, target_for_name

# What each non-target morph of ``NON_TARGET_NAMES`` does (see ``morphs.NON_TARGET_EFFECTS``;
# tests/test_procedural.py checks that every one has an effect).
NON_TARGET_EFFECT: dict[str, str] = {
    "lookup": "look_up",
    "lookdown": "look_down",
    "neutral": "none",
    "extra_tongue": "tongue",
    "cheek_blush": "blush",
    "Fcl_EYE_Surprised": "iris_small",
    "Fcl_HA_Hide": "none",
    "Fcl_EYE_Iris_Hide": "iris_hide",
    "Fcl_MTH_Tongue_Out": "tongue",
    "瞳小": "iris_small",
    "照れ": "blush",
    "ぺろっ": "tongue",
    "にやり": "smirk",
    "ハイライト消し": "highlight_hide",
    "cheekPuff": "cheek_puff",
    "tongueOut": "tongue",
    "eyeLookUpLeft": "look_up_left",
    "noseSneerLeft": "sneer_left",
}

SEPARATORS = ("_", "_", ".", "-", " ", "")
CASES = ("keep", "keep", "lower", "title", "upper")
_TOKEN = re.compile(r"[_\-. ]+|(?<=[a-z])(?=[A-Z])")


def _spell(name: str, case: str, separator: str) -> str:
    """``name`` rewritten with a case style and a separator (ASCII names only)."""
    if not name.isascii():
        return name
    tokens = [t for t in _TOKEN.split(name) if t]
    if case == "lower":
        tokens = [t.lower() for t in tokens]
    elif case == "upper":
        tokens = [t.upper() for t in tokens]
    elif case == "title":
        tokens = [t[:1].upper() + t[1:].lower() for t in tokens]
    if case == "keep" and separator == "_":
        return name
    if separator == "" and case in ("lower", "upper"):
        separator = "_"  # "blinkl" reads badly; real models keep a separator in that case
    if separator == "" and case == "keep":
        return tokens[0] + "".join(t[:1].upper() + t[1:] for t in tokens[1:])
    return separator.join(tokens)


def draw_names(
    rng: random.Random, present: tuple[str, ...]
) -> tuple[str, tuple[tuple[str, str], ...], tuple[tuple[str, str], ...]]:
    """Draw (scheme, ((target, name), ...), ((non-target name, effect), ...)) for one character.

    ``present`` lists the target morphs the character has, in model order.
    """
    scheme = rng.choice(NAMING_SCHEMES)
    case, separator = rng.choice(CASES), rng.choice(SEPARATORS)
    if scheme == "vroid":  # VRoid exports keep their Fcl_ spelling
        case, separator = "keep", "_"
    targets = []
    for target in present:
        name = _spell(rng.choice(NAME_DICTIONARY[target][scheme]), case, separator)
        if target_for_name(name) != target:
            raise AssertionError(f"{name!r} does not annotate back to {target!r}")
        targets.append((target, name))
    count = min(len(NON_TARGET_NAMES[scheme]), rng.randint(2, 4))
    extras = []
    for raw in rng.sample(NON_TARGET_NAMES[scheme], count):
        name = _spell(raw, case, separator)
        if target_for_name(name) is not None:
            raise AssertionError(f"non-target {name!r} annotates as a target")
        extras.append((name, NON_TARGET_EFFECT[raw]))
    return scheme, tuple(targets), tuple(extras)


def draw_present_targets(rng: random.Random) -> tuple[str, ...]:
    """Which target morphs a character has, in model order.

    About 65 % have all 23, 30 % lack 1 to 8, 5 % have only 2 to 5 (the small sample budget).
    """
    roll = rng.random()
    names = list(TARGET_MORPH_NAMES)
    if roll < 0.05:
        keep = set(rng.sample(names, rng.randint(2, 5)))
    elif roll < 0.35:
        keep = set(names) - set(rng.sample(names, rng.randint(1, 8)))
    else:
        keep = set(names)
    return tuple(n for n in names if n in keep)
