"""The pose regressor: a few steps lower the loss, the output scale maps back to degrees, save/load
round trip in a fresh process, the per-dimension evaluation against a hand computation, the
console script on a real build (and resuming it), the NaN guard, the shipped config and card,
and bad input (named by its dotted path in the nested config)."""

import json
import re
import subprocess
import sys
from pathlib import Path

import datasets
import numpy as np
import pytest
import torch
from transformers import ResNetConfig, ResNetForImageClassification

from animeceleb.pose import EXPRESSION_DIM, POSE_NAMES
from training.configuration import parse_config
from training.data import PoseImageDataset, colour_jitter, decode_rgba, load_split, select_rows
from training.history import read_history
from training.publish import main as publish
from training.regressor import (
    POSE_SCALE,
    build_regressor,
    load_regressor,
    normalize_poses,
    predict_poses,
)
from training.regressor.card import regressor_model_card
from training.regressor.configuration_regressor import RegressorConfig
from training.regressor.evaluate import evaluate_regressor, weak_expression_note, write_evaluation
from training.regressor.train import RegressorTrainer, main, regression_loss
from training.runs import TrainingError, machine

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SMALL = {"embedding_size": 16, "hidden_sizes": (16, 32, 64, 128)}  # ~0.3 M parameters


@pytest.fixture(autouse=True)
def one_thread():
    """One torch thread: on a busy 2-core machine, small ops waiting for a second thread made
    these tests 10x slower and their time erratic."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def constant_regressor(bias: list[float], image_size: int = 64) -> ResNetForImageClassification:
    """A regressor whose normalised output is ``bias`` whatever the image."""
    model = build_regressor(**SMALL, image_size=image_size)
    head = model.classifier[1]
    with torch.no_grad():
        head.weight.zero_()
        head.bias.copy_(torch.tensor(bias))
    return model


def cli_args(dataset: Path, out: Path, steps: int = 3) -> list[str]:
    args = ["--data.dataset", str(dataset), "--checkpoints.output_dir", str(out)]
    args += ["--data.resolution", "64", "--data.batch_size", "4", "--data.num_workers", "0"]
    args += ["--steps", str(steps), "--checkpoints.checkpoint_every", "2"]
    args += ["--checkpoints.log_every", "1", "--schedule.warmup_steps", "0"]
    return [*args, "--model.embedding_size", "16", "--model.hidden_sizes", "[16, 32, 64, 128]"]


def test_the_default_is_a_small_resnet_with_the_pose_in_its_config():
    model = build_regressor()
    assert sum(p.numel() for p in model.parameters()) == 1_235_380
    config = model.config
    assert config.num_labels == 20 and config.problem_type == "regression"
    assert [config.id2label[i] for i in range(20)] == list(POSE_NAMES)
    assert config.pose_scale == [1.0] * 17 + [20.0] * 3 and config.image_size == 128
    assert model(pixel_values=torch.zeros(2, 3, 128, 128)).logits.shape == (2, 20)


def test_predict_poses_maps_normalised_outputs_back_to_pose_units():
    bias = [0.1 * (i % 10) for i in range(EXPRESSION_DIM)] + [0.5, -0.25, 1.0]
    model = constant_regressor(bias)
    images = torch.rand(3, 3, 96, 96) * 2 - 1  # another size: resized to the model's 64²
    poses = predict_poses(model, images, clamp=False)
    expected = torch.tensor(bias) * torch.tensor(POSE_SCALE)
    assert poses.shape == (3, 20)
    torch.testing.assert_close(poses, expected.expand(3, 20), rtol=0, atol=1e-6)
    torch.testing.assert_close(poses[0, 17:], torch.tensor([10.0, -5.0, 20.0]), rtol=0, atol=1e-6)
    # the scale is read from the config, not from outside knowledge
    model.config.pose_scale = [1.0] * 17 + [10.0, 10.0, 10.0]
    yaw = predict_poses(model, images, clamp=False)[:, 17]
    torch.testing.assert_close(yaw, torch.full((3,), 5.0), rtol=0, atol=1e-6)
    # clamped to the data's ranges by default
    out_of_range = constant_regressor([-0.2] + [1.5] * 16 + [1.5, -1.5, 0.0])
    clamped = predict_poses(out_of_range, images)[0]
    assert clamped[0] == 0 and torch.all(clamped[1:17] == 1)
    assert clamped[17:].tolist() == [20.0, -20.0, 0.0]
    assert model.training, "predict_poses left the model in eval mode"
    with pytest.raises(ValueError, match=r"images: expected a \(N, 3, H, W\) tensor"):
        predict_poses(model, torch.zeros(3, 64, 64))


def test_a_few_steps_on_a_tiny_batch_lower_the_loss(tiny_dataset):
    rows = load_split(str(tiny_dataset), "train")
    data = PoseImageDataset(rows, select_rows(rows, None, ("basis", "frontal", "rotated")), 64)
    items = [data[(i, 0)] for i in range(8)]
    images = torch.stack([item["image"] for item in items])
    model = build_regressor(**SMALL, image_size=64)
    targets = normalize_poses(torch.stack([item["pose"] for item in items]), model)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)

    def loss() -> torch.Tensor:
        return regression_loss(model(pixel_values=images).logits, targets, "mse")

    with torch.no_grad():
        first = float(loss())
    for _ in range(15):
        optimizer.zero_grad()
        loss().backward()
        optimizer.step()
    with torch.no_grad():
        last = float(loss())
    assert last < 0.5 * first, f"loss {first:.4f} -> {last:.4f}"


def test_colour_jitter_changes_colours_only():
    rgba = decode_rgba(_png(), 32)
    same = colour_jitter(rgba, torch.Generator().manual_seed(0), 0.0, 0.0)
    assert torch.allclose(same, rgba, atol=1e-6)
    jittered = colour_jitter(rgba, torch.Generator().manual_seed(1), 0.15, 0.05)
    assert torch.equal(jittered[3], rgba[3]) and not torch.allclose(jittered[:3], rgba[:3])
    assert jittered.min() >= 0 and jittered.max() <= 1


def test_save_and_load_give_identical_predictions_in_a_fresh_process(tmp_path):
    model = build_regressor(**SMALL, image_size=64, seed=3)
    model.train()
    model(pixel_values=torch.rand(4, 3, 64, 64))  # non-trivial batch-norm running statistics
    model.save_pretrained(tmp_path / "weights")
    assert sorted(p.name for p in (tmp_path / "weights").iterdir()) == [
        "config.json",
        "model.safetensors",
    ]
    images = torch.rand(5, 3, 64, 64) * 2 - 1
    torch.save(images, tmp_path / "images.pt")
    code = (
        "import torch; from training.regressor import load_regressor, predict_poses; "
        "torch.set_num_threads(1); "
        f"m = load_regressor({str(tmp_path / 'weights')!r}); "
        f"x = torch.load({str(tmp_path / 'images.pt')!r}); "
        f"torch.save(predict_poses(m, x), {str(tmp_path / 'poses.pt')!r})"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=PROJECT_ROOT
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert torch.equal(torch.load(tmp_path / "poses.pt"), predict_poses(model, images))


def test_evaluation_reports_per_dimension_errors_as_computed_by_hand(tiny_dataset, tmp_path):
    bias = [0.2] * EXPRESSION_DIM + [0.25, -0.1, 0.0]
    model = constant_regressor(bias)
    results = evaluate_regressor(model, str(tiny_dataset), "test")

    test = datasets.load_dataset(str(tiny_dataset), split="test")
    truth = np.array(test["pose"], dtype=np.float64)
    guess = np.array(bias) * np.array(POSE_SCALE)  # within range: clamping changes nothing
    per_dim = np.abs(truth - guess).mean(axis=0)
    assert results["num_images"] == len(test) == 7 and results["num_identities"] == 1
    assert results["per_dim_mae"]["yaw"] == pytest.approx(np.abs(truth[:, 17] - 5.0).mean())
    for i, name in enumerate(POSE_NAMES):
        assert results["per_dim_mae"][name] == pytest.approx(per_dim[i], abs=1e-5), name
    assert results["angle_mae_deg"] == pytest.approx(per_dim[17:].mean(), abs=1e-5)
    assert results["max_angle_mae_deg"] == pytest.approx(per_dim[17:].max(), abs=1e-5)
    assert results["expression_mae"] == pytest.approx(per_dim[:17].mean(), abs=1e-5)
    active = truth[:, :17] > 0
    expected_active = np.abs(truth[:, :17] - 0.2)[active].mean()
    assert results["active_expression_mae"] == pytest.approx(expected_active, abs=1e-5)
    median = np.abs(truth - np.median(truth, axis=0)).mean(axis=0)
    assert results["baseline"]["angle_mae_deg"] == pytest.approx(median[17:].mean(), abs=1e-5)
    groups = test.features["group"].names
    rotated = np.array([groups[g] == "rotated" for g in test["group"]])
    assert results["by_group"]["rotated"]["angle_mae_deg"] == pytest.approx(
        np.abs(truth[rotated] - guess)[:, 17:].mean(), abs=1e-5
    )
    assert results["meets_targets"] == (per_dim[17:].max() <= 2.0 and per_dim[:17].mean() <= 0.1)
    # the rows themselves give the same numbers; the files hold them
    assert evaluate_regressor(model, test)["per_dim_mae"] == results["per_dim_mae"]
    json_path, md_path = write_evaluation(results, tmp_path)
    assert json.loads(json_path.read_text()) == results
    markdown = md_path.read_text()
    assert all(f"| {name} |" in markdown for name in POSE_NAMES)


def test_console_script_trains_exports_evaluates_and_resumes(tiny_dataset, tmp_path):
    out = tmp_path / "cli"
    assert main(cli_args(tiny_dataset, out)) == 0
    weights = out / "weights"
    assert sorted(p.name for p in weights.iterdir()) == [
        "README.md",
        "config.json",
        "model.safetensors",
        "training_config.json",
        "training_history.json",
    ]
    assert RegressorConfig.from_file(weights / "training_config.json").steps == 3
    (stage,) = read_history(weights).stages
    assert stage["steps"] == 3 and stage["seconds"] > 0 and stage["machine"]
    assert stage["config"] == RegressorConfig.from_file(weights / "training_config.json").to_dict()
    model = load_regressor(weights)
    assert predict_poses(model, torch.zeros(2, 3, 64, 64)).shape == (2, 20)
    evaluation = json.loads((out / "evaluation.json").read_text())
    assert list(evaluation["per_dim_mae"]) == list(POSE_NAMES)
    assert evaluation["split"] == "test" and evaluation["num_images"] == 7
    assert "| yaw | degrees |" in (out / "evaluation.md").read_text()
    assert "Mean absolute error on held-out identities" in (weights / "README.md").read_text()
    shipped = tmp_path / "shipped"
    command = ["--run", str(out), "--out", str(shipped)]
    assert publish([*command, "--dtype", "float16"]) == 2  # refused, nothing written
    assert not shipped.exists()
    assert publish([*command, "--dataset-id", "org/animeceleb"]) == 0
    card = (shipped / "README.md").read_text()
    parameters = sum(p.numel() for p in model.parameters())
    assert f"- {parameters:,} parameters; input 64²." in card
    assert f"- Hardware: {machine()}; 1 process(es) on cpu" in card
    assert "Mean absolute error on held-out identities" in card
    assert "datasets:\n- org/animeceleb" in card and "## Intended use" in card
    assert "## Licences\n\nThe weights: apache-2.0." in card
    assert load_regressor(shipped).config.image_size == 64
    assert read_history(shipped) == read_history(weights)  # the run's history, shipped as is
    assert "| 1 | cli | pose regressor | full | 3 |" in card
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [1, 2, 3, 3, 3] and "eval" in records[-2]
    assert records[-1]["stage_end"] and records[-1]["machine"] == machine()
    assert all(np.isfinite(r["loss"]) for r in records[:3])
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == [
        "step-0000002",
        "step-0000003",
    ]

    # interrupted after the step-2 checkpoint, then resumed: the same weights as straight through
    config = _config(cli_args(tiny_dataset, tmp_path / "r"))
    interrupted = RegressorTrainer(config)
    for _ in range(2):
        interrupted.train_step()
    interrupted.save(seconds=1.0)
    del interrupted
    resumed = RegressorTrainer(config)
    assert resumed.step == 2
    resumed.run()
    expected, got = model.state_dict(), load_regressor(tmp_path / "r" / "weights").state_dict()
    for key in expected:
        assert torch.equal(expected[key], got[key]), f"{key} differs after resuming"
    # a resume may change the bookkeeping (how often it evaluates), not what it trains
    bookkeeping = RegressorConfig.from_dict({**config.to_dict(), "eval_every": 1})
    assert RegressorTrainer(bookkeeping).step == 3
    other = "smooth_l1" if config.loss == "mse" else "mse"
    with pytest.raises(ValueError, match=r"different config.*'loss'"):
        RegressorTrainer(RegressorConfig.from_dict({**config.to_dict(), "loss": other}))


def _nested(base: dict, changes: dict) -> dict:
    """``base`` with ``changes`` applied, section by section (mappings merged)."""
    merged = dict(base)
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            value = _nested(merged[key], value)
        merged[key] = value
    return merged


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {"data": {"resolution": 60}},
            "config data.resolution = 60: expected a multiple of 16, at least 32",
        ),
        ({"data": {"resolution": 16}}, "config data.resolution = 16: expected a multiple of 16"),
        (
            {"model": {"depths": [1, 1]}},
            r"config model.depths = \(1, 1\): expected one depth per hidden size \(4\)",
        ),
        ({"model": {"layer_type": "dense"}}, "config model.layer_type = 'dense'"),
        ({"loss": "l3"}, "config loss = 'l3'"),
        ({"groups": ["sideways"]}, "config groups"),
        ({"optimizer": {"learning_rate": 0}}, "config optimizer.learning_rate = 0"),
        ({"optimizer": {"gradient_accumulation_steps": 2}}, "optimizer.gradient_accumulation"),
        ({"schedule": {"warmup_steps": 30_000}}, "config schedule.warmup_steps = 30000"),
        ({"steps": 0}, "config steps = 0: expected a positive integer"),
        ({"color_jitter": 2.0}, "config color_jitter = 2.0"),
        ({"flip": True}, r"unknown config field\(s\) \['flip'\]"),
        ({"model": {"flip": True}}, r"unknown config field\(s\) \['model.flip'\]"),
    ],
)
def test_config_values_out_of_range_are_named_by_their_dotted_path(changes, message):
    with pytest.raises(ValueError, match=message) as error:
        RegressorConfig.from_dict(_nested({"data": {"dataset": "data"}}, changes))
    assert "\n" not in str(error.value)


def test_a_partial_section_keeps_the_regressors_defaults():
    config = RegressorConfig.from_dict(
        {"data": {"dataset": "data"}, "optimizer": {"betas": [0.5, 0.9]}}
    )
    assert (config.data.batch_size, config.data.num_workers, config.torch_threads) == (32, 1, 1)
    assert config.optimizer.learning_rate == 1e-3 and config.optimizer.betas == (0.5, 0.9)
    assert (config.schedule.decay, config.schedule.warmup_steps) == ("cosine", 200)
    assert (config.checkpoints.log_every, config.checkpoints.checkpoint_every) == (20, 500)
    assert config.total_steps == config.steps == 20_000 and config.data.resolution is None
    assert "eval_every" in RegressorConfig.BOOKKEEPING


def test_a_bad_nested_field_on_the_command_line_or_in_a_file_is_one_line(tmp_path, capsys):
    expected = "error: config model.depths = (1, 1): expected one depth per hidden size (4)"
    assert main(["--data.dataset", "data", "--model.depths", "[1, 1]"]) == 2
    assert capsys.readouterr().err.strip() == expected
    path = tmp_path / "regressor.yaml"
    path.write_text("data: {dataset: data}\nmodel:\n  depths: [1, 1]\n", encoding="utf-8")
    assert main(["--config", str(path)]) == 2
    assert capsys.readouterr().err.strip() == expected


def test_the_shipped_config_is_the_shipped_weights_and_card():
    """``weights/pose-regressor/training_config.json`` (the shipped run's config, the card's
    retrain command) reads as a config, is ``training/configs/regressor-500.yaml``, describes the
    shipped model, and renders the shipped card (all but the evaluation, which needs the run)."""
    folder = PROJECT_ROOT / "weights" / "pose-regressor"
    config = RegressorConfig.from_file(folder / "training_config.json")
    assert config == RegressorConfig.from_file(
        PROJECT_ROOT / "training" / "configs" / "regressor-500.yaml"
    )
    model = load_regressor(folder)
    assert config.data.resolution == model.config.image_size == 128 and config.data.resize
    architecture = {name: getattr(model.config, name) for name in config.model.to_dict()}
    assert config.model.to_dict() == architecture
    shipped = (folder / "README.md").read_text(encoding="utf-8")
    hardware = re.search(r"^- Hardware: (.*)\.$", shipped, flags=re.MULTILINE).group(1)
    card = regressor_model_card(
        model,
        config,
        steps=config.steps,
        hardware=hardware,
        history=read_history(folder),
        dataset_id="animeceleb-hf/animeceleb",
    )
    assert card.content.split("## Evaluation")[0] == shipped.split("## Evaluation")[0]
    assert "learning rate 0.001, betas [0.9, 0.999],\n  cosine schedule after 200" in shipped


def test_a_non_finite_loss_stops_the_run(tiny_dataset, tmp_path, monkeypatch, capsys):
    """The trainer's guard: a NaN loss stops the run at that step with one line, before it logs,
    checkpoints or exports anything."""
    from training.regressor import train

    def poisoned(outputs, targets, kind):
        return regression_loss(outputs, targets, kind) * float("nan")

    monkeypatch.setattr(train, "regression_loss", poisoned)
    out = tmp_path / "nan"
    config = _config(cli_args(tiny_dataset, out))
    with pytest.raises(TrainingError, match="step 1: non-finite loss"):
        RegressorTrainer(config).run()
    assert main(cli_args(tiny_dataset, out)) == 2
    errors = [line for line in capsys.readouterr().err.splitlines() if "error:" in line]
    assert len(errors) == 1 and errors[0].startswith("error: step 1: non-finite loss")
    assert not (out / "weights").exists() and not list((out / "checkpoints").glob("step-*"))
    assert not (out / "metrics.jsonl").exists() or not (out / "metrics.jsonl").read_text().strip()


def test_bad_input_gives_one_clear_error(tmp_path, capsys):
    missing = str(tmp_path / "missing")
    assert main(["--data.dataset", missing, "--data.resolution", "60"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "error: config data.resolution = 60: expected a multiple of 16, at least 32"
    assert main(["--data.dataset", missing, "--checkpoints.output_dir", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: dataset") and "missing" in err and "\n" not in err

    with pytest.raises(FileNotFoundError, match="no such pose regressor folder"):
        load_regressor(tmp_path / "nowhere")
    folder = tmp_path / "no-weights"
    build_regressor(**SMALL).config.save_pretrained(folder)
    with pytest.raises(FileNotFoundError, match=r"no-weights/model\.safetensors: missing"):
        load_regressor(folder)
    ten = tmp_path / "ten-labels"
    tiny = ResNetConfig(
        num_labels=10, embedding_size=8, hidden_sizes=[8], depths=[1], layer_type="basic"
    )
    ResNetForImageClassification(tiny).save_pretrained(ten)
    with pytest.raises(ValueError, match=r"ten-labels/config\.json: 10 labels"):
        load_regressor(ten)
    (tmp_path / "config-only").mkdir()
    (tmp_path / "config-only" / "model.safetensors").write_bytes(b"")
    with pytest.raises(FileNotFoundError, match=r"config-only/config\.json: missing"):
        load_regressor(tmp_path / "config-only")


def _config(args: list[str]) -> RegressorConfig:
    """The config the console script builds from ``args``."""
    return parse_config(args, RegressorConfig, prog="animeceleb-train-regressor")


def _png() -> bytes:
    import io

    import PIL.Image

    image = PIL.Image.new("RGBA", (32, 32), (0, 0, 0, 0))
    for x in range(8, 24):
        for y in range(8, 24):
            image.putpixel((x, y), (200, 80 + 4 * x, 40 + 5 * y, 255))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def test_a_barely_better_than_constant_expression_error_is_flagged():
    def results(error: float) -> dict:
        return {"expression_mae": error, "baseline": {"expression_mae": 0.1}}

    assert weak_expression_note(results(0.05)) == []
    (note,) = weak_expression_note(results(0.095))
    assert "Expressions are barely read" in note and "95%" in note
