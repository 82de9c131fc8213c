"""Whole builds through the CLI: determinism, load_dataset round trip, resume after a kill, and
clear errors for bad input. Real Blender renders at small size."""

import io
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np
import PIL.Image
import pyarrow.parquet as pq
import pytest
from datasets import load_dataset
from huggingface_hub import DatasetCard

from animeceleb.sampling import identity_split
from dataset_builder.cli import main
from dataset_builder.features import decode_rows, example_key

BUILD_ARGS = ["--resolution", "64", "--styles", "cel,soft", "--samples-per-model", "2"]
IMAGES_PER_MODEL = 2 * (1 + 2 * 2)  # styles x (basis + frontal/rotated pairs)
# Procedural characters 8 and 9: by the identity split, 8 is a train and 9 a test identity.
TWO_SPLITS = ["--procedural", "2", "--first-seed", "8"]


def _cli(*args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "dataset_builder", *args],
        capture_output=True,
        text=True,
        timeout=600,
        **kwargs,
    )


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("build") / "a"
    result = _cli("build", "--out", str(out), *TWO_SPLITS, "--workers", "2", *BUILD_ARGS)
    assert result.returncode == 0, result.stderr[-3000:]
    return out


def _rows(hub: Path) -> list[dict]:
    """The published rows with label names and PNG bytes."""
    return decode_rows(pq.read_table(sorted((hub / "data").glob("*.parquet"))))


def test_build_writes_hub_layout_and_report(built):
    hub = built / "hub"
    shards = sorted(p.name for p in (hub / "data").glob("*.parquet"))
    assert shards and all(s.split("-")[0] in {"train", "test"} and "-of-" in s for s in shards)
    card = (hub / "README.md").read_text()
    assert card.startswith("---\n") and "configs:" in card and "pose_dims:" in card
    assert "license: cc-by-4.0" in card and (hub / "samples" / "contact_sheet.png").is_file()
    settings = json.loads((built / "build.json").read_text())
    assert DatasetCard.load(hub / "README.md").data.resolution == settings["resolution"] == 64
    assert "- `image`: RGBA PNG, 64 x 64 pixels," in card
    annotation = json.loads((built / "annotations" / "procedural-000008.json").read_text())
    assert set(annotation["methods"].values()) == {"name"}  # checked by inspection in the worker
    assert set(annotation["reasons"]) == set(annotation["targets"])
    log = (built / "build.log").read_text()
    for model_id in ("procedural-000008", "procedural-000009"):
        assert f"{model_id}: rendered  ({IMAGES_PER_MODEL} images" in log, log
        assert "targets by source: name " in log
    report = json.loads((built / "report.json").read_text())
    assert report["summary"]["models_rendered"] == 2
    assert report["summary"]["images_per_style_and_group"] == {
        "cel/basis": 2,
        "cel/frontal": 4,
        "cel/rotated": 4,
        "soft/basis": 2,
        "soft/frontal": 4,
        "soft/rotated": 4,
    }


def test_every_published_row_is_in_its_characters_split(built):
    by_split = {}
    for shard in sorted((built / "hub" / "data").glob("*.parquet")):
        split = shard.name.split("-")[0]
        for model_id in pq.read_table(shard, columns=["model_id"]).column(0).to_pylist():
            assert identity_split(model_id) == split, f"{model_id} published in {shard.name}"
            by_split.setdefault(split, set()).add(model_id)
    assert by_split == {"train": {"procedural-000008"}, "test": {"procedural-000009"}}
    loaded = load_dataset(str(built / "hub"))
    assert {split: set(ds["model_id"]) for split, ds in loaded.items()} == by_split


def test_load_dataset_round_trip(built):
    loaded = load_dataset(str(built / "hub"))
    total = sum(len(ds) for ds in loaded.values())
    assert total == 2 * IMAGES_PER_MODEL
    ds = next(iter(loaded.values()))
    example = ds[0]
    assert example["image"].mode == "RGBA" and example["image"].size == (64, 64)
    assert len(example["pose"]) == 20 and all(isinstance(v, float) for v in example["pose"])
    assert ds.features["style"].names == ["cel", "cel_outline", "soft", "original"]
    assert ds.features["group"].names == ["basis", "frontal", "rotated"]
    assert example["license"] == "cc-by-4.0" and example["source"] == "procedural"


def test_same_settings_give_same_keys_poses_and_pixels(built, tmp_path):
    again = tmp_path / "b"
    result = _cli("build", "--out", str(again), *TWO_SPLITS, "--workers", "1", *BUILD_ARGS)
    assert result.returncode == 0, result.stderr[-3000:]
    first = {example_key(r): r for r in _rows(built / "hub")}
    second = {example_key(r): r for r in _rows(again / "hub")}
    assert first.keys() == second.keys()
    for key, row in first.items():
        assert np.array_equal(row["pose"], second[key]["pose"]), key
        assert row["image"] == second[key]["image"], key


def test_resume_after_kill(tmp_path):
    out = tmp_path / "resume"
    args = ["build", "--out", str(out), "--procedural", "3", "--workers", "1", *BUILD_ARGS]
    process = subprocess.Popen(
        [sys.executable, "-m", "dataset_builder", *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    shards = out / "render"
    deadline = time.time() + 300
    while time.time() < deadline and not list(shards.glob("*.parquet")):
        time.sleep(0.1)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    finished = {p.name: p.stat().st_mtime_ns for p in shards.glob("*.parquet")}
    assert 1 <= len(finished) < 3, f"kill came too late to test resume: {finished}"
    assert not (out / "hub").exists()

    result = _cli(*args)
    assert result.returncode == 0, result.stderr[-3000:]
    for name, mtime in finished.items():
        assert (shards / name).stat().st_mtime_ns == mtime, f"{name} was rendered again"
    keys = [example_key(r) for r in _rows(out / "hub")]
    assert len(keys) == 3 * IMAGES_PER_MODEL
    assert not [k for k, n in Counter(keys).items() if n > 1], "duplicated example keys"
    assert not list(shards.glob("*.tmp"))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--styles", "cel,toon"], "unknown style 'toon'"),
        (["--resolution", "0"], "resolution must be an integer in 1..8192, got 0"),
        (["--procedural", "0"], "number of procedural models must be > 0, got 0"),
    ],
)
def test_bad_build_arguments(tmp_path, capsys, args, message):
    out = tmp_path / "never"
    assert main(["build", "--out", str(out), *args]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and message in err and len(err.splitlines()) == 1
    assert not out.exists(), "a failed build left files behind"


def test_a_models_folder_with_no_readable_model_is_refused(tmp_path, capsys):
    """Not 100 procedural characters instead: the folder's models were what the user meant."""
    folder = tmp_path / "mmd models"
    folder.mkdir()
    (folder / "character.pmx").write_bytes(b"PMX ")  # MMD's format: not read
    out = tmp_path / "never"
    assert main(["build", "--out", str(out), "--models", str(folder)]) == 2
    err = capsys.readouterr().err.strip()
    assert err == (
        f"error: {folder}: no model file found in this folder; the formats read are "
        ".blend, .fbx, .glb, .gltf, .vrm"
    )
    assert not out.exists()


def test_a_build_whose_models_were_all_skipped_says_why(tmp_path, capsys):
    models = tmp_path / "models"
    models.mkdir()
    (models / "broken.glb").write_bytes(b"glTF not really")
    out = tmp_path / "skipped"
    assert main(["build", "--out", str(out), "--models", str(models), "--no-progress"]) == 2
    log = capsys.readouterr().err.strip()
    assert "broken.glb): no licence in the file and no --license given" in log
    err = log.splitlines()[-1]  # after the build's log lines
    assert err.startswith("error: no model was rendered (gltf-") and "broken.glb: Error: GLB" in err
    assert err.endswith(f"see {out / 'report.json'}")
    assert not (out / "hub").exists()


def test_output_folder_of_another_build_is_refused(built, capsys):
    before = sorted(p.name for p in (built / "render").iterdir())
    assert main(["build", "--out", str(built), "--procedural", "3", *BUILD_ARGS]) == 2
    err = capsys.readouterr().err
    assert "holds a different build" in err and "sources" in err
    assert sorted(p.name for p in (built / "render").iterdir()) == before


def test_pose_outside_its_range_is_refused(tmp_path, capsys):
    pose = ",".join(["0"] * 17 + ["25", "0", "0"])
    assert main(["render", "--pose", pose, "--out", str(tmp_path / "r")]) == 2
    assert "yaw = 25 is outside its range [-20, 20]" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()


def test_unreadable_model_is_skipped_with_its_reason(tmp_path):
    models = tmp_path / "models"
    models.mkdir()
    (models / "broken.glb").write_bytes(b"glTF not really")
    (models / "broken.vrm").write_bytes(b"not even glTF")
    (models / "broken.fbx").write_bytes(b"Kaydara FBX Binary  \x00\x1a\x00 cut short")
    (models / "broken.blend").write_bytes(b"BLENDER-v500 cut short")
    out = tmp_path / "mixed"
    result = _cli(
        "build", "--out", str(out), "--procedural", "1", "--models", str(models),
        "--license", "cc0-1.0", "--attribution", "nobody", "--workers", "1", *BUILD_ARGS,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads((out / "report.json").read_text())["summary"]
    assert summary["models_rendered"] == 1
    skipped = summary["models_skipped"]
    assert sorted(m.split("-")[0] for m in skipped) == ["blend", "fbx", "gltf", "vrm"]
    for reason in skipped.values():
        assert "\n" not in reason.strip() and "Traceback" not in reason, reason
    reasons = " ".join(skipped.values())
    for name in ("broken.glb", "broken.vrm", "broken.fbx", "broken.blend"):
        assert name in reasons, reasons
    assert f"{models / 'broken.fbx'}: truncated or corrupt (a binary FBX ends" in reasons
    assert f"{models / 'broken.vrm'}: not a binary glTF/VRM file (bad header)" in reasons
    assert f"{models / 'broken.vrm'}: {models / 'broken.vrm'}" not in reasons  # named once
    assert len(_rows(out / "hub")) == IMAGES_PER_MODEL


def test_ray_backend_renders_the_same_shards(built, tmp_path):
    out = tmp_path / "ray"
    result = _cli(
        "build", "--out", str(out), *TWO_SPLITS, "--workers", "2", "--backend", "ray",
        *BUILD_ARGS,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    for shard in sorted((built / "render").glob("*.parquet")):
        assert pq.read_table(shard).equals(pq.read_table(out / "render" / shard.name)), shard.name


def test_publish_pushes_the_hub_folder(built, monkeypatch):
    calls = []

    class RecordingApi:
        def __init__(self, token=None):
            calls.append(("init", token))

        def create_repo(self, repo_id, **kwargs):
            calls.append(("create_repo", repo_id, kwargs))

        def upload_folder(self, **kwargs):
            calls.append(("upload_folder", kwargs))
            return "https://huggingface.co/datasets/org/name/commit/0"

    monkeypatch.setattr("dataset_builder.publisher.HfApi", RecordingApi)
    hub = str(built / "hub")
    assert main(["publish", "--hub-dir", hub, "--repo-id", "org/name", "--token", "t"]) == 0
    assert calls[0] == ("init", "t")
    assert calls[1] == (
        "create_repo",
        "org/name",
        {"repo_type": "dataset", "private": False, "exist_ok": True},
    )
    assert calls[2][1]["folder_path"] == hub and calls[2][1]["repo_type"] == "dataset"


def test_publish_refuses_a_folder_that_is_not_a_build(tmp_path, capsys):
    assert main(["publish", "--hub-dir", str(tmp_path), "--repo-id", "org/name"]) == 2
    assert "not a published folder" in capsys.readouterr().err


def test_saved_procedural_character_builds_through_the_gltf_loader(tmp_path):
    from dataset_builder.procedural import character_spec

    glb = tmp_path / "character.glb"
    result = _cli("character", "--seed", "5", "--out", str(glb))
    assert result.returncode == 0, result.stderr[-3000:]
    out = tmp_path / "from-glb"
    result = _cli(
        "build", "--out", str(out), "--models", str(glb), "--license", "cc-by-4.0",
        "--attribution", "procedural 5", "--workers", "1", *BUILD_ARGS,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    (annotation,) = (out / "annotations").glob("gltf-*.json")
    targets = json.loads(annotation.read_text())["targets"]
    assert set(targets) == set(character_spec(5).present_targets)
    rows = _rows(out / "hub")
    assert {r["source"] for r in rows} == {"gltf"}
    assert len(rows) == IMAGES_PER_MODEL

    # `render` takes a model file too: chosen poses of it, named by the model id
    renders = tmp_path / "renders"
    neutral, yaw = ",".join(["0"] * 20), ",".join(["0"] * 17 + ["15", "0", "0"])
    result = _cli(
        "render", "--model", str(glb), "--pose", neutral, "--pose", yaw, "--style", "cel",
        "--resolution", "64", "--out", str(renders),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    images = sorted(renders.glob("gltf-*-cel-*.png"))
    assert len(images) == 2 and PIL.Image.open(images[0]).size == (64, 64)

    # ... annotated as a build annotates it by default; `--annotation` takes a person's edit
    # of the build's file: with mouth_a dropped, a pose that opens the mouth is refused
    mouth_a = ",".join(["0"] * 12 + ["1"] + ["0"] * 7)
    edited = json.loads(annotation.read_text())
    del edited["targets"]["mouth_a"]
    edited_path = tmp_path / "edited.json"
    edited_path.write_text(json.dumps(edited))
    pose_args = ["--pose", neutral, "--pose", mouth_a, "--resolution", "64"]
    result = _cli("render", "--model", str(glb), *pose_args, "--out", str(tmp_path / "open"))
    assert result.returncode == 0, result.stderr[-3000:]
    closed, opened = (np.asarray(PIL.Image.open(p)) for p in sorted((tmp_path / "open").iterdir()))
    assert np.abs(opened.astype(int) - closed).max() > 50
    result = _cli("render", "--model", str(glb), *pose_args, "--annotation", str(edited_path))
    assert result.returncode == 2
    assert result.stderr == (
        f"error: {glb}: pose 1: the model has no target morph ['mouth_a'] needed by this pose "
        f"({edited_path})\n"
    )
    bad = _cli("render", "--model", str(glb), "--pose", neutral, "--annotation", str(glb))
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1
    assert bad.stderr.startswith(f"error: {glb}: not an annotation")
    missing = _cli("render", "--model", str(tmp_path / "nowhere.vrm"), "--pose", neutral)
    assert missing.returncode == 2
    assert missing.stderr.strip() == f"error: model file {tmp_path / 'nowhere.vrm'} does not exist"


def test_a_model_without_morphs_is_skipped_saying_so(tmp_path):
    """A rig with no shape keys at all renders no expression: skipped with that reason, and a
    build of it alone fails listing it."""
    from dataset_builder.sources import file_sources
    from dataset_builder.worker import run_in_blender

    saved = tmp_path / "character.glb"
    run_in_blender("save_procedural_character", 5, str(saved))
    bare = tmp_path / "models" / "bare.glb"
    names = run_in_blender(
        "convert_model", file_sources([saved])[0], str(bare), keep_shape_keys=False
    )
    assert names == []
    out = tmp_path / "bare"
    result = _cli(
        "build", "--out", str(out), "--models", str(bare.parent), "--license", "cc0-1.0",
        "--workers", "1", *BUILD_ARGS,
    )  # fmt: skip
    assert result.returncode == 2
    (model_id,) = (s.model_id for s in file_sources([bare]))
    reason = "no target morphs: the model has no shape keys or expressions"
    assert json.loads((out / "report.json").read_text())["summary"]["models_skipped"] == {
        model_id: reason
    }
    last = result.stderr.strip().splitlines()[-1]
    assert last == f"error: no model was rendered ({model_id}: {reason}); see {out / 'report.json'}"


def test_a_vertex_coloured_model_keeps_its_colours_in_the_styles(tmp_path):
    """A model whose colours live in a colour attribute (glTF COLOR_0, no texture) renders
    with them in the styles, not in a material's grey: the same character painted that way
    renders as its flat-coloured self."""
    import io

    import PIL.Image

    from dataset_builder.sources import file_sources
    from dataset_builder.vrm import gltf_json
    from dataset_builder.worker import run_in_blender

    saved = tmp_path / "character.glb"
    run_in_blender("save_procedural_character", 5, str(saved))
    painted = tmp_path / "painted.glb"
    run_in_blender("convert_model", file_sources([saved])[0], str(painted), vertex_colours=True)
    assert all("COLOR_0" in m["primitives"][0]["attributes"] for m in gltf_json(painted)["meshes"])
    images = []
    for path in (saved, painted):
        (png,) = run_in_blender("render_poses", file_sources([path])[0], [[0.0] * 20], "cel", 64)
        images.append(np.asarray(PIL.Image.open(io.BytesIO(png)).convert("RGBA")).astype(int))
    flat, vertex_coloured = images
    seen = flat[..., 3] > 128
    assert np.abs(vertex_coloured[..., :3] - flat[..., :3])[seen].mean() < 2


def _triangle_glb(path: Path) -> None:
    """A glTF holding one triangle: no armature, no head."""
    import struct

    points = struct.pack("<9f", 0, 0, 0, 1, 0, 0, 0, 1, 0)
    document = {
        "asset": {"version": "2.0"},
        "scene": 0,
        "scenes": [{"nodes": [0]}],
        "nodes": [{"mesh": 0, "name": "Triangle"}],
        "meshes": [{"primitives": [{"attributes": {"POSITION": 0}}]}],
        "buffers": [{"byteLength": len(points)}],
        "bufferViews": [{"buffer": 0, "byteLength": len(points)}],
        "accessors": [
            {"bufferView": 0, "componentType": 5126, "count": 3, "type": "VEC3",
             "min": [0, 0, 0], "max": [1, 1, 0]}
        ],
    }  # fmt: skip
    text = json.dumps(document).encode()
    text += b" " * (-len(text) % 4)
    body = struct.pack("<I4s", len(text), b"JSON") + text
    body += struct.pack("<I4s", len(points), b"BIN\x00") + points
    path.write_bytes(struct.pack("<4sII", b"glTF", 2, 12 + len(body)) + body)


def test_a_model_without_armature_or_head_is_skipped_saying_so(tmp_path):
    """A mesh with no skeleton, and a rig whose three bones (a straight chain, no arms) neither
    name nor structure make a head: each skipped with its one-line reason."""
    from dataset_builder.sources import file_sources
    from dataset_builder.worker import run_in_blender

    models = tmp_path / "models"
    models.mkdir()
    _triangle_glb(models / "triangle.glb")
    saved = tmp_path / "character.glb"
    run_in_blender("save_procedural_character", 5, str(saved))
    nameless = {"chest": "b0", "neck": "b1", "head": "b2"}
    run_in_blender(
        "convert_model", file_sources([saved])[0], str(models / "nameless.glb"),
        rename_bones=nameless,
    )  # fmt: skip
    out = tmp_path / "out"
    result = _cli(
        "build", "--out", str(out), "--models", str(models), "--license", "cc0-1.0",
        "--workers", "1", *BUILD_ARGS,
    )  # fmt: skip
    assert result.returncode == 2
    skipped = json.loads((out / "report.json").read_text())["summary"]["models_skipped"]
    by_file = {Path(reason.split(": ")[0]).name: reason for reason in skipped.values()}
    assert by_file["triangle.glb"].startswith(
        f"{models / 'triangle.glb'}: no armature: the file holds no skeleton"
    )
    assert by_file["nameless.glb"].startswith(
        f"{models / 'nameless.glb'}: no head bone: none of the 3 bones (b0, b1, b2) is named "
    )
    assert all("\n" not in reason for reason in skipped.values())


def test_rebuilt_folder_is_not_served_from_a_stale_cache(built, tmp_path):
    from dataset_builder.publisher import write_hub_folder

    one_model = tmp_path / "one"
    one_model.mkdir()
    first_shard = sorted((built / "render").glob("*.parquet"))[0]
    (one_model / first_shard.name).write_bytes(first_shard.read_bytes())
    hub = tmp_path / "hub"
    write_hub_folder(one_model, hub, contact_sheet=False)
    assert sum(len(ds) for ds in load_dataset(str(hub)).values()) == IMAGES_PER_MODEL
    write_hub_folder(built / "render", hub, contact_sheet=False)
    assert sum(len(ds) for ds in load_dataset(str(hub)).values()) == 2 * IMAGES_PER_MODEL
    card = (hub / "README.md").read_text()
    assert "dataset_info:" in card and "num_examples" in card


def test_a_corrected_annotation_is_kept_on_resume(tmp_path):
    out = tmp_path / "inspected"
    args = ["build", "--out", str(out), "--procedural", "1", "--workers", "1", *BUILD_ARGS]
    assert _cli(*args).returncode == 0
    (path,) = (out / "annotations").glob("*.json")
    annotation = json.loads(path.read_text())
    annotation["targets"] = {k: v for k, v in annotation["targets"].items() if "mouth" not in k}
    annotation["method"] = "inspection"
    path.write_text(json.dumps(annotation))
    for shard in (out / "render").glob("*.parquet"):
        shard.unlink()  # render that model again, with the corrected annotation

    result = _cli(*args)
    assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads(path.read_text())["method"] == "inspection"
    poses = np.array([r["pose"] for r in _rows(out / "hub")])
    assert poses[:, 12:17].max() == 0, "a removed mouth target was still sampled"
    assert poses[:, :12].max() > 0


def test_contact_sheet_is_the_same_from_shards_and_from_load_dataset(built):
    from dataset_builder.contact_sheet import contact_sheet, rows_from_dataset, rows_from_shards

    from_shards = contact_sheet(rows_from_shards(list((built / "render").glob("*.parquet"))))
    loaded = load_dataset(str(built / "hub"))
    rows = [row for ds in loaded.values() for row in rows_from_dataset(ds)]
    from_dataset = contact_sheet(rows)
    assert from_shards.size == (2 * 5 * 128, 18 + 2 * 128)  # 2 styles x 5 columns, 2 identities
    assert np.array_equal(np.asarray(from_shards), np.asarray(from_dataset))


@pytest.mark.slow
def test_full_size_build_with_the_papers_sampling(tmp_path):
    """The defaults users run: 256², all four styles, 100 pairs per model (20 for poor models)."""
    from animeceleb.sampling import samples_for
    from dataset_builder.procedural import character_spec

    out = tmp_path / "full"
    result = _cli("build", "--out", str(out), "--procedural", "2", "--workers", "2")
    assert result.returncode == 0, result.stderr[-3000:]
    rows = _rows(out / "hub")
    expected = sum(
        4 * (1 + 2 * samples_for(len(character_spec(s).present_targets))) for s in (0, 1)
    )
    assert len(rows) == expected
    assert {len(r["pose"]) for r in rows} == {20}


def _plain_row(model_id: str = "procedural-000008") -> dict:
    png = io.BytesIO()
    PIL.Image.new("RGBA", (4, 4), (255, 0, 0, 255)).save(png, format="PNG")
    return {
        "image": png.getvalue(),
        "pose": [0.0] * 20,
        "model_id": model_id,
        "source": "procedural",
        "style": "soft",
        "group": "rotated",
        "pair_id": f"{model_id}-0000",
        "license": "cc-by-4.0",
        "attribution": "test",
    }


def test_shards_round_trip_in_the_features_schema(tmp_path):
    from dataset_builder.features import FEATURES
    from dataset_builder.shards import write_shard

    path = tmp_path / "procedural-000008.parquet"
    write_shard([_plain_row()], path)
    table = pq.read_table(path)
    assert table.schema == FEATURES.arrow_schema
    assert table.column("style").to_pylist() == [FEATURES["style"].str2int("soft")]
    assert decode_rows(table) == [_plain_row()]


def test_a_shard_write_that_fails_midway_leaves_no_shard(tmp_path, monkeypatch):
    import dataset_builder.shards as shards

    def write_half_then_fail(table, where, **kwargs):
        with open(where, "wb") as handle:
            handle.write(b"PAR1 half a shard")
        raise OSError("disk full")

    monkeypatch.setattr(shards.pq, "write_table", write_half_then_fail)
    path = tmp_path / "procedural-000008.parquet"
    with pytest.raises(OSError, match="disk full"):
        shards.write_shard([_plain_row()], path)
    assert list(tmp_path.iterdir()) == [], "a failed write left a shard or a temporary file"


def test_the_resolution_is_read_from_the_shards_images(tmp_path):
    from dataset_builder.shards import shards_resolution, write_shard

    def shard(name: str, *sizes: tuple[int, int]) -> Path:
        rows = []
        for width, height in sizes:
            png = io.BytesIO()
            PIL.Image.new("RGBA", (width, height)).save(png, format="PNG")
            rows.append(_plain_row() | {"image": png.getvalue()})
        write_shard(rows, tmp_path / name)
        return tmp_path / name

    small = shard("procedural-000001.parquet", (4, 4), (4, 4))
    assert shards_resolution([small]) == 4
    larger = shard("procedural-000002.parquet", (8, 8))
    with pytest.raises(ValueError, match=r"more than one size \(4 x 4 in procedural-000001"):
        shards_resolution([small, larger])
    with pytest.raises(ValueError, match="8 x 4 images; expected square ones"):
        shards_resolution([shard("procedural-000003.parquet", (8, 4))])


def test_group_annotation_and_inspection_of_scrambled_names(tmp_path):
    """Procedural characters 2 and 5 share VRoid names (a group at N=2); character 0's morphs
    are renamed morph_00.. and still get their targets from inspection; an edited file wins."""
    from dataclasses import replace

    from dataset_builder.build import BuildSettings, render_all
    from dataset_builder.labelled_morphs import procedural_truth
    from dataset_builder.sources import procedural_sources

    truth = procedural_truth(0)
    rename = {name: f"morph_{i:02d}" for i, name in enumerate(truth)}
    scrambled = replace(procedural_sources(1, 0)[0], rename=tuple(rename.items()))
    sources = (scrambled, *procedural_sources(1, 2), *procedural_sources(1, 5))
    settings = BuildSettings(
        sources=sources, styles=("cel",), resolution=64, samples_per_model=1, group_min_models=2
    )
    out = tmp_path / "grouped"
    report = render_all(settings, out, workers=1, progress=False)
    assert report.summary()["models_rendered"] == 3

    path = out / "annotations" / f"{scrambled.model_id}.json"
    found = json.loads(path.read_text())
    by_new = {rename[name]: target for name, target in truth.items()}
    assert set(found["methods"].values()) == {"inspection"}
    assert all(by_new[name] == target for target, name in found["targets"].items())
    assert len(found["targets"]) >= 18, found["declined"]  # recall: 22 targets in character 0
    assert all(
        by_new[name] is None
        for name in found["declined"]
        if "already" not in found["declined"][name]
    )

    vroid = json.loads((out / "annotations" / "procedural-000005.json").read_text())
    assert (
        vroid["methods"]["eye_close"] == "group"
        and vroid["targets"]["eye_close"] == "Fcl_EYE_Close"
    )
    assert "seen in 2 models" in vroid["reasons"]["eye_close"]
    assert "no majority target in 2 inspections" in vroid["declined"]["Fcl_HA_Hide"]
    models = {m.model_id: m.target_sources for m in report.models}
    assert models[scrambled.model_id] == {"inspection": len(found["targets"])}
    log = (out / "build.log").read_text()
    assert (
        "group annotation: " in log
        and f"targets by source: inspection {len(found['targets'])}" in log
    )

    # the survey as Ray tasks: the same annotations
    on_ray = render_all(settings, tmp_path / "ray", workers=2, progress=False, backend="ray")
    assert on_ray.summary()["models_rendered"] == 3
    for saved in sorted((out / "annotations").glob("*.json")):
        assert (tmp_path / "ray" / "annotations" / saved.name).read_text() == saved.read_text()
    assert "group annotation: " in (tmp_path / "ray" / "build.log").read_text()

    # a person's edit wins: only the eyes' closing morph, rendered again with it
    edited = {
        "model_id": scrambled.model_id,
        "targets": {"eye_close": found["targets"]["eye_close"]},
    }
    path.write_text(json.dumps(edited | {"method": "person"}))
    (out / "render" / f"{scrambled.model_id}.parquet").unlink()
    again = render_all(settings, out, workers=1, progress=False)
    assert [m.target_sources for m in again.models] == [{"person": 1}]
    assert json.loads(path.read_text())["method"] == "person"
    shard = decode_rows(pq.read_table(out / "render" / f"{scrambled.model_id}.parquet"))
    poses = np.array([row["pose"] for row in shard])
    assert poses[:, 2:17].max() == 0 and poses[:, :2].max() > 0
