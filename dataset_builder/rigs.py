"""Finding a rig's head and neck bones from its bone names, else from its skeleton (no bpy).

By name first. Real rigs name them many ways: ``Head``, ``J_Bip_C_Head`` (VRoid),
``mixamorig:Head`` (Mixamo), ``head_Armature`` (a VRM exported to glTF), ``Head.001`` (a
duplicate), ``頭``/``首`` (MMD), ``DEF-head``/``ORG-head`` and ``spine.006`` (Rigify). A name is
matched after taking off the prefixes and suffixes those tools add (case-insensitive).

Else, given each bone's rest position (its head point; Z up, X sideways), from the skeleton's
structure. Lengths are fractions of the skeleton's height (its highest minus its lowest bone):

- The centre line is the bones' median X; a bone is *central* within 5% of it.
- A *limb pair* is two children of a central bone whose subtrees are at least 3 bones deep and
  mirror each other across the centre line (their mean points within 3%), off it on both sides:
  legs, arms, twin tails, skirt chains; not eyes or brows (1 or 2 deep). A pair that comes down
  to within 10% of the lowest bone is a pair of *legs*.
- The *chest* is the bone whose pairs other than legs reach farthest sideways (rigs are
  modelled in a T- or A-pose: the arms spread wider than twin tails hanging from the head or a
  skirt from the hips), among those with a central chain rising above them by 5%. That chain
  goes from the chest to its central child (not of a pair) whose subtree reaches highest, and so
  on up to its end.
- On that chain the *head* is the bone with the most children (eyes, hair, an end bone), ties
  going to the upper one; the *neck* is the head's parent. On a plain chain (no bone with more
  than one child) ending in a leaf, the leaf is an end bone marking the top of the skull when
  its step up is longer than the step below it (a skull is taller than a neck bone), so the head
  is the bone under it; else the leaf is the head itself.

No chest (a single chain, a tail, a four-legged animal whose pairs all reach the ground) gives
no head rather than a guess.
"""

from __future__ import annotations

import math
import re
import statistics
from collections.abc import Mapping
from dataclasses import dataclass

Point = tuple[float, float, float]

HEAD_NAMES = ("head", "頭", "atama", "kopf", "tete")
NECK_NAMES = ("neck", "首", "kubi", "hals", "cou")
RIGIFY = {"spine.006": "head", "spine.004": "neck"}  # Rigify's metarig / DEF- names

# Taken off (repeatedly) before matching: tool prefixes, side-less suffixes, Blender's ".001".
PREFIX = re.compile(
    r"^(?:[\w.-]*:|j_bip_c_|j_|bip0?1[ _]|def[-_]|org[-_]|mch[-_]|armature[|_]|c_|cf_j_|b_)",
    re.IGNORECASE,
)
SUFFIX = re.compile(r"(?:\.\d{3}|_armature|_jnt|_joint|_bone|_bind|_end|_c)$", re.IGNORECASE)

# The structural rule's thresholds, as fractions of the skeleton's height (module docstring).
CENTRAL = 0.05
MIRROR = 0.03
GROUND = 0.10
LIMB_DEPTH = 3


def normalised(name: str) -> str:
    """``name`` without the prefixes and suffixes rigging tools add, lower case."""
    text = name.strip()
    while True:
        stripped = SUFFIX.sub("", PREFIX.sub("", text))
        if stripped == text or not stripped:
            return text.lower()
        text = stripped


def _by_name(bones: Mapping[str, str | None], names: tuple[str, ...]) -> str | None:
    for bone in bones:
        rigify = RIGIFY.get(PREFIX.sub("", bone).lower())  # spine.006: its number is its name
        if normalised(bone) in names or rigify == names[0]:
            return bone
    return None


def find_head_and_neck(
    bones: Mapping[str, str | None], positions: Mapping[str, Point] | None = None
) -> tuple[str, str] | None:
    """The (head, neck) bones of a rig given as ``{bone: parent or None}``.

    By name; the neck is the head's parent when no bone is named so (or the head itself for a
    root head). When no bone is named as a head and ``positions`` gives every bone's rest
    position, from the skeleton's structure (module docstring). ``None`` when neither finds one.
    """
    head = _by_name(bones, HEAD_NAMES)
    if head is None:
        return None if positions is None else _by_structure(bones, positions)
    neck = _by_name(bones, NECK_NAMES)
    if neck is None or neck == head:
        neck = bones.get(head) or head
    return head, neck


def _by_structure(
    bones: Mapping[str, str | None], positions: Mapping[str, Point]
) -> tuple[str, str] | None:
    missing = [bone for bone in bones if bone not in positions]
    if missing:
        shown = ", ".join(missing[:5]) + (", ..." if len(missing) > 5 else "")
        raise ValueError(f"no rest position for {len(missing)} of the {len(bones)} bones ({shown})")
    if not bones:
        return None
    skeleton = _Skeleton(bones, positions)
    path = skeleton.chest_and_chain()
    return None if path is None else _head_and_neck_on(path, skeleton.children, positions)


@dataclass(frozen=True)
class _Subtree:
    """A bone and its descendants: how many, their summed position, how deep, how high and low
    they go and how far from the centre line."""

    size: int
    total: Point
    depth: int
    top: float
    bottom: float
    reach: float

    @property
    def mean(self) -> Point:
        x, y, z = self.total
        return x / self.size, y / self.size, z / self.size


class _Skeleton:
    """The structural rule of the module docstring over one rig."""

    def __init__(self, bones: Mapping[str, str | None], positions: Mapping[str, Point]) -> None:
        self.positions = positions
        self.children: dict[str, list[str]] = {bone: [] for bone in bones}
        for bone, parent in bones.items():
            if parent in self.children:
                self.children[parent].append(bone)
        self.centre = statistics.median(positions[bone][0] for bone in bones)
        self.ground = min(positions[bone][2] for bone in bones)
        self.height = max(positions[bone][2] for bone in bones) - self.ground
        self.subtrees = self._subtrees(
            [bone for bone, parent in bones.items() if parent not in bones]
        )

    def _subtrees(self, roots: list[str]) -> dict[str, _Subtree]:
        order = list(roots)
        for bone in order:  # breadth first: every parent before its children
            order.extend(self.children[bone])
        subtrees: dict[str, _Subtree] = {}
        for bone in reversed(order):
            x, y, z = self.positions[bone]
            below = [subtrees[child] for child in self.children[bone]]
            subtrees[bone] = _Subtree(
                size=1 + sum(s.size for s in below),
                total=(
                    x + sum(s.total[0] for s in below),
                    y + sum(s.total[1] for s in below),
                    z + sum(s.total[2] for s in below),
                ),
                depth=1 + max((s.depth for s in below), default=0),
                top=max([z, *(s.top for s in below)]),
                bottom=min([z, *(s.bottom for s in below)]),
                reach=max([abs(x - self.centre), *(s.reach for s in below)]),
            )
        return subtrees

    def central(self, bone: str) -> bool:
        return abs(self.positions[bone][0] - self.centre) <= CENTRAL * self.height

    def pairs(self, bone: str) -> list[tuple[str, str]]:
        """The limb pairs among ``bone``'s children."""
        limbs = [c for c in self.children[bone] if self.subtrees[c].depth >= LIMB_DEPTH]
        return [
            (a, b)
            for i, a in enumerate(limbs)
            for b in limbs[i + 1 :]
            if self._mirrored(self.subtrees[a].mean, self.subtrees[b].mean)
        ]

    def _mirrored(self, a: Point, b: Point) -> bool:
        tolerance = MIRROR * self.height
        left, right = a[0] - self.centre, b[0] - self.centre
        return (
            left * right < 0
            and min(abs(left), abs(right)) > tolerance
            and abs(left + right) <= tolerance
            and abs(a[1] - b[1]) <= tolerance
            and abs(a[2] - b[2]) <= tolerance
        )

    def legs(self, pair: tuple[str, str]) -> bool:
        return min(self.subtrees[b].bottom for b in pair) <= self.ground + GROUND * self.height

    def chest_and_chain(self) -> list[str] | None:
        """The chest followed by the central chain rising from it, or ``None``."""
        pairs = {bone: self.pairs(bone) for bone in self.children if self.central(bone)}
        paired = {limb for found in pairs.values() for pair in found for limb in pair}
        best: tuple[float, list[str]] | None = None
        for bone, found in pairs.items():
            arms = [limb for pair in found if not self.legs(pair) for limb in pair]
            if not arms:
                continue
            reach = max(self.subtrees[limb].reach for limb in arms)
            chain = self.rising_chain(bone, paired)
            if chain and (best is None or reach > best[0]):
                best = reach, [bone, *chain]
        return None if best is None else best[1]

    def rising_chain(self, bone: str, paired: set[str]) -> list[str]:
        """The central chain up from ``bone`` (empty when it does not rise 5% above it)."""
        chain: list[str] = []
        upper = bone
        while central := [c for c in self.children[upper] if c not in paired and self.central(c)]:
            upper = max(central, key=lambda child: self.subtrees[child].top)
            chain.append(upper)
        rise = self.subtrees[chain[0]].top - self.positions[bone][2] if chain else 0.0
        return chain if rise > CENTRAL * self.height else []


def _head_and_neck_on(
    path: list[str], children: Mapping[str, list[str]], positions: Mapping[str, Point]
) -> tuple[str, str]:
    """The head and neck on ``path``: the chest, then the chain rising from it."""
    counts = [len(children[bone]) for bone in path]
    most = max(counts[1:])
    if most > 1 or counts[-1]:  # the upper of the chain's bones with the most children
        head = max(i for i, count in enumerate(counts) if i and count == most)
    elif len(path) > 2 and math.dist(*(positions[b] for b in path[-2:])) > math.dist(
        *(positions[b] for b in path[-3:-1])
    ):
        head = len(path) - 2  # a plain chain whose leaf marks the top of the skull
    else:
        head = len(path) - 1  # a plain chain whose leaf is the head
    return path[head], path[head - 1]
