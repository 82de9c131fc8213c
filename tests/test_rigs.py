"""Head and neck bones found by name as real rigs spell them, else from the skeleton (no bpy)."""

import pytest

from dataset_builder.rigs import find_head_and_neck, normalised


def chain(*names: str) -> dict[str, str | None]:
    """Bones as a parent chain: each the child of the one before."""
    return {name: (names[i - 1] if i else None) for i, name in enumerate(names)}


@pytest.mark.parametrize(
    ("bones", "expected"),
    [
        (chain("Hips", "Spine", "Chest", "Neck", "Head"), ("Head", "Neck")),
        (
            chain("hips_Armature", "neck_Armature", "head_Armature"),
            ("head_Armature", "neck_Armature"),
        ),
        (chain("J_Bip_C_Hips", "J_Bip_C_Neck", "J_Bip_C_Head"), ("J_Bip_C_Head", "J_Bip_C_Neck")),
        (
            chain("mixamorig:Hips", "mixamorig:Neck", "mixamorig:Head"),
            ("mixamorig:Head", "mixamorig:Neck"),
        ),
        (chain("センター", "上半身", "首", "頭"), ("頭", "首")),
        (chain("Root", "Spine", "Head.001"), ("Head.001", "Spine")),  # no neck: the head's parent
        (chain("spine", "spine.004", "spine.006"), ("spine.006", "spine.004")),  # Rigify metarig
        (chain("DEF-spine", "DEF-neck", "DEF-head"), ("DEF-head", "DEF-neck")),
        (chain("Bip01 Pelvis", "Bip01 Neck", "Bip01 Head"), ("Bip01 Head", "Bip01 Neck")),
        ({"Head": None}, ("Head", "Head")),
    ],
)
def test_head_and_neck_by_name(bones, expected):
    assert find_head_and_neck(bones) == expected


def test_names_that_only_contain_head_are_not_heads():
    bones = chain("Hips", "Spine", "Neck", "Head", "HeadTop_End", "Forehead_Hair")
    assert find_head_and_neck(bones) == ("Head", "Neck")
    assert find_head_and_neck(chain("Hips", "Spine", "Forehead")) is None
    assert find_head_and_neck({}) is None


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("mixamorig:Head", "head"),
        ("J_Bip_C_Neck", "neck"),
        ("head_Armature", "head"),
        ("Head.001", "head"),
        ("DEF-head", "head"),
        ("HeadTop_End", "headtop"),
    ],
)
def test_normalised_names(name, expected):
    assert normalised(name) == expected


# Skeletons for the structural rule: bone heads in metres (Z up, X to the character's left) of a
# 1.7 m character in a T-pose.
Point = tuple[float, float, float]


class Skeleton:
    """Bones and rest positions, built a bone, a chain or a mirrored pair of chains at a time."""

    def __init__(self) -> None:
        self.bones: dict[str, str | None] = {}
        self.positions: dict[str, Point] = {}

    def bone(self, name: str, parent: str | None, point: Point) -> str:
        self.bones[name] = parent
        self.positions[name] = point
        return name

    def chain(self, name: str, parent: str | None, *points: Point) -> str | None:
        """Bones name1, name2 ... each the child of the one before; returns the last."""
        for i, point in enumerate(points, 1):
            parent = self.bone(f"{name}{i}", parent, point)
        return parent

    def mirrored(self, name: str, parent: str, *points: Point) -> None:
        """A chain name.L1 ... on the left (points as given) and its mirror image name.R1 ..."""
        self.chain(f"{name}.L", parent, *points)
        self.chain(f"{name}.R", parent, *((-x, y, z) for x, y, z in points))

    def renamed(self, names: dict[str, str]) -> tuple[dict[str, str | None], dict[str, Point]]:
        """Bones and positions with the bones in ``names`` renamed."""
        bones = {names.get(b, b): names.get(p, p) if p else None for b, p in self.bones.items()}
        return bones, {names.get(b, b): point for b, point in self.positions.items()}


def humanoid(
    *,
    fingers: bool = True,
    neck_bones: int = 1,
    head_end: bool = True,
    eyes: bool = False,
    twin_tails: bool = False,
    skirt: bool = False,
) -> Skeleton:
    """A Mixamo-like skeleton: Hips, Spine1, Spine2 (the chest), Neck1 ..., Head, HeadEnd."""
    s = Skeleton()
    s.bone("Hips", None, (0, 0, 0.95))
    s.mirrored("Leg", "Hips", (0.09, 0, 0.9), (0.1, 0, 0.5), (0.1, 0, 0.08), (0.1, -0.12, 0.02))
    if skirt:
        s.mirrored("Skirt", "Hips", (0.1, -0.08, 0.95), (0.14, -0.1, 0.8), (0.18, -0.11, 0.65))
    s.chain("Spine", "Hips", (0, 0, 1.05), (0, 0, 1.2))
    s.mirrored("Arm", "Spine2", (0.03, 0, 1.4), (0.16, 0, 1.42), (0.43, 0, 1.42))
    if fingers:
        for side, x in (("L", 1), ("R", -1)):
            hand = s.bone(f"Hand.{side}", f"Arm.{side}3", (0.68 * x, 0, 1.42))
            for finger, y in enumerate((-0.04, -0.02, 0, 0.02, 0.04)):
                s.chain(f"Finger{finger}.{side}", hand, *((d * x, y, 1.42) for d in (0.75, 0.8)))
    neck = s.chain("Neck", "Spine2", *((0, 0, 1.45 + 0.04 * i) for i in range(neck_bones)))
    head = s.bone("Head", neck, (0, 0, 1.45 + 0.04 * neck_bones))
    if head_end:
        s.bone("HeadEnd", head, (0, 0, 1.7))
    if eyes:
        s.mirrored("Eye", head, (0.03, -0.08, 1.6))
    if twin_tails:
        tail = [(0.09, 0.03, 1.64), (0.17, 0.06, 1.45), (0.2, 0.06, 1.2), (0.2, 0.06, 0.95)]
        s.mirrored("Tail", head, *tail)
        s.chain("Bangs", head, (0, -0.08, 1.68), (0, -0.12, 1.6))
    return s


def structural(skeleton: Skeleton) -> tuple[str, str] | None:
    """``find_head_and_neck`` of the skeleton with its bones renamed b00, b01 ..., answered in
    the bones' own names."""
    scrambled = {name: f"b{i:02d}" for i, name in enumerate(skeleton.bones)}
    found = find_head_and_neck(*skeleton.renamed(scrambled))
    own = {new: name for name, new in scrambled.items()}
    return None if found is None else (own[found[0]], own[found[1]])


@pytest.mark.parametrize(
    ("skeleton", "expected"),
    [
        (humanoid(), ("Head", "Neck1")),  # fingers, an end bone at the top of the skull
        (humanoid(eyes=True, twin_tails=True, skirt=True), ("Head", "Neck1")),  # VRoid-like
        (humanoid(fingers=False), ("Head", "Neck1")),
        (humanoid(neck_bones=2), ("Head", "Neck2")),  # the neck turning the head: its parent
        (humanoid(head_end=False), ("Head", "Neck1")),  # the head a leaf
        (humanoid(fingers=False, neck_bones=2, head_end=False), ("Head", "Neck2")),
        (humanoid(neck_bones=0, eyes=True), ("Head", "Spine2")),  # no neck: the chest
    ],
    ids=["mixamo", "vroid", "low-poly", "two-neck-bones", "leaf-head", "plain-leaf", "no-neck"],
)
def test_head_and_neck_by_structure(skeleton, expected):
    assert structural(skeleton) == expected


def test_twin_tails_with_more_bones_than_the_arms_hang_from_the_head_not_the_chest():
    """Each tail has 4 bones, each arm 3: the chest is where the widest pair branches."""
    assert structural(humanoid(fingers=False, twin_tails=True)) == ("Head", "Neck1")


def quadruped() -> Skeleton:
    """A four-legged animal: a level spine, legs down to the ground, a neck and a tail."""
    s = Skeleton()
    s.bone("Pelvis", None, (0, 0.5, 0.7))
    s.mirrored("Hind", "Pelvis", (0.15, 0.5, 0.65), (0.15, 0.5, 0.35), (0.15, 0.5, 0.02))
    s.chain("Spine", "Pelvis", (0, 0, 0.72), (0, -0.5, 0.72))
    s.mirrored("Front", "Spine2", (0.15, -0.5, 0.65), (0.15, -0.5, 0.35), (0.15, -0.5, 0.02))
    s.chain("Neck", "Spine2", (0, -0.6, 0.8), (0, -0.7, 0.95), (0, -0.85, 1.0))
    s.chain("Tail", "Pelvis", (0, 0.6, 0.7), (0, 0.8, 0.6), (0, 1.0, 0.5))
    return s


def test_no_head_from_a_skeleton_that_is_not_humanoid():
    single = Skeleton()
    single.chain("Bone", None, *((0, 0, 0.2 * i) for i in range(8)))
    tail = Skeleton()
    tail.chain("Tail", None, *((0, 0.2 * i, 1 - 0.1 * i) for i in range(6)))
    one_arm_folded = humanoid(fingers=False)  # its arms are no mirror images: no chest
    one_arm_folded.positions |= {"Arm.R2": (-0.25, 0, 1.42), "Arm.R3": (-0.12, 0, 1.42)}
    for skeleton in (single, tail, quadruped(), one_arm_folded):
        assert structural(skeleton) is None
    assert find_head_and_neck({"b0": None}, {"b0": (0, 0, 0)}) is None  # no height


def test_names_win_over_structure():
    """The chest named Head is the head, though the structure says otherwise."""
    skeleton = humanoid()
    assert find_head_and_neck(*skeleton.renamed({"Head": "Skull"})) == ("Skull", "Neck1")
    named = skeleton.renamed({"Spine2": "Head", "Head": "Skull"})
    assert find_head_and_neck(*named) == ("Head", "Spine1")


def test_every_bone_needs_a_position():
    bones, positions = humanoid().renamed({"Head": "Skull"})
    del positions["Spine1"]
    with pytest.raises(ValueError, match=r"no rest position for 1 of the 42 bones \(Spine1\)$"):
        find_head_and_neck(bones, positions)
