"""Training: config validation, pairs from a real build, losses that fall, resume at the same state,
a non-finite loss, the console script and a 2-process run."""

import json
import math
import os
import re
import subprocess
import sys
from pathlib import Path

import PIL.Image
import pytest
import torch

from animeceleb.sampling import identity_split
from training.config import TrainConfig
from training.data import PairDataset, SeededPairSampler, load_split, training_pairs
from training.models import build_model
from training.runs import TrainingError
from training.train import Trainer, compute_losses, main

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def tiny_config(dataset: str | Path | list[Path], out: Path, **changes) -> TrainConfig:
    values = dict(
        dataset=[str(d) for d in dataset] if isinstance(dataset, list) else str(dataset),
        output_dir=str(out),
        resolution=64,
        batch_size=2,
        max_steps=4,
        warp_only_fraction=0.5,
        log_every=1,
        sample_every=2,
        checkpoint_every=2,
        loss={"l1": 1.0, "ssim": 0.5, "flow_smoothness": 0.1, "alpha": 0.5},
    )
    return TrainConfig.from_dict({**values, **changes})


def test_pairs_are_one_character_in_one_style_from_the_train_split(tiny_dataset):
    train = load_split(str(tiny_dataset))
    config = tiny_config(tiny_dataset, "unused")
    pairs = training_pairs(train, config)
    rows = train.select_columns(["model_id", "style", "group"]).to_list()
    groups = train.features["group"].names
    assert len(pairs) == 2 * 6  # two train identities, 3 frontal + 3 rotated targets each
    for pair in pairs:
        source, target = rows[pair.source], rows[pair.target]
        assert source["model_id"] == target["model_id"] and source["style"] == target["style"]
        assert groups[source["group"]] == "basis"
        assert groups[target["group"]] in ("frontal", "rotated")
        assert identity_split(target["model_id"]) == "train"


def test_items_have_the_documented_shapes_and_ranges(tiny_dataset):
    config = tiny_config(tiny_dataset, "unused")
    train = load_split(str(tiny_dataset))
    dataset = PairDataset(train, training_pairs(train, config), config)
    item = dataset[next(iter(SeededPairSampler(len(dataset), 0)))]
    assert item["source"].shape == item["target"].shape == (3, 64, 64)
    assert item["source_alpha"].shape == (1, 64, 64) and item["pose"].shape == (20,)
    assert item["source"].min() >= -1 and item["source"].max() <= 1
    again = dataset[next(iter(SeededPairSampler(len(dataset), 0)))]
    assert all(torch.equal(item[k], again[k]) for k in item), "the same key gave another sample"


@pytest.mark.parametrize("model_name", ["animo", "pirenderer"])
def test_a_few_steps_lower_the_loss(tiny_dataset, model_name):
    config = tiny_config(tiny_dataset, "unused", augment=False)
    train = load_split(str(tiny_dataset))
    dataset = PairDataset(train, training_pairs(train, config), config)
    keys = list(zip(range(4), range(4), strict=True))
    batch = {k: torch.stack([dataset[key][k] for key in keys]) for k in dataset[keys[0]]}
    model = build_model(model_name, seed=0)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, betas=(0.5, 0.999))

    def loss() -> torch.Tensor:
        return compute_losses(model(batch["source"], batch["pose"], full=True), batch, config)

    with torch.no_grad():
        first = float(loss()["total"])
    for _ in range(15):
        optimizer.zero_grad()
        loss()["total"].backward()
        optimizer.step()
    with torch.no_grad():
        last = float(loss()["total"])
    assert last < 0.8 * first, f"{model_name}: loss {first:.4f} -> {last:.4f}"


def _weights(trainer: Trainer) -> dict[str, torch.Tensor]:
    model = trainer.accelerator.unwrap_model(trainer.model)
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def test_resume_continues_at_the_same_step_and_state(tiny_dataset, tmp_path):
    straight = Trainer(tiny_config(tiny_dataset, tmp_path / "straight"))
    straight.run()

    interrupted = Trainer(tiny_config(tiny_dataset, tmp_path / "resumed"))
    for _ in range(2):
        interrupted.train_step()
    interrupted.save()
    del interrupted  # as if killed after the step-2 checkpoint, having logged step 3
    logged = [{"step": 2, "phase": "full", "total": 1.0}, {"step": 3, "phase": "stale"}]
    metrics = tmp_path / "resumed" / "metrics.jsonl"
    metrics.write_text("".join(json.dumps(r) + "\n" for r in logged))

    resumed = Trainer(tiny_config(tiny_dataset, tmp_path / "resumed"))
    assert resumed.step == 2
    resumed.run()
    assert resumed.step == 4
    expected, got = _weights(straight), _weights(resumed)
    assert expected.keys() == got.keys()
    for key in expected:
        assert torch.equal(expected[key], got[key]), f"{key} differs after resuming"
    run = tmp_path / "resumed"
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == [
        "step-0000002",
        "step-0000004",
    ]
    with PIL.Image.open(run / "samples" / "step-0000004.png") as grid:  # six rows
        assert grid.size == (4 * 64, 6 * 64)  # four fixed pairs
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [2, 3, 4]  # step 3 logged once, by the resumed run
    assert [r["phase"] for r in records] == ["full", "full", "full"]
    assert all(math.isfinite(r["total"]) for r in records)


def test_a_non_finite_loss_stops_naming_the_step_and_keeps_the_last_checkpoint(
    tiny_dataset, tmp_path, monkeypatch
):
    import training.train as train_module

    trainer = Trainer(tiny_config(tiny_dataset, tmp_path / "nan"))
    for _ in range(2):
        trainer.train_step()
    trainer.save()
    real = train_module.compute_losses

    def nan_losses(*args):
        terms = real(*args)
        terms["total"] = terms["total"] * float("nan")
        return terms

    monkeypatch.setattr(train_module, "compute_losses", nan_losses)
    with pytest.raises(TrainingError, match=r"step 3: non-finite loss .*step-0000002"):
        trainer.run()
    assert sorted(p.name for p in (tmp_path / "nan" / "checkpoints").iterdir()) == ["step-0000002"]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"resolution": 60}, "config resolution = 60: expected a multiple of 16"),
        ({"model": "gan"}, "config model = 'gan'"),
        ({"loss": {"l1": -1.0}}, "config loss.l1 = -1.0: expected a finite number >= 0"),
        ({"warp_only_fraction": 1.5}, "config warp_only_fraction = 1.5"),
        ({"target_groups": ["basis"]}, "config target_groups"),
        ({"learning_rate": 0}, "config learning_rate = 0"),
        ({"editing": {"layers_per_block": 0}}, "config editing.layers_per_block = 0"),
        ({"editing": {"block_out_channels": []}}, "config editing.block_out_channels"),
        ({"editing": {"warp_interpolation": "nearest"}}, "config editing.warp_interpolation"),
    ],
)
def test_config_values_out_of_range_are_named(changes, message):
    with pytest.raises(ValueError, match=message):
        tiny_config(Path("data"), Path("out"), **changes)


def test_bad_datasets_and_a_different_config_are_refused(tiny_dataset, tmp_path):
    not_animeceleb = tmp_path / "other"
    (not_animeceleb / "data").mkdir(parents=True)
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"text": ["a", "b"]}), not_animeceleb / "data" / "train-0.parquet")
    with pytest.raises(ValueError, match="column 'image'"):
        load_split(str(not_animeceleb))
    only_test = tmp_path / "only-test"
    (only_test / "data").mkdir(parents=True)
    pq.write_table(pa.table({"text": ["a"]}), only_test / "data" / "test-0.parquet")
    with pytest.raises(ValueError, match="no train split"):
        load_split(str(only_test))

    Trainer(tiny_config(tiny_dataset, tmp_path / "run"))  # no checkpoint: nothing to resume
    started = Trainer(tiny_config(tiny_dataset, tmp_path / "run", batch_size=3))
    started.train_step()
    started.save()
    with pytest.raises(ValueError, match=r"different config \(fields \['batch_size'\]"):
        Trainer(tiny_config(tiny_dataset, tmp_path / "run", batch_size=4))
    # a longer run (same warping phase) goes on from the checkpoint, and says so in config.json
    longer = {"batch_size": 3, "max_steps": 50, "warp_only_fraction": 0.04}  # 2 warp steps
    assert Trainer(tiny_config(tiny_dataset, tmp_path / "run", **longer)).step == 1
    assert json.loads((tmp_path / "run" / "config.json").read_text())["max_steps"] == 50
    phase = tiny_config(tiny_dataset, tmp_path / "run", batch_size=3, max_steps=8)
    with pytest.raises(ValueError, match=r"fields \['warp_only_fraction'\]"):
        Trainer(phase)
    # new loss weights are a fine-tuning stage; a critic the checkpoint lacks is another run
    base = tiny_config(tiny_dataset, tmp_path / "run", **longer).to_dict()["loss"]
    critic = {**longer, "loss": {**base, "adversarial": 0.5}}
    with pytest.raises(ValueError, match=r"fields \['loss'\]"):
        Trainer(tiny_config(tiny_dataset, tmp_path / "run", **critic))
    reweighted = {**longer, "loss": {**base, "changed_per_image": 1.0}}
    assert Trainer(tiny_config(tiny_dataset, tmp_path / "run", **reweighted)).step == 1
    stages = json.loads((tmp_path / "run" / "stages.json").read_text())
    assert [s["config"]["loss"]["changed_per_image"] for s in stages] == [0.0]


def test_several_datasets_train_together_and_a_resumed_run_may_take_more(tiny_dataset, tmp_path):
    import datasets

    one = load_split(str(tiny_dataset))
    both = load_split([str(tiny_dataset), str(tiny_dataset)])
    assert len(both) == 2 * len(one) and both.features == one.features
    assert list(both["model_id"]) == list(one["model_id"]) * 2
    for bad in ((), ("data", "")):
        with pytest.raises(ValueError, match="config dataset = .*: expected a local Hub-layout"):
            TrainConfig(dataset=bad, output_dir=str(tmp_path / "bad"))
    other_styles = tmp_path / "other-styles"
    one.cast_column("style", datasets.ClassLabel(names=["cel", "other"])).to_parquet(
        str(other_styles / "data" / "train-00000-of-00001.parquet")
    )
    with pytest.raises(ValueError, match=f"dataset '{other_styles}': its features differ from"):
        load_split([str(tiny_dataset), str(other_styles)])

    config = tiny_config(tiny_dataset, tmp_path / "run", batch_size=3, max_steps=50)
    started = Trainer(config)
    started.train_step()
    started.save()
    more = tiny_config(
        [tiny_dataset, tiny_dataset], tmp_path / "run", batch_size=3, max_steps=50
    )  # a later stage on more characters: the same run goes on
    assert more.dataset == (str(tiny_dataset), str(tiny_dataset))
    assert Trainer(more).step == 1
    saved = json.loads((tmp_path / "run" / "config.json").read_text())
    assert saved["dataset"] == [str(tiny_dataset)] * 2
    stages = json.loads((tmp_path / "run" / "stages.json").read_text())
    assert [stage["config"]["dataset"] for stage in stages] == [str(tiny_dataset)]


def test_console_script_trains_and_exports_loadable_weights(tiny_dataset, tmp_path):
    out = tmp_path / "cli"
    config = tmp_path / "config.yaml"
    config.write_text(f"dataset: {tiny_dataset}\nresolution: 64\nbatch_size: 2\n")
    args = ["--config", str(config), "--output_dir", str(out), "--max_steps", "2"]
    args += ["--editing.layers_per_block", "2"]  # a non-default size travels with the weights
    assert main([*args, "--sample_every", "1", "--checkpoint_every", "1"]) == 0
    code = (
        "import sys, torch; from animo_hf import AniMoPipeline; "
        f"p = AniMoPipeline.from_pretrained({str(out / 'weights')!r}); "
        "p.set_progress_bar_config(disable=True); "
        "o = p(torch.rand(4, 64, 64), num_random_poses=2, height=64, width=64); "
        "print(len(o.frames), p.editing_network.config.layers_per_block)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "2 2"


def test_bad_command_line_is_one_line(tmp_path, capsys):
    assert main(["--dataset", str(tmp_path / "missing"), "--resolution", "60"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "error: config resolution = 60: expected a multiple of 16, at least 16"


def test_two_cpu_processes_with_gloo_train_one_model(tiny_dataset, tmp_path):
    out = tmp_path / "ddp"
    command = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu"]
    command += ["--num_processes", "2", "--num_machines", "1", "--mixed_precision", "no"]
    command += ["--dynamo_backend", "no", "-m", "training.train", "--dataset", str(tiny_dataset)]
    command += ["--output_dir", str(out), "--resolution", "64", "--batch_size", "2"]
    command += ["--max_steps", "2", "--checkpoint_every", "1", "--log_every", "1"]
    env = {**os.environ, "ACCELERATE_USE_CPU": "true", "PYTHONPATH": str(PROJECT_ROOT)}
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    checkpoint = out / "checkpoints" / "step-0000002"
    assert sorted(p.name for p in checkpoint.glob("random_states_*.pkl")) == [
        "random_states_0.pkl",
        "random_states_1.pkl",
    ], "not two processes"
    records = (out / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(r)["step"] for r in records] == [1, 2], "each process logged"
    assert result.stdout.count("weights written to") == 1
    assert (out / "weights" / "model_index.json").is_file()


SHIPPED_CONFIGS = sorted((PROJECT_ROOT / "training" / "configs").glob("*.yaml"))


@pytest.mark.parametrize("path", SHIPPED_CONFIGS)
def test_shipped_configs_are_valid(path):
    from training.train_regressor import RegressorConfig

    if path.stem.startswith("regressor"):
        config = RegressorConfig.from_yaml(path)
    else:
        config = TrainConfig.from_yaml(path)
        assert config.model in path.stem
        if config.init_weights is not None:  # shipped weights, or a run a documented command makes
            run = config.init_weights.removesuffix("/weights")
            made_by_configs = {
                TrainConfig.from_yaml(other).output_dir
                for other in SHIPPED_CONFIGS
                if not other.stem.startswith("regressor")
            }
            commands = (PROJECT_ROOT / "weights" / "README.md").read_text(encoding="utf-8")
            assert (
                (PROJECT_ROOT / config.init_weights).is_dir()
                or run in made_by_configs
                or f"--output_dir {run} " in commands
            ), f"{path.name}: nothing here makes init_weights {config.init_weights}"
        if config.init_lora is not None:
            assert (PROJECT_ROOT / config.init_lora).is_dir(), f"{path.name}: {config.init_lora}"
    docs = (PROJECT_ROOT / "docs" / "training.md").read_text(encoding="utf-8")
    slices = set(re.findall(r"scripts/portable_subset\.py --dataset \S+/hub .*--out (\S+)", docs))
    for dataset in [config.dataset] if isinstance(config.dataset, str) else config.dataset:
        assert dataset.endswith("/hub") or dataset in slices, (
            f"{path.name}: dataset {dataset} is neither a build nor documented slices of one"
        )


def test_the_baseline_configs_retrain_the_shipped_baseline():
    configs, shipped = PROJECT_ROOT / "training" / "configs", PROJECT_ROOT / "weights"
    runs = {
        "pirenderer.yaml": "1-pirenderer-500-128",
        "pirenderer-256.yaml": "2-pirenderer-500-256",
    }
    for name, run in runs.items():
        ran = shipped / "pirenderer-baseline" / "training" / f"{run}.json"
        assert TrainConfig.from_yaml(configs / name) == TrainConfig.from_yaml(ran), name


def test_the_generated_image_is_trained_too_when_asked(tiny_dataset):
    config = tiny_config(tiny_dataset, "unused", loss={"l1": 1.0, "generated": 0.5})
    train = load_split(str(tiny_dataset))
    dataset = PairDataset(train, training_pairs(train, config), config)
    item = dataset[(0, 0)]
    batch = {k: v[None] for k, v in item.items()}
    prediction = build_model("animo", seed=0)(batch["source"], batch["pose"], full=True)
    terms = compute_losses(prediction, batch, config)
    assert set(terms) == {"warp_l1", "image_l1", "generated_l1", "total"}
    expected = terms["warp_l1"] + terms["image_l1"] + 0.5 * terms["generated_l1"]
    assert torch.allclose(terms["total"], expected)
    mask_free = prediction.image - prediction.generated
    assert mask_free.abs().max() > 0, "the output is not composed from the warped source"


def test_the_changed_loss_weighs_only_what_the_warp_does_not_explain():
    from training.losses import changed_l1

    target = torch.zeros(1, 3, 16, 16)
    warped = target.clone()
    warped[..., 7:9, 7:9] = 1.0  # a 2x2 "mouth" the warp got wrong: 4 of 256 pixels
    fixed = warped.clone()
    fixed[..., 7:9, 7:9] = 0.0
    assert changed_l1(warped, target, target) == 0  # the warp explains every pixel
    assert changed_l1(fixed, target, warped) == 0
    # dilated by 5: a 6x6 region; the error of 4 pixels of 1 over it, not over the whole image
    assert torch.isclose(changed_l1(warped, target, warped), torch.tensor(4 / 36))
    far = fixed.clone()
    far[..., 0, 0] = 1.0  # an error outside the changed region does not count
    assert changed_l1(far, target, warped) == 0
    # beside an image whose whole 16x16 is wrong: pooled, the mouth's 36 pixels are lost among
    # 292; per image, each image's mean counts the same
    both_target = torch.cat([target, target])
    both_warped = torch.cat([warped, torch.ones_like(target)])
    assert torch.isclose(changed_l1(both_warped, both_target, both_warped), torch.tensor(260 / 292))
    by_image = changed_l1(both_warped, both_target, both_warped, per_image=True)
    assert torch.isclose(by_image, torch.tensor((4 / 36 + 1.0) / 2))


def test_the_edge_loss_asks_for_detail_a_blur_lacks():
    from training.losses import edge_l1, laplacian

    target = torch.zeros(1, 3, 8, 8)
    target[..., 3:5, 3:5] = 1.0
    flat = torch.full_like(target, target.mean())  # the same mean, no edges
    assert edge_l1(target, target) == 0 and edge_l1(flat, target) > 0
    assert torch.equal(laplacian(flat), torch.zeros(1, 3, 6, 6))
    # by hand: the centre of a 3x3 with a 1 in the middle and 0 around is -4
    one = torch.zeros(1, 1, 3, 3)
    one[..., 1, 1] = 1.0
    assert laplacian(one).item() == -4.0


def test_the_changed_term_reaches_the_output_and_generated_image(tiny_dataset):
    loss = {"l1": 1.0, "generated": 0.5, "changed": 2.0, "edges": 3.0}
    config = tiny_config(tiny_dataset, "unused", loss=loss)
    train = load_split(str(tiny_dataset))
    item = PairDataset(train, training_pairs(train, config), config)[(0, 0)]
    batch = {k: v[None] for k, v in item.items()}
    prediction = build_model("animo", seed=0)(batch["source"], batch["pose"], full=True)
    terms = compute_losses(prediction, batch, config)
    assert {"image_changed", "generated_changed"} <= set(terms) and "warp_changed" not in terms
    assert terms["image_changed"] > 0
    expected = terms["warp_l1"] + terms["image_l1"] + 0.5 * terms["generated_l1"]
    expected = expected + 2.0 * (terms["image_changed"] + 0.5 * terms["generated_changed"])
    expected = expected + 3.0 * (terms["image_edges"] + 0.5 * terms["generated_edges"])
    assert torch.allclose(terms["total"], expected)


def test_the_mask_loss_pulls_the_mask_to_where_warping_fails():
    from training.losses import mask_loss

    target = torch.zeros(1, 3, 4, 4)
    warped = target.clone()
    warped[..., :2] = 1.0  # the left half is wrong after warping
    right = torch.ones(1, 1, 4, 4)
    right[..., :2] = 0.0  # a mask that trusts the warp only on the right half
    assert mask_loss(right, warped, target) < 1e-3
    assert mask_loss(torch.full((1, 1, 4, 4), 0.99), warped, target) > 1.0
