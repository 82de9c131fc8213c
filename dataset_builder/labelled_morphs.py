"""A labelled set for measuring annotation by inspection: models whose morphs carry lying names.

The truth of each morph comes from where its names came from (a procedural character's generator,
or a model's own honest names through the dictionary); the names the inspector sees are then
scrambled (``morph_07``), misleading (another target's name) or swapped (the other side, or the
other eye kind), and some are kept.
"""

from __future__ import annotations

import random

from animeceleb.pose import TARGET_MORPH_NAMES

from .annotation import NAME_DICTIONARY, target_for_name
from .procedural import character_spec

SWAPS = {"close": "happy", "happy": "close", "troubled": "raised", "raised": "troubled"}
MODES = ("keep", "scrambled", "misleading", "swapped")


def procedural_truth(seed: int) -> dict[str, str | None]:
    """Shape-key name -> target morph (None for the non-target extras) of character ``seed``."""
    spec = character_spec(seed)
    return {name: target for target, name in spec.target_names} | {
        name: None for name, _ in spec.extra_morphs
    }


def named_truth(names: list[str]) -> dict[str, str | None]:
    """Truth for a model whose own names are honest: what the dictionary says of each."""
    return {name: target_for_name(name) for name in names}


def swapped(target: str) -> str:
    """The target a swapped name claims: the other side, else the other kind of the same part."""
    if target.endswith(("_L", "_R")):
        return target[:-1] + {"L": "R", "R": "L"}[target[-1]]
    part, _, kind = target.partition("_")
    if part == "mouth":
        return "mouth_o" if kind == "a" else "mouth_a"
    return f"{part}_{SWAPS.get(kind, 'close' if part == 'eye' else 'angry')}"


def mislabel(truth: dict[str, str | None], rng: random.Random) -> tuple[dict[str, str], dict]:
    """(old name -> new name, new name -> mode) with each morph's name kept, scrambled,
    misleading or swapped at random; new names are unique."""
    rename, modes, used = {}, {}, set()
    for i, (name, target) in enumerate(truth.items()):
        mode = rng.choice(MODES if target else ("keep", "scrambled", "misleading"))
        if mode == "keep":
            new = name
        elif mode == "scrambled":
            new = f"morph_{i:02d}"
        else:
            claim = (
                swapped(target)
                if mode == "swapped"
                else rng.choice([t for t in TARGET_MORPH_NAMES if t != target])
            )
            new = NAME_DICTIONARY[claim]["vrm"][0]
        if new in used or (new != name and new in truth):
            mode, new = "scrambled", f"morph_{i:02d}"
        used.add(new)
        rename[name], modes[new] = new, mode
    return rename, modes
