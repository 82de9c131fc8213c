"""Head and neck bones found by name as real rigs spell them (no Blender)."""

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
