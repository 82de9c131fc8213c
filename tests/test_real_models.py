"""Builds from third-party models in ../shared/models/ (skipped with a message when absent)."""

import json
import struct
import subprocess
import sys

import pyarrow.parquet as pq
import pytest

from dataset_builder.sources import file_sources
from dataset_builder.vrm import gltf_json

GODETTE_ATTRIBUTION = (
    '"Low-Poly Godette" by SirRichard94, VRM adaptation by Lyuma; distributed in the '
    "V-Sekai/godot-vrm repository (vrm_samples/)"
)


def build_godette_variant(model, out, *, samples: int = 1) -> subprocess.CompletedProcess:
    """`dataset_builder build` of one variant of the shared character, small and fast."""
    command = [sys.executable, "-m", "dataset_builder", "build", "--out", str(out)]
    command += ["--models", str(model), "--license", "cc-by-3.0", "--attribution", "Godette"]
    command += ["--workers", "1", "--resolution", "64", "--styles", "original"]
    command += ["--samples-per-model", str(samples), "--no-progress"]
    return subprocess.run(command, capture_output=True, text=True, timeout=600)


def build_renamed_godette(godette, out, rename: dict[str, str]):
    """Godette exported to .glb with her shape keys renamed, built into ``out``: (the .glb, the
    model's annotation file)."""
    from dataset_builder.worker import run_in_blender

    glb = out.parent / "models" / f"{out.name}.glb"
    names = run_in_blender("convert_model", file_sources([godette])[0], str(glb), rename)
    assert set(rename.values()) <= set(names) and not set(rename) & set(names)
    result = build_godette_variant(glb, out)
    assert result.returncode == 0, result.stderr[-3000:]
    (annotation_file,) = (out / "annotations").glob("gltf-*.json")
    return glb, annotation_file


def with_json(source, path, change) -> None:
    """Write ``source`` (a binary glTF) to ``path`` with its JSON chunk changed by ``change``."""
    data = source.read_bytes()
    document = gltf_json(source)
    change(document)
    chunk = json.dumps(document).encode()
    chunk += b" " * (-len(chunk) % 4)
    rest = data[20 + int.from_bytes(data[12:16], "little") :]  # the BIN chunk
    body = struct.pack("<I4s", len(chunk), b"JSON") + chunk + rest
    path.write_bytes(struct.pack("<4sII", b"glTF", 2, 12 + len(body)) + body)


@pytest.fixture(scope="module")
def godette(shared_models):
    path = shared_models / "Godette_vrm_v4.vrm"
    if not path.is_file():
        pytest.skip(f"{path} not found")
    return path


def test_vrm_meta_gives_licence_and_author(godette):
    source = file_sources([godette])[0]
    assert source.kind == "vrm" and source.model_id.startswith("vrm-")
    assert source.license == "cc-by" and "SirRichard94" in source.attribution
    assert godette.name not in source.model_id


def test_build_from_a_vrm_model(godette, tmp_path):
    out = tmp_path / "godette"
    args = ["--resolution", "64", "--styles", "original", "--samples-per-model", "2"]
    command = [sys.executable, "-m", "dataset_builder", "build", "--out", str(out)]
    command += ["--models", str(godette), "--license", "cc-by-3.0"]
    command += ["--attribution", GODETTE_ATTRIBUTION, "--workers", "1", *args]
    result = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]

    (annotation_file,) = (out / "annotations").glob("vrm-*.json")
    annotation = json.loads(annotation_file.read_text())
    # Godette's VRM presets rank ahead of its shape keys (blink_l binds the shape key
    # blink_left, which closes the character's own left eye; a binds ah ...); the brow has no
    # preset and maps by its shape key's name. The shape keys the presets bind are declined.
    assert annotation["targets"] == {
        "eye_close": "blink",
        "eye_close_L": "blink_l",
        "eye_close_R": "blink_r",
        "brow_angry": "angled_eyebrows",
        "mouth_a": "a",
        "mouth_i": "i",
        "mouth_u": "u",
        "mouth_e": "e",
        "mouth_o": "o",
    }
    assert annotation["methods"] == {
        target: "name" if target == "brow_angry" else "preset" for target in annotation["targets"]
    }
    assert (
        annotation["declined"]["blink_left"]
        == "eye_close_L is already driven by 'blink_l' (preset)"
    )
    rows = pq.read_table(sorted((out / "hub" / "data").glob("*.parquet"))).to_pylist()
    assert len(rows) == 1 + 2 * 2
    assert {r["license"] for r in rows} == {"cc-by-3.0"}
    assert {r["attribution"] for r in rows} == {GODETTE_ATTRIBUTION}
    assert {r["source"] for r in rows} == {"vrm"}
    card = (out / "hub" / "README.md").read_text()
    assert "license: cc-by-3.0" in card and "SirRichard94" in card


def test_the_vrm_exported_to_glb_builds_through_its_renamed_bones(godette, tmp_path):
    """Blender's glTF export names the bones head_Armature / neck_Armature: found by name."""
    from dataset_builder.worker import run_in_blender

    glb = tmp_path / "godette.glb"
    run_in_blender("convert_model", file_sources([godette])[0], str(glb))
    bones = {node.get("name") for node in gltf_json(glb)["nodes"]}
    assert {"head_Armature", "neck_Armature"} <= bones and "head" not in bones

    out = tmp_path / "from-glb"
    result = build_godette_variant(glb, out, samples=2)
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads((out / "report.json").read_text())["summary"]
    assert report["models_rendered"] == 1 and not report["models_skipped"]


def test_a_rig_whose_bone_names_say_nothing_builds_from_its_skeleton(godette, tmp_path):
    """Every bone renamed b00, b01 ...: the head and neck are found from the skeleton."""
    import io

    import numpy as np
    import PIL.Image

    from dataset_builder.worker import run_in_blender

    glb = tmp_path / "models" / "nameless.glb"
    nodes = [node.get("name") for node in gltf_json(godette)["nodes"]]
    scrambled = {name: f"b{i:02d}" for i, name in enumerate(nodes)}  # meshes are left as named
    run_in_blender("convert_model", file_sources([godette])[0], str(glb), rename_bones=scrambled)
    assert not {"head_Armature", "neck_Armature"} & {n.get("name") for n in gltf_json(glb)["nodes"]}
    basis = PIL.Image.open(io.BytesIO(_basis_image(glb, tmp_path / "nameless")))
    assert (np.asarray(basis.convert("RGBA"))[..., 3] > 128).mean() > 0.2, "no head framed"


def test_an_expression_bound_to_a_missing_morph_is_left_out_in_one_line(godette, tmp_path):
    """The "a" preset pointed at morph target 99 (the face has 16): one warning line, and the
    mouth opens through the shape key's own name instead."""

    def break_a(document):
        (group,) = (
            g
            for g in document["extensions"]["VRM"]["blendShapeMaster"]["blendShapeGroups"]
            if g["presetName"] == "a"
        )
        group["binds"][0]["index"] = 99

    broken = tmp_path / "broken-a.vrm"
    with_json(godette, broken, break_a)
    command = [sys.executable, "-m", "dataset_builder", "render", "--model", str(broken)]
    command += ["--pose", ",".join(["0"] * 12 + ["1"] + ["0"] * 7), "--resolution", "64"]
    result = subprocess.run(
        [*command, "--out", str(tmp_path / "out")], capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stderr[-3000:]
    warning = f"{broken}: VRM expression 'a' binds morph target 99 of mesh 0, which the file does "
    (line,) = [line for line in result.stderr.splitlines() if warning in line]
    assert line.endswith("not have; left out") and "Traceback" not in result.stderr
    assert len(list((tmp_path / "out").glob("*.png"))) == 1


def test_a_truncated_vrm_is_skipped_with_one_line(godette, tmp_path):
    models = tmp_path / "models"
    models.mkdir()
    data = godette.read_bytes()
    (models / "half.vrm").write_bytes(data[: len(data) // 2])
    out = tmp_path / "truncated"
    command = [sys.executable, "-m", "dataset_builder", "build", "--out", str(out)]
    command += ["--models", str(models), "--procedural", "1", "--workers", "1"]
    command += [
        "--resolution",
        "64",
        "--styles",
        "cel",
        "--samples-per-model",
        "1",
        "--no-progress",
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    (reason,) = json.loads((out / "report.json").read_text())["summary"]["models_skipped"].values()
    assert "\n" not in reason.strip() and "Traceback" not in reason
    assert (
        f"half.vrm: truncated: {len(data) // 2} bytes where its header declares {len(data)}"
        in reason
    )


def test_mmd_names_map_by_the_dictionary_and_the_pixels_settle_a_wink_s_side(godette, tmp_path):
    """Godette's morphs renamed as an MMD model names them, with the winks on the sides a
    model of the other convention would give them: ウィンク２右 (MMD: the right eye) closes her
    left eye, so inspection maps it to eye_close_L against its name; the vowels and the brow
    keep their dictionary targets."""
    mmd = {"blink_left": "ウィンク２右", "blink_right": "ウィンク２", "ah": "あ", "ih": "い"}
    mmd |= {"uu": "う", "ee": "え", "oh": "お", "angled_eyebrows": "怒り"}
    _, annotation_file = build_renamed_godette(godette, tmp_path / "mmd", mmd)
    annotation = json.loads(annotation_file.read_text())
    assert annotation["targets"] == {
        "eye_close_L": "ウィンク２右",
        "eye_close_R": "ウィンク２",
        "brow_angry": "怒り",
        "mouth_a": "あ",
        "mouth_i": "い",
        "mouth_u": "う",
        "mouth_e": "え",
        "mouth_o": "お",
    }
    assert annotation["methods"]["eye_close_L"] == "inspection"
    assert "its name says eye_close_R" in annotation["reasons"]["eye_close_L"]
    assert {annotation["methods"][t] for t in ("mouth_a", "brow_angry")} == {"name"}


def test_morphs_renamed_as_whole_face_expressions_are_found_by_inspection(godette, tmp_path):
    """Morphs renamed as whole-face expressions match no name: inspection finds the winks, "ih"
    and the angry brows by what they move and declines the rest with its reasons; a person's
    edit of the annotation file then wins when the model is rendered again."""
    faces = {"blink_left": "Angry", "blink_right": "Surprised", "ah": "Sad", "ih": "joy"}
    faces |= {"uu": "Fun", "ee": "Sorrow", "oh": "Shout", "angled_eyebrows": "Mad"}
    out = tmp_path / "renamed"
    glb, annotation_file = build_renamed_godette(godette, out, faces)
    annotation = json.loads(annotation_file.read_text())
    assert annotation["targets"] == {
        "eye_close_L": "Angry",
        "eye_close_R": "Surprised",
        "mouth_i": "joy",
        "brow_angry": "Mad",
    }
    assert set(annotation["methods"].values()) == {"inspection"}
    assert "no vowel within reach" in annotation["declined"]["Sad"]

    annotation["targets"] = {"mouth_a": "Sad", "eye_close_L": "Angry"}
    annotation["method"] = "person"
    del annotation["methods"]
    annotation_file.write_text(json.dumps(annotation))
    for part in (out / "render").glob("*.parquet"):
        part.unlink()
    result = build_godette_variant(glb, out)
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads((out / "report.json").read_text())
    assert report["summary"]["targets_by_source"] == {"person": 2}
    import io

    import numpy as np
    import PIL.Image

    rows = pq.read_table(sorted((out / "hub" / "data").glob("*.parquet"))).to_pylist()
    basis = np.asarray(PIL.Image.open(io.BytesIO(rows[0]["image"]["bytes"])).convert("RGBA"), int)
    seen = basis[..., 3] > 128
    magenta = (basis[..., 0] > 200) & (basis[..., 1] < 60) & (basis[..., 2] > 200) & seen
    black = (basis[..., :3].max(axis=2) < 20) & seen
    assert magenta.mean() < 0.01 and black.sum() < 0.5 * seen.sum(), "missing textures rendered"


def _basis_image(glb, out):
    result = build_godette_variant(glb, out)
    assert result.returncode == 0, result.stderr[-3000:]
    rows = pq.read_table(sorted((out / "hub" / "data").glob("*.parquet"))).to_pylist()
    (basis,) = [r for r in rows if r["group"] == 0]  # ClassLabel: basis is 0
    return basis["image"]["bytes"]


def test_a_model_that_came_with_an_animation_renders_in_its_rest_pose(godette, tmp_path):
    """The same model with and without a head-turning animation: the same basis image."""
    from dataset_builder.worker import run_in_blender

    source = file_sources([godette])[0]
    still, animated = tmp_path / "still" / "still.glb", tmp_path / "animated" / "animated.glb"
    run_in_blender("convert_model", source, str(still))
    run_in_blender("convert_model", source, str(animated), head_animation_degrees=12.0)
    assert gltf_json(animated).get("animations"), "the variant carries no animation"
    assert _basis_image(still, tmp_path / "b1") == _basis_image(animated, tmp_path / "b2")


def test_a_head_mesh_parented_to_the_head_bone_is_framed_and_turned(godette, tmp_path):
    """The VRM's meshes unskinned and parented to the head bone (as low-poly characters and glTF
    exports have their head): no vertex is weighted to the head, yet the model is framed on
    those meshes, renders, and turns with the head."""
    from dataset_builder.worker import run_in_blender

    glb = tmp_path / "rigid" / "rigid.glb"
    source = file_sources([godette])[0]
    run_in_blender("convert_model", source, str(glb), parent_to_head=["Face", "Body"])
    gltf = gltf_json(glb)
    for name in ("Face", "Body"):
        mesh = next(i for i, n in enumerate(gltf["nodes"]) if n.get("name") == name)
        assert "skin" not in gltf["nodes"][mesh]
        parents = [n.get("name") for n in gltf["nodes"] if mesh in n.get("children", [])]
        assert parents == ["head_Armature"]

    out = tmp_path / "rigid-build"
    command = [sys.executable, "-m", "dataset_builder", "render", "--model", str(glb)]
    command += ["--pose", ",".join(["0"] * 20), "--pose", ",".join(["0"] * 17 + ["20", "0", "0"])]
    command += ["--style", "original", "--resolution", "64", "--out", str(out)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    import numpy as np
    import PIL.Image

    neutral, turned = (np.asarray(PIL.Image.open(p), float) for p in sorted(out.glob("*.png")))
    assert np.abs(neutral - turned).mean() > 2.0, "the meshes did not turn with the head"


def test_the_vrm_exported_to_fbx_builds(godette, tmp_path):
    """FBX, what most characters for Unity ship as, through Blender's bundled importer."""
    from dataset_builder.worker import run_in_blender

    fbx = tmp_path / "models" / "godette.fbx"
    run_in_blender("convert_model", file_sources([godette])[0], str(fbx))
    assert fbx.read_bytes().startswith(b"Kaydara FBX Binary")
    (source,) = file_sources([fbx])
    assert source.kind == "fbx" and source.model_id.startswith("fbx-")
    out = tmp_path / "from-fbx"
    result = build_godette_variant(fbx, out)
    assert result.returncode == 0, result.stderr[-3000:]
    (annotation_file,) = (out / "annotations").glob("fbx-*.json")
    targets = json.loads(annotation_file.read_text())["targets"]
    assert {"mouth_a": "ah", "eye_close_L": "blink_left"}.items() <= targets.items()
    report = json.loads((out / "report.json").read_text())["summary"]
    assert report["models_rendered"] == 1


def test_materials_whose_textures_are_missing_fall_back_to_their_base_colour(godette, tmp_path):
    """The FBX export names its textures in textures/ beside the file, which is not written:
    a textured material (the backpack's; the unlit face and body export untextured) has an
    image with no data (Cycles draws it magenta). It renders from its base colour instead, in a
    style's material and in ``original``, never magenta or black."""
    import numpy as np
    import PIL.Image

    from dataset_builder.worker import run_in_blender

    fbx = tmp_path / "models" / "godette.fbx"
    run_in_blender("convert_model", file_sources([godette])[0], str(fbx))
    assert b"textures/" in fbx.read_bytes()
    assert not (fbx.parent / "textures").exists()
    fallbacks = run_in_blender("material_fallbacks", file_sources([fbx])[0])
    missing = f"image 'fabricpalette' has no data ({fbx.parent}/textures/packed/fabricpalette)"
    assert fallbacks["Backpack"][0] == missing
    assert all(max(colour) > 0.2 for _, colour in fallbacks.values()), fallbacks
    for style in ("cel", "original"):
        out = tmp_path / style
        command = [sys.executable, "-m", "dataset_builder", "render", "--model", str(fbx)]
        command += ["--pose", ",".join(["0"] * 20), "--style", style]
        command += ["--resolution", "64", "--out", str(out)]
        result = subprocess.run(command, capture_output=True, text=True, timeout=600)
        assert result.returncode == 0, result.stderr[-3000:]
        assert "'fabricpalette' has no data" in result.stderr
        (png,) = out.glob("*.png")
        image = np.asarray(PIL.Image.open(png).convert("RGBA"), int)
        seen = image[..., 3] > 128
        magenta = (image[..., 0] > 200) & (image[..., 1] < 60) & (image[..., 2] > 200) & seen
        black = (image[..., :3].max(axis=2) < 20) & seen
        assert seen.mean() > 0.2, f"{style}: no head framed"
        assert not magenta.any(), f"{style}: {magenta.sum()} magenta pixels"
        assert black.sum() < 0.05 * seen.sum(), f"{style}: {black.sum()} black pixels"


def test_the_vrm_s_own_materials_are_rendered_as_they_are(godette):
    """No false alarm: every material of the VRM (its glTF materials, textures packed in the
    file) renders in Cycles."""
    from dataset_builder.worker import run_in_blender

    fallbacks = run_in_blender("material_fallbacks", file_sources([godette])[0])
    assert {"Face", "Body"} <= set(fallbacks)
    assert {name: reason for name, (reason, _) in fallbacks.items() if reason} == {}
