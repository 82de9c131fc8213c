"""A model's annotation from its sources in order (preset, name, group, inspection) and group
annotation over a collection: the pure logic, no Blender."""

import json

from dataset_builder.annotation import Annotation
from dataset_builder.annotation_sources import annotate, decide, group_mapping
from dataset_builder.build import BuildSettings
from dataset_builder.inspection import Finding
from dataset_builder.sources import procedural_sources


def test_a_name_inspection_confirms_or_cannot_check_keeps_its_target():
    confirmed = Finding(
        "Blink_L", "eye_close_L", "eye, ...: eye_close_L; the name agrees", "eye_close_L"
    )
    unchecked = Finding("ah", None, "moves too little to be seen")
    assert decide(confirmed, {}) == ("eye_close_L", "name", confirmed.reason)
    target, method, reason = decide(unchecked, {})
    assert (target, method) == ("mouth_a", "name")
    assert (
        reason
        == "the dictionary's mouth_a; inspection could not check it: moves too little to be seen"
    )


def test_a_name_that_lies_loses_to_the_measurement():
    lying = Finding(
        "blink_r", "eye_close_L", "eye: eye_close_L (its name says eye_close_R)", "eye_close_L"
    )
    contradicted = Finding("brow_angry_r", None, "brow, ...; its name says ...", "brow?_L")
    assert decide(lying, {}) == ("eye_close_L", "inspection", lying.reason)
    assert decide(contradicted, {})[:2] == (None, "inspection")


def test_the_group_mapping_comes_first_then_names_then_inspection():
    group = {"morph07": Finding("morph07", "mouth_o", "name seen in 3 models: ...")}
    findings = [
        Finding("morph_07", "mouth_a", "mouth, nearest vowel a", "mouth_a"),
        Finding("m1", "eye_close", "eye: eye_close", "eye_close"),  # inspection alone
        Finding("blink", "eye_close", "eye: eye_close; the name agrees", "eye_close"),
        Finding("tongue", None, "mouth: barely opens"),
    ]
    annotation = annotate("m", findings, group)
    assert annotation.targets == {"mouth_o": "morph_07", "eye_close": "blink"}
    assert annotation.methods == {"mouth_o": "group", "eye_close": "name"}
    assert annotation.reasons["eye_close"] == "'blink': eye: eye_close; the name agrees"
    assert annotation.declined == {
        "m1": "eye_close is already driven by 'blink' (name)",
        "tongue": "inspection: mouth: barely opens",
    }
    assert annotation.unmatched == ["m1", "tongue"] and annotation.method == "build"


def test_a_vrm_preset_ranks_ahead_of_shape_key_names_and_of_the_group_mapping():
    """VRM's ``blink`` preset and a VRoid shape key both mean eye_close: the preset drives it,
    whatever the model order; a group mapping does not override a preset the dictionary knows,
    and a preset the measurement contradicts still loses to it."""
    group = {"blink": Finding("blink", "mouth_o", "name seen in 60 models: ...")}
    findings = [
        Finding("Fcl_EYE_Close", "eye_close", "eye: eye_close; the name agrees", "eye_close"),
        Finding("blink", "eye_close", "eye: eye_close; the name agrees", "eye_close", True),
        Finding("aa", "mouth_i", "mouth: nearest vowel i", "mouth_i", True),
        Finding("joy", None, "whole face: eyes and mouth", None, True),
    ]
    annotation = annotate("m", findings, group)
    assert annotation.targets == {"eye_close": "blink", "mouth_i": "aa"}
    assert annotation.methods == {"eye_close": "preset", "mouth_i": "inspection"}
    assert annotation.declined == {
        "Fcl_EYE_Close": "eye_close is already driven by 'blink' (preset)",
        "joy": "inspection: whole face: eyes and mouth",
    }
    unchecked = Finding("ou", None, "moves too little to be seen", None, True)
    assert decide(unchecked, {})[:2] == ("mouth_u", "preset")


def test_group_mapping_counts_models_by_normalised_name_with_dictionary_or_majority():
    names = {
        "a": ["Fcl_EYE_Close", "Fcl_HA_Hide", "morph_00", "morph_00"],
        "b": ["fcl-eye-close", "Fcl_HA_Hide", "morph_00"],
        "c": ["FCL_EYE_CLOSE", "fcl_ha_hide", "rare"],
    }
    findings = [
        Finding("morph_00", "mouth_a", "..."),
        Finding("morph_00", "mouth_a", "..."),
        Finding("morph_00", None, "..."),
        Finding("Fcl_HA_Hide", None, "moves too little"),
        Finding("Fcl_HA_Hide", "mouth_u", "..."),
    ]
    group = group_mapping(names, findings, min_models=2)
    assert set(group) == {"fcleyeclose", "fclhahide", "morph00"}  # "rare": one model only
    assert group["fcleyeclose"].target == "eye_close"
    assert (
        "seen in 3 models" in group["fcleyeclose"].reason
        and "dictionary" in group["fcleyeclose"].reason
    )
    assert group["morph00"].target == "mouth_a" and "2 of 3 inspections" in group["morph00"].reason
    assert group["fclhahide"].target is None and "no majority" in group["fclhahide"].reason
    assert group_mapping(names, findings, min_models=4) == {}


def test_old_annotation_files_still_load_and_new_ones_round_trip(tmp_path):
    old = tmp_path / "old.json"
    old.write_text(
        json.dumps(
            {"method": "name", "model_id": "x", "targets": {"mouth_a": "ah"}, "unmatched": []}
        )
    )
    loaded = Annotation.load(old)
    assert loaded.methods == {} and loaded.declined == {}
    assert loaded.target_sources(["mouth_a"]) == {"name": 1}
    new = annotate("y", [Finding("ah", "mouth_a", "r", "mouth_a"), Finding("x", None, "why")])
    new.save(tmp_path / "new.json")
    assert Annotation.load(tmp_path / "new.json") == new
    assert new.source_names() == ["ah", "x"] and new.target_sources(["mouth_a"]) == {"name": 1}


def test_settings_added_later_are_left_out_at_their_defaults():
    """build.json of a folder made before group annotation still matches: it resumes."""
    sources = tuple(procedural_sources(1))
    saved = BuildSettings(sources=sources).to_json()
    assert "group_min_models" not in saved and "rename" not in saved["sources"][0]
    assert BuildSettings(sources=sources, group_min_models=2).to_json()["group_min_models"] == 2
