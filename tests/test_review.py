"""Annotation review: a person's decisions applied to an annotation (no Blender), a build folder
reviewed (renders cached, annotation saved, shard removed), and the review app started on a local
port and driven with ``gradio_client``, after which the same build renders the model again with
the person's mapping. Real Blender renders at 64 px, one procedural character."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import PIL.Image
import pyarrow.parquet as pq
import pytest
from serving import CHROMIUM, chromium_page, running_app

from animeceleb.pose import POSE_INDEX
from dataset_builder import review as review_module
from dataset_builder.annotation import Annotation
from dataset_builder.annotation_review import (
    NO_TARGET,
    ReviewError,
    apply_decisions,
)
from dataset_builder.features import decode_rows
from dataset_builder.review import BuildReview

ROOT = Path(__file__).resolve().parents[1]
APP = ROOT / "spaces" / "annotation_review" / "app.py"
MODEL = "procedural-000008"
BUILD = [
    *("build", "--procedural", "1", "--first-seed", "8", "--resolution", "64"),
    *("--styles", "cel", "--samples-per-model", "3", "--workers", "1"),
]


def _build(out: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "dataset_builder", *BUILD, "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("review") / "build"
    _build(out)
    return out


def _annotation() -> Annotation:
    return Annotation(
        model_id="m",
        targets={"eye_close": "blink", "mouth_a": "ah"},
        unmatched=["tongue"],
        method="build",
        methods={"eye_close": "name", "mouth_a": "inspection"},
        reasons={"eye_close": "name blink; inspection agrees", "mouth_a": "opens the mouth"},
        declined={"tongue": "moves the tongue only"},
    )


def test_decisions_accept_change_and_drop():
    morphs = ["blink", "ah", "tongue"]
    decisions = {"blink": "eye_close", "ah": NO_TARGET, "tongue": "mouth_a"}
    reviewed = apply_decisions(_annotation(), decisions, morphs)
    assert reviewed.method == "person" and reviewed.model_id == "m"
    assert reviewed.targets == {"eye_close": "blink", "mouth_a": "tongue"}
    assert reviewed.methods == {"eye_close": "name", "mouth_a": "person"}
    assert reviewed.reasons["eye_close"] == "name blink; inspection agrees"  # accepted: kept
    assert reviewed.reasons["mouth_a"] == "person: changed from none (moves the tongue only)"
    assert reviewed.declined == {"ah": "person: dropped from mouth_a (opens the mouth)"}
    assert reviewed.unmatched == []
    # Undecided morphs keep their mappings; a swap of two targets is one decision set.
    swap = apply_decisions(_annotation(), {"blink": "mouth_a", "ah": "eye_close"}, morphs)
    assert swap.targets == {"eye_close": "ah", "mouth_a": "blink"}
    assert apply_decisions(_annotation(), {}, morphs).targets == _annotation().targets


@pytest.mark.parametrize(
    "decisions, message",
    [
        ({"../../etc/passwd": "mouth_a"}, "m has no source morph '../../etc/passwd'"),
        ({"ah": "mouth_x"}, "unknown target 'mouth_x'; expected one of eye_close"),
        ({"tongue": "eye_close"}, "eye_close is chosen for blink and tongue; a target takes one"),
        ({"tongue": "mouth_o", "ah": "mouth_o"}, "mouth_o is chosen for ah and tongue"),
    ],
)
def test_bad_decisions_are_one_line_errors(decisions, message):
    with pytest.raises(ReviewError, match=message.replace(".", r"\.")) as error:
        apply_decisions(_annotation(), decisions, ["blink", "ah", "tongue"])
    assert "\n" not in str(error.value)


def test_a_build_reviewed_without_the_app(built, tmp_path, monkeypatch):
    folder = tmp_path / "copy"
    shutil.copytree(built, folder)
    review = BuildReview(folder)
    assert review.model_ids == [MODEL]
    rows = review.rows(MODEL)
    neutral, images = review.renders(MODEL)
    assert neutral.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [r.morph for r in rows] == list(images) and len(rows) == 25  # 23 named + 2 others
    assert all(r.image.is_file() and r.image.parent == folder / "review" / MODEL for r in rows)
    by_morph = {r.morph: r for r in rows}
    assert by_morph["Fcl_MTH_A"].proposed == "mouth_a" and by_morph["Fcl_MTH_A"].method == "name"
    assert by_morph["Fcl_HA_Hide"].proposed == NO_TARGET and by_morph["Fcl_HA_Hide"].reason
    # Renders are cached: opening the model again starts no Blender.
    monkeypatch.setattr(review_module, "run_in_blender", lambda *a, **k: pytest.fail("rendered"))
    assert BuildReview(folder).renders(MODEL)[1] == images
    message = review.save(MODEL, {"Fcl_MTH_O": "mouth_u", "Fcl_MTH_U": NO_TARGET})
    assert message.startswith("saved procedural-000008.json: 22 targets (1 changed, 1 dropped)")
    saved = Annotation.load(folder / "annotations" / f"{MODEL}.json")
    assert saved.method == "person" and saved.targets["mouth_u"] == "Fcl_MTH_O"
    assert "mouth_o" not in saved.targets and saved.declined["Fcl_MTH_U"].startswith("person")
    assert not (folder / "render" / f"{MODEL}.parquet").exists()
    for bad, error in [
        ("../annotations/x", "no model '../annotations/x' in the build"),
        ("procedural-000009", "no model 'procedural-000009' in the build"),
    ]:
        with pytest.raises(ReviewError, match=error):
            review.rows(bad)
    with pytest.raises(ValueError, match="not a build folder"):
        BuildReview(tmp_path)


def test_the_app_edits_a_mapping_and_the_next_build_uses_it(built, tmp_path):
    gradio_client = pytest.importorskip("gradio_client", reason="the space extra is not installed")
    from gradio_client.exceptions import AppError

    with running_app(APP, {"REVIEW_BUILD_DIR": str(built)}, log=tmp_path / "app.log") as url:
        client = gradio_client.Client(url, verbose=False)
        neutral, gallery, table, morph, message = client.predict(MODEL, api_name="/open_model")
        assert Path(neutral).is_file() and len(gallery) == 25 and "25 source morphs" in message
        assert table["headers"][-1] == "decision" and table["data"][0][0] == "Fcl_EYE_Close"
        image, why, target = client.predict(MODEL, "Fcl_MTH_O", table, api_name="/choose")
        assert Path(image).is_file() and target == "mouth_o" and "proposed `mouth_o`" in why
        for name, choice in [("Fcl_MTH_O", "mouth_u"), ("Fcl_MTH_U", "mouth_u")]:
            table, gallery = client.predict(MODEL, name, choice, table, api_name="/set_target")
        with pytest.raises(AppError, match="mouth_u is chosen for Fcl_MTH_O and Fcl_MTH_U"):
            client.predict(MODEL, table, api_name="/save")
        table, gallery = client.predict(
            MODEL, "Fcl_MTH_U", NO_TARGET, table, api_name="/set_target"
        )
        assert gallery[-5]["caption"] == "Fcl_MTH_U → none"
        message = client.predict(MODEL, table, api_name="/save")
        assert "22 targets (1 changed, 1 dropped)" in message
    _build(built)  # the same command: renders the edited model again, nothing else
    saved = Annotation.load(built / "annotations" / f"{MODEL}.json")
    assert saved.targets["mouth_u"] == "Fcl_MTH_O" and "mouth_o" not in saved.targets
    (model,) = json.loads((built / "report.json").read_text())["models"]
    assert model["n_targets"] == 22 and model["target_sources"] == {"name": 21, "person": 1}
    assert f"{MODEL}: rendered" in (built / "build.log").read_text()
    rows = decode_rows(pq.read_table(built / "render" / f"{MODEL}.parquet"))
    poses = np.array([row["pose"] for row in rows])
    assert not poses[:, POSE_INDEX["mouth_o"]].any()  # no source drives mouth_o any more


def test_the_review_page_in_headless_chromium(built, tmp_path):
    """A person's path through the page: pick the model, see the neutral face, every morph's
    render and the proposed target with its reason, click a morph in the gallery.
    ``UPDATE_SCREENSHOT=1`` writes the README's screenshot (docs/annotation_review.png)."""
    if not Path(CHROMIUM).is_file():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} not found: .ci/run installs Debian's chromium")
        pytest.skip(f"{CHROMIUM} not found (apt-get install chromium)")
    pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    review = shutil.copytree(built, tmp_path / "build")  # the page's renders stay out of `built`
    with (
        running_app(APP, {"REVIEW_BUILD_DIR": str(review)}, log=tmp_path / "app.log") as url,
        chromium_page(url) as page,
    ):
        page.get_by_label("Model").click(timeout=60_000)
        assert page.title() == "Annotation review"
        page.get_by_role("option", name=MODEL).click()
        page.get_by_text("25 source morphs").first.wait_for(timeout=120_000)
        assert page.locator("button.thumbnail-item").count() == 25
        page.get_by_text("proposed eye_close").first.wait_for(timeout=60_000)
        page.locator("button.thumbnail-item", has_text="Fcl_MTH_A").click()
        page.get_by_text("proposed mouth_a").first.wait_for(timeout=60_000)
        screenshot = tmp_path / "annotation_review.png"
        page.screenshot(path=str(screenshot), full_page=True)
    assert PIL.Image.open(screenshot).size[0] == 1400
    if os.environ.get("UPDATE_SCREENSHOT"):
        shutil.copy(screenshot, ROOT / "docs" / "annotation_review.png")
