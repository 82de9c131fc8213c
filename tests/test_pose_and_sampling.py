"""The pose layout, annotation by name and sampling: pure Python, no Blender."""

import subprocess
import sys

import numpy as np
import pytest

from animeceleb.pose import (
    POSE_DIM,
    POSE_INDEX,
    POSE_NAMES,
    TARGET_MORPH_NAMES,
    morphs_from_pose,
    pose_from_morphs,
    showable_pose,
    validate_pose,
)
from animeceleb.sampling import identity_split
from dataset_builder.annotation import NAME_DICTIONARY, Annotation, annotate_by_name
from dataset_builder.sampling import render_items
from dataset_builder.styles import parse_styles


def test_layout_matches_design():
    assert POSE_DIM == len(POSE_NAMES) == 20
    assert POSE_NAMES[:2] == ("eye_close_L", "eye_close_R")
    assert POSE_NAMES[12:17] == ("mouth_a", "mouth_i", "mouth_u", "mouth_e", "mouth_o")
    assert POSE_NAMES[17:] == ("yaw", "pitch", "roll")
    assert len(TARGET_MORPH_NAMES) == 23


def test_both_side_morph_fills_left_and_right():
    pose = pose_from_morphs({"brow_angry": 0.4, "eye_close_R": 0.7, "mouth_o": 1.0}, (5, -3, 2))
    assert (
        pose[POSE_INDEX["brow_angry_L"]] == pose[POSE_INDEX["brow_angry_R"]] == pytest.approx(0.4)
    )
    assert pose[POSE_INDEX["eye_close_R"]] == pytest.approx(0.7)
    assert pose[POSE_INDEX["eye_close_L"]] == 0
    assert pose.dtype == np.float32 and list(pose[17:]) == [5, -3, 2]
    assert morphs_from_pose(pose, TARGET_MORPH_NAMES) == pytest.approx(
        {"brow_angry": 0.4, "eye_close_R": 0.7, "mouth_o": 1.0}
    )


def test_a_pose_is_cut_to_what_a_model_can_show():
    pose = pose_from_morphs({"mouth_i": 0.8, "mouth_a": 0.5, "brow_raised": 0.3}, (10, 0, -4))
    pose[POSE_INDEX["eye_close_L"]], pose[POSE_INDEX["eye_close_R"]] = 0.9, 0.5  # a wink
    pose[POSE_INDEX["eye_happy_L"]] = pose[POSE_INDEX["eye_happy_R"]] = 0.6
    available = ["mouth_a", "eye_close", "brow_raised_L", "brow_raised_R", "eye_happy_L"]
    shown = showable_pose(pose, available)
    assert list(shown[17:]) == [10, 0, -4]  # the angles are kept
    assert shown[POSE_INDEX["mouth_i"]] == 0 and shown[POSE_INDEX["mouth_a"]] == pytest.approx(0.5)
    # a wink on a model with only the both-side morph: both sides take the mean
    assert (
        shown[POSE_INDEX["eye_close_L"]] == shown[POSE_INDEX["eye_close_R"]] == pytest.approx(0.7)
    )
    assert (
        shown[POSE_INDEX["brow_raised_L"]]
        == shown[POSE_INDEX["brow_raised_R"]]
        == pytest.approx(0.3)
    )
    # equal sides, one side's morph only: that side stays, the other is dropped
    assert shown[POSE_INDEX["eye_happy_L"]] == pytest.approx(0.6)
    assert shown[POSE_INDEX["eye_happy_R"]] == 0
    assert morphs_from_pose(shown, available) == pytest.approx(
        {
            "mouth_a": 0.5,
            "eye_close": 0.7,
            "brow_raised_L": 0.3,
            "brow_raised_R": 0.3,
            "eye_happy_L": 0.6,
        }
    )
    with pytest.raises(ValueError, match="no target morph"):
        morphs_from_pose(pose, available)
    assert np.array_equal(showable_pose(pose, TARGET_MORPH_NAMES), pose)


@pytest.mark.parametrize(
    ("pose", "message"),
    [
        ([0.0] * 19, "expected 20 values"),
        ([0.0] * 17 + [25.0, 0, 0], "yaw = 25 is outside its range"),
        ([1.5] + [0.0] * 19, "eye_close_L = 1.5 is outside its range"),
        ([float("nan")] + [0.0] * 19, "finite"),
    ],
)
def test_bad_pose_is_named(pose, message):
    with pytest.raises(ValueError, match=message):
        validate_pose(pose)


def test_annotation_covers_every_scheme(tmp_path):
    for target, schemes in NAME_DICTIONARY.items():
        for names in schemes.values():
            for name in names:
                variant = name.upper().replace("_", "-") if name.isascii() else name
                assert annotate_by_name("m", [variant]).targets == {target: variant}
    annotation = annotate_by_name(
        "m", ["まばたき", "Fcl_MTH_A", "瞳小", "eyeBlinkLeft", "cheekPuff"]
    )
    assert annotation.targets == {
        "eye_close": "まばたき",
        "mouth_a": "Fcl_MTH_A",
        "eye_close_L": "eyeBlinkLeft",
    }
    assert annotation.unmatched == ["瞳小", "cheekPuff"]
    annotation.save(tmp_path / "m.json")
    assert Annotation.load(tmp_path / "m.json") == annotation
    (tmp_path / "bad.json").write_text('{"model_id": "m", "targets": {"eye_shut": "x"}}')
    with pytest.raises(ValueError, match="bad.json: unknown target morphs"):
        Annotation.load(tmp_path / "bad.json")
    (tmp_path / "broken.json").write_text("{not json")
    with pytest.raises(ValueError, match="broken.json: not an annotation"):
        Annotation.load(tmp_path / "broken.json")


# Written by hand from each convention's documentation, not from NAME_DICTIONARY, so a swapped or
# misplaced entry in the dictionary fails here. Left/right are the character's own.
HAND_WRITTEN_MAPPINGS = {
    "vrm": {
        "blink": "eye_close",
        "blink_l": "eye_close_L",
        "blink_r": "eye_close_R",
        "blinkLeft": "eye_close_L",
        "blinkRight": "eye_close_R",
        "a": "mouth_a",
        "i": "mouth_i",
        "u": "mouth_u",
        "e": "mouth_e",
        "o": "mouth_o",
    },
    "vroid": {
        "Fcl_EYE_Close": "eye_close",
        "Fcl_EYE_Close_L": "eye_close_L",
        "Fcl_EYE_Close_R": "eye_close_R",
        "Fcl_EYE_Joy_L": "eye_happy_L",
        "Fcl_EYE_Joy_R": "eye_happy_R",
        "Fcl_BRW_Angry_L": "brow_angry_L",
        "Fcl_BRW_Surprised_R": "brow_raised_R",
        "Fcl_MTH_A": "mouth_a",
        "Fcl_MTH_O": "mouth_o",
    },
    "arkit": {
        "eyeBlinkLeft": "eye_close_L",
        "eyeBlinkRight": "eye_close_R",
        "eyeSquintLeft": "eye_relaxed_L",
        "browDownRight": "brow_angry_R",
        "browOuterUpLeft": "brow_raised_L",
        "jawOpen": "mouth_a",
        "mouthFunnel": "mouth_o",
    },
    "mmd": {
        "まばたき": "eye_close",
        "笑い": "eye_happy",
        # MMD: ウィンク/ウィンク右 are the smiling winks (with 笑い), ウィンク２/ウィンク２右 the
        # plain closed eye (with まばたき)
        "ウィンク": "eye_happy_L",
        "ウィンク右": "eye_happy_R",
        "ウィンク２": "eye_close_L",
        "ウィンク２右": "eye_close_R",
        "あ": "mouth_a",
        "お": "mouth_o",
    },
}


@pytest.mark.parametrize("scheme", sorted(HAND_WRITTEN_MAPPINGS))
def test_names_map_to_the_targets_their_convention_means(scheme):
    for name, target in HAND_WRITTEN_MAPPINGS[scheme].items():
        assert annotate_by_name("m", [name]).targets == {target: name}, name


def test_sampling_follows_the_paper():
    items = render_items("procedural-000007", TARGET_MORPH_NAMES, seed=3)
    assert [i.group for i in items[:3]] == ["basis", "frontal", "rotated"]
    assert len(items) == 1 + 2 * 100
    frontal, rotated = items[1::2], items[2::2]
    for f, r in zip(frontal, rotated, strict=True):
        assert f.pair_id == r.pair_id and f.morphs == r.morphs
        assert f.angles == (0, 0, 0) and all(-20 <= a <= 20 for a in r.angles)
        assert {n.split("_")[0] for n in f.morphs} == {"eye", "brow", "mouth"}
        assert all(0 <= v <= 1 for v in f.morphs.values())
    poor = render_items("m", ["eye_close", "mouth_a", "mouth_o"], seed=3)
    assert len(poor) == 1 + 2 * 20
    assert all(set(i.morphs) <= {"eye_close", "mouth_a", "mouth_o"} for i in poor)


def test_sampling_is_deterministic_and_differs_by_model():
    a = [i.pose for i in render_items("model-a", TARGET_MORPH_NAMES, seed=0, n_samples=5)]
    b = [i.pose for i in render_items("model-a", TARGET_MORPH_NAMES, seed=0, n_samples=5)]
    c = [i.pose for i in render_items("model-b", TARGET_MORPH_NAMES, seed=0, n_samples=5)]
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    assert not all(np.array_equal(x, y) for x, y in zip(a, c, strict=True))


def test_identity_split_is_stable_and_near_eight_percent():
    ids = [f"procedural-{i:06d}" for i in range(5000)]
    test_fraction = sum(identity_split(i) == "test" for i in ids) / len(ids)
    assert 0.06 < test_fraction < 0.10
    script = "from animeceleb.sampling import identity_split as s; print(s('procedural-000123'))"
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == identity_split("procedural-000123")


def test_style_parsing():
    assert parse_styles("all") == ("cel", "cel_outline", "soft", "original")
    assert parse_styles("soft, cel") == ("soft", "cel")
    with pytest.raises(ValueError, match="unknown style 'toon'"):
        parse_styles("cel,toon")


def test_package_import_is_light():
    code = (
        "import sys, dataset_builder, dataset_builder.cli; "
        "print('bpy' in sys.modules, 'torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]
