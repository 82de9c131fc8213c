"""Reading a VRM's humanoid and expressions from its glTF JSON (no Blender)."""

import json
import struct

import pytest

from dataset_builder.vrm import VrmBind, VrmExpression, read_vrm

NODES = [{"name": "Hips"}, {"name": "Neck"}, {}, {"name": "Face", "mesh": 1}]
MESHES = [
    {"name": "Body"},
    {"primitives": [{"extras": {"targetNames": ["Fcl_EYE_Close", "Fcl_MTH_A"]}}]},
]


def write_glb(path, document: dict) -> None:
    data = json.dumps(document).encode()
    data += b" " * (-len(data) % 4)
    chunk = struct.pack("<I4s", len(data), b"JSON") + data
    path.write_bytes(struct.pack("<4sII", b"glTF", 2, 12 + len(chunk)) + chunk)


def test_a_vrm0_file_gives_its_humanoid_presets_and_scaled_weights(tmp_path):
    extension = {
        "humanoid": {"humanBones": [{"bone": "neck", "node": 1}, {"bone": "head", "node": 2}]},
        "blendShapeMaster": {
            "blendShapeGroups": [
                {"name": "Blink", "presetName": "blink", "binds": [{"mesh": 1, "index": 0}]},
                {"name": "A", "presetName": "a", "binds": [{"mesh": 1, "index": 1, "weight": 50}]},
                {"name": "Smirk", "presetName": "unknown", "binds": []},
            ]
        },
    }
    path = tmp_path / "model.vrm"
    write_glb(path, {"nodes": NODES, "meshes": MESHES, "extensions": {"VRM": extension}})
    rig = read_vrm(path)
    assert (rig.spec, rig.head, rig.neck) == ("0.x", "Node_2", "Neck")  # unnamed: Blender's name
    assert rig.mesh_names == ("Body", "Mesh_1")
    assert rig.morph_names == ((), ("Fcl_EYE_Close", "Fcl_MTH_A"))
    assert rig.expressions == (
        VrmExpression("blink", True, (VrmBind(1, 0, 1.0),)),
        VrmExpression("a", True, (VrmBind(1, 1, 0.5),)),
        VrmExpression("Smirk", False, ()),
    )


def test_a_vrm1_file_binds_through_nodes_and_keeps_custom_expressions_apart(tmp_path):
    extension = {
        "humanoid": {"humanBones": {"head": {"node": 1}, "hips": {"node": 0}}},
        "expressions": {
            "preset": {"blinkLeft": {"morphTargetBinds": [{"node": 3, "index": 0, "weight": 1}]}},
            "custom": {"wink": {"morphTargetBinds": [{"node": 3, "index": 1, "weight": 0.3}]}},
        },
    }
    path = tmp_path / "model.vrm"
    write_glb(path, {"nodes": NODES, "meshes": MESHES, "extensions": {"VRMC_vrm": extension}})
    rig = read_vrm(path)
    assert (rig.spec, rig.head, rig.neck) == ("1.0", "Neck", None)
    assert rig.expressions == (
        VrmExpression("blinkLeft", True, (VrmBind(1, 0, 1.0),)),
        VrmExpression("wink", False, (VrmBind(1, 1, 0.3),)),
    )


@pytest.mark.parametrize(
    ("extensions", "message"),
    [
        ({}, "no VRM or VRMC_vrm extension: a glTF file (rename it .glb)"),
        (
            {"VRMC_vrm": {"expressions": {"preset": {"aa": {"morphTargetBinds": [{"node": 9}]}}}}},
            "unreadable VRM extension (list index out of range)",
        ),
    ],
)
def test_a_file_that_is_no_vrm_or_a_broken_one_is_named_in_one_line(tmp_path, extensions, message):
    path = tmp_path / "model.vrm"
    write_glb(path, {"nodes": NODES, "meshes": MESHES, "extensions": extensions})
    with pytest.raises(ValueError) as error:
        read_vrm(path)
    assert str(error.value) == f"{path}: {message}"
