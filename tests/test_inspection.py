"""Annotation by inspection: the decision rule on hand-made motion, and one real measurement of a
procedural character whose morph names are scrambled."""

import multiprocessing
import random
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace

import numpy as np
import pytest

from dataset_builder.inspection import inspect_model
from dataset_builder.labelled_morphs import mislabel, procedural_truth
from dataset_builder.motion import ModelMotion, MorphMotion

EYE_X = 0.11  # eye centres at 0.5 +- EYE_X; the character's left eye is on the image's right
LID_ROWS = (0.50, 0.57, 0.64)  # upper lid, middle, lower lid (image y, down)
LIDS = {  # downward motion of each row (negative: up)
    "close": (0.10, 0.04, -0.03),
    "happy": (0.04, -0.03, -0.10),
    "relaxed": (0.06, 0.035, 0.005),  # the lower lid all but still
}


def _motion(name: str, rest: list, delta: list) -> MorphMotion:
    rest, delta = np.array(rest, float), np.array(delta, float)
    keep = np.linalg.norm(delta, axis=1) > 0
    return MorphMotion(name, rest[keep], delta[keep])


def _eye(name: str, kind: str, sides: str = "LR") -> MorphMotion:
    rest, delta = [], []
    for side in sides:
        centre = 0.5 + (EYE_X if side == "L" else -EYE_X)
        for y, move in zip(LID_ROWS, LIDS[kind], strict=True):
            for u in np.linspace(-0.04, 0.04, 9):
                rest.append((centre + u, y))
                delta.append((0.0, move * (1 - 0.3 * (u / 0.04) ** 2)))
    return _motion(name, rest, delta)


def _brow(name: str, inner_lift: float, outer_lift: float, sides: str = "LR") -> MorphMotion:
    rest, delta = [], []
    for side in sides:
        sign = 1 if side == "L" else -1
        for s in np.linspace(0.0, 1.0, 12):
            rest.append((0.5 + sign * (0.06 + 0.08 * s), 0.47))
            delta.append((0.0, -(inner_lift + (outer_lift - inner_lift) * s)))
    return _motion(name, rest, delta)


def _mouth(name: str, spread: float, opening: float) -> MorphMotion:
    x = np.linspace(-0.025, 0.025, 11)
    bump = 1 - (x / 0.025) ** 2
    rest = [(0.5 + v, 0.75) for v in x] * 2
    lower = [(v * spread, opening * 0.18 * 0.8 * b) for v, b in zip(x, bump, strict=True)]
    upper = [(v * spread, -opening * 0.18 * 0.2 * b) for v, b in zip(x, bump, strict=True)]
    return _motion(name, rest, lower + upper)


def _targets(*morphs: MorphMotion) -> dict:
    model = ModelMotion("hand-made", [_eye("blink", "close"), _mouth("jaw", 0.31, 0.44), *morphs])
    return {f.name: (f.target, f.reason) for f in inspect_model(model)}


def test_eyes_sides_and_kinds_from_motion_alone():
    found = _targets(
        _eye("m1", "close", "L"),
        _eye("m2", "close", "R"),
        _eye("m3", "happy"),
        _eye("m4", "relaxed", "L"),
    )
    assert found["blink"][0] == "eye_close"
    assert found["m1"][0] == "eye_close_L" and "character's left" in found["m1"][1]
    assert found["m2"][0] == "eye_close_R"
    assert found["m3"][0] == "eye_happy" and "lower lid rises" in found["m3"][1]
    assert found["m4"][0] == "eye_relaxed_L"


def test_brows_and_vowels_from_motion_alone():
    found = _targets(
        _brow("b1", 0.03, -0.005),
        _brow("b2", -0.025, 0.01, "R"),
        _brow("b3", 0.03, 0.03, "L"),
        _mouth("v1", 0.51, 0.11),
        _mouth("v2", -0.38, 0.2),
    )
    assert found["jaw"][0] == "mouth_a"
    assert found["b1"][0] == "brow_troubled"
    assert found["b2"][0] == "brow_angry_R"
    assert found["b3"][0] == "brow_raised_L"
    assert found["v1"][0] == "mouth_i" and found["v2"][0] == "mouth_u"


def test_a_name_that_lies_is_caught():
    found = _targets(_eye("blink_r", "close", "L"), _eye("Fcl_EYE_Joy", "close"))
    assert (
        found["blink_r"]
        == (
            "eye_close_L",
            found["blink_r"][1],
        )
        and "its name says eye_close_R" in found["blink_r"][1]
    )
    assert found["Fcl_EYE_Joy"][0] == "eye_close"


def test_doubt_declines_with_a_reason():
    lopsided = _eye("m1", "close")
    lopsided.delta[lopsided.rest[:, 0] > 0.5] *= 0.3
    whole_face = _eye("m2", "close")
    mouth = _mouth("", 0.31, 0.44)
    whole_face = MorphMotion(
        "m2",
        np.concatenate([whole_face.rest, mouth.rest]),
        np.concatenate([whole_face.delta, 3 * mouth.delta]),
    )
    tiny = _mouth("m3", 0.0, 0.001)
    found = _targets(lopsided, whole_face, tiny)
    assert found["m1"][0] is None and "lopsided" in found["m1"][1]
    assert found["m2"][0] is None and "whole-face" in found["m2"][1]
    assert found["m3"][0] is None


def test_an_undecided_kind_keeps_a_name_only_in_its_part_and_side():
    def unclear(name: str) -> MorphMotion:  # lifts the inner end more, but not by enough to tell
        return _brow(name, 0.02, 0.006, "L")

    found = _targets(unclear("brow_angry_l"), unclear("brow_angry_r"), unclear("m1"))
    assert (
        found["brow_angry_l"][0] == "brow_angry_L"
        and "fits part and side" in found["brow_angry_l"][1]
    )
    assert found["brow_angry_r"][0] is None
    assert found["m1"][0] is None and "cannot tell" in found["m1"][1]


def test_mislabelled_names_are_unique_and_cover_every_morph():
    truth = procedural_truth(3)
    rename, modes = mislabel(truth, random.Random(1))
    assert set(rename) == set(truth)
    assert len(set(rename.values())) == len(truth) == len(modes)


@pytest.fixture(scope="module")
def scrambled_character():
    from dataset_builder.sources import procedural_sources
    from dataset_builder.worker import run_job

    truth = procedural_truth(0)
    rename = {name: f"morph_{i:02d}" for i, name in enumerate(truth)}
    source = replace(procedural_sources(1, 0)[0], rename=tuple(rename.items()))
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        motion = pool.submit(run_job, "measure_morphs", source, 96).result()
    return motion, {rename[name]: target for name, target in truth.items()}


def test_a_procedural_character_with_scrambled_names(scrambled_character):
    motion, truth = scrambled_character
    assert all(isinstance(m.rest, np.ndarray) for m in motion.morphs)
    found = {f.name: f.target for f in inspect_model(motion)}
    wanted = {
        "eye_close_L",
        "eye_happy",
        "eye_relaxed_R",
        "brow_troubled_L",
        "brow_angry",
        "mouth_u",
    }
    checked = {target for name, target in truth.items() if target in wanted}
    assert checked == wanted  # character 0 has them all
    for name, target in truth.items():
        if target in wanted:
            assert found[name] == target, (name, target, found[name])
    assert all(found[name] is None for name, target in truth.items() if target is None)
