"""Training: the nested config (dotted errors, stages, schedules), pairs from a real build, the
image size, losses that fall, a run's stages trained as configured with their history, resume at
the same state, appended stages (and refused changes), a non-finite loss, the console script and
a 2-process run."""

import contextlib
import json
import math
import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import PIL.Image
import pytest
import torch

from animeceleb.sampling import identity_split
from training import runs
from training.animo.configuration_animo import ModelConfig, TrainConfig
from training.animo.losses import compute_losses
from training.animo.modeling_animo import build_model
from training.animo.train import Trainer, main
from training.configuration import DataConfig, ScheduleConfig
from training.data import (
    PairDataset,
    SeededPairSampler,
    load_split,
    recorded_resolution,
    run_resolution,
    training_pairs,
)
from training.history import history_table, read_history
from training.runs import TrainingError

PROJECT_ROOT = Path(__file__).resolve().parents[1]
TINY_LOSS = {"l1": 1.0, "ssim": 0.5, "flow_smoothness": 0.1, "alpha": 0.5}
TINY_STAGES = [
    {"name": "warping path", "trains": "warp", "steps": 2},
    {"name": "whole model", "trains": "full", "steps": 2},
]
ADVERSARIAL = {"l1": 1.0, "ssim": 0.5, "adversarial": 0.1, "feature_matching": 1.0}
# a critic warm-up, the warping path, then the whole model with the rate decaying along a cosine
STAGED = [
    {"name": "critic", "trains": "critic", "steps": 1},
    {"name": "warp", "trains": "warp", "steps": 1},
    {"name": "full", "trains": "full", "steps": 2, "schedule": {"decay": "cosine"}},
]
SUBPROCESS_ENV = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}  # this checkout's code


def tiny_config(dataset: str | Path | list[Path], out: str | Path, **changes) -> TrainConfig:
    """A 4-step run on ``dataset`` (a folder, or a list of them) at its own size (64²) into
    ``out``: the warping path for 2 steps, then the whole model for 2. ``changes``: fields to
    set; a mapping given for a section (``data``, ``checkpoints``, ``model``, ...) updates the
    default's fields, except ``loss``, which replaces them."""
    values = {
        "data": {
            "dataset": [str(d) for d in dataset] if isinstance(dataset, list) else str(dataset),
            "batch_size": 2,
        },
        "checkpoints": {"output_dir": str(out), "log_every": 1, "checkpoint_every": 2},
        "loss": TINY_LOSS,
        "stages": TINY_STAGES,
        "sample_every": 2,
    }
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(values.get(key), dict) and key != "loss":
            values[key] = {**values[key], **value}
        else:
            values[key] = value
    return TrainConfig.from_dict(values)


def records(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / runs.METRICS_FILE).read_text().splitlines()]


def state(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def changed(before: dict[str, torch.Tensor], after: dict[str, torch.Tensor]) -> bool:
    return any(not torch.equal(before[k], after[k]) for k in before)


# --- the config ---


def test_the_schedule_factor_computed_by_hand():
    def factors(steps, span=10, **fields):
        return [ScheduleConfig(**fields).factor(step, span) for step in steps]

    assert factors(range(10)) == [1.0] * 10  # the default: constant, as in the paper
    assert factors([0, 1, 2, 3], warmup_steps=2) == pytest.approx([0.5, 1.0, 1.0, 1.0])
    assert factors([0, 3], warmup_steps=4) == pytest.approx([0.25, 1.0])
    # cosine over every step after a 2-step warm-up: progress (step - 2) / 8
    expected = [0.5 * (1 + math.cos(math.pi * (s - 2) / 8)) for s in (2, 6, 9)]
    assert factors([2, 6, 9], decay="cosine", warmup_steps=2) == pytest.approx(expected)
    assert factors([0, 1], decay="cosine", warmup_steps=2) == pytest.approx([0.5, 1.0])
    # a cool-down over the last 4 steps: constant to step 6, then progress (step - 6) / 4
    cool = factors([0, 5, 6, 8, 9], decay="cosine", decay_steps=4)
    last = 0.5 * (1 + math.cos(0.75 * math.pi))
    assert cool == pytest.approx([1.0, 1.0, 1.0, 0.5, last])
    # to 0 at the span's end, falling all the way; a constant schedule stays at its peak
    falling = factors(range(11), decay="cosine")
    assert falling[0] == 1.0 and falling[-1] == pytest.approx(0.0, abs=1e-12)
    assert all(a > b for a, b in zip(falling, falling[1:], strict=False))
    assert factors([10], decay="cosine", warmup_steps=3, decay_steps=2) == pytest.approx([0.0])
    assert factors([10], warmup_steps=3) == [1.0]


def test_a_stage_s_loss_overrides_only_the_terms_it_names_and_the_boundaries_are_its_steps():
    config = tiny_config(
        "data",
        "out",
        loss=ADVERSARIAL,
        critic={"updates": 2, "learning_rate": 4e-4},
        stages=[
            {"name": "critic", "trains": "critic", "steps": 2},
            {"trains": "warp", "steps": 3, "loss": {"ssim": 0.0}},
            {"steps": 5, "loss": {"adversarial": 0.5}, "critic_updates": 3},
        ],
    )
    stages = config.run_stages()
    assert [(s.start, s.end) for s in stages] == [(0, 2), (2, 5), (5, 10)]
    assert config.total_steps == 10
    assert [s.label for s in stages] == ["critic", "stage 2", "stage 3"]
    run = config.loss.to_dict()
    assert stages[0].loss.to_dict() == run
    assert stages[1].loss.to_dict() == {**run, "ssim": 0.0}
    assert stages[2].loss.to_dict() == {**run, "adversarial": 0.5}
    assert [s.critic_updates for s in stages] == [2, 2, 3]
    assert config.stages[1].loss == {"ssim": 0.0}, "a stage's own weights were filled in"
    assert [config.stage_at(step).index for step in range(10)] == [0, 0, 1, 1, 1, 2, 2, 2, 2, 2]
    with pytest.raises(ValueError, match=r"^step 10: past the run's 10 steps$"):
        config.stage_at(10)
    assert config.uses_discriminator and config.critic_rate == 4e-4
    # the rate of every step: the critic's stage at its peak, then the stages' own schedules
    staged = tiny_config(
        "data",
        "out",
        loss=ADVERSARIAL,
        stages=[
            {"trains": "critic", "steps": 4},
            {"steps": 6, "schedule": {"decay": "cosine", "warmup_steps": 2, "decay_steps": 4}},
        ],
    )

    def factor(step: int) -> float:
        stage = staged.stage_at(step)
        return stage.config.schedule.factor(step - stage.start, stage.config.steps)

    last = 0.5 * (1 + math.cos(0.75 * math.pi))
    expected = [1.0, 1.0, 1.0, 1.0, 0.5, 1.0, 1.0, 0.5 * (1 + math.cos(0.25 * math.pi)), 0.5]
    assert [factor(s) for s in range(10)] == pytest.approx([*expected, last])


def test_a_critic_stage_needs_a_loss_that_uses_the_critic():
    critic_first = [{"trains": "critic", "steps": 1}, {"steps": 2}]
    with pytest.raises(
        ValueError,
        match=re.escape(
            "config stages.0.trains = 'critic': expected no critic stage unless a stage's loss "
            "uses it"
        ),
    ):
        tiny_config("data", "out", stages=critic_first)
    # a later stage's loss is enough: the critic warms up for it
    later = [*critic_first, {"steps": 1, "loss": {"adversarial": 0.1}}]
    config = tiny_config("data", "out", stages=later)
    assert config.uses_discriminator and not config.run_stages()[1].loss.uses_discriminator


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {"data": {"resolution": 60}},
            "config data.resolution = 60: expected a multiple of 16, at least 16",
        ),
        ({"data": {"batch_size": 0}}, "config data.batch_size = 0: expected a positive integer"),
        ({"model": {"name": "gan"}}, "config model.name = 'gan': expected one of"),
        ({"loss": {"l1": -1.0}}, "config loss.l1 = -1.0: expected a finite number >= 0"),
        ({"pairs": {"target_groups": ["basis"]}}, "config pairs.target_groups = ('basis',)"),
        ({"optimizer": {"learning_rate": 0}}, "config optimizer.learning_rate = 0: expected"),
        (
            {"model": {"editing": {"layers_per_block": 0}}},
            "config model.editing.layers_per_block = 0: expected a positive integer",
        ),
        (
            {"model": {"editing": {"block_out_channels": []}}},
            "config model.editing.block_out_channels = (): expected a list of positive",
        ),
        (
            {"model": {"editing": {"warp_interpolation": "nearest"}}},
            "config model.editing.warp_interpolation = 'nearest': expected one of",
        ),
        (
            {"model": {"init_weights": "w", "lora": {"rank": 0}}},
            "config model.lora.rank = 0: expected a positive integer",
        ),
        (
            {"stages": [{"steps": 1}, {"steps": 2, "schedule": {"warmup_steps": 3}}]},
            "config stages.1.schedule.warmup_steps = 3: expected at most 2 (the steps)",
        ),
        (
            {"stages": [{"steps": 1}, {"steps": 2, "schedule": {"decay": "linear"}}]},
            "config stages.1.schedule.decay = 'linear': expected one of ('constant', 'cosine')",
        ),
        ({"stages": [{"steps": 0}]}, "config stages.0.steps = 0: expected a positive integer"),
        ({"stages": [{"trains": "gan"}]}, "config stages.0.trains = 'gan': expected one of"),
        ({"stages": []}, "config stages = (): expected a non-empty list of stages"),
        (
            {"stages": [{"loss": {"l1": -2}}]},
            "config stages.0.loss.l1 = -2: expected a finite number >= 0",
        ),
        (
            {"stages": [{"loss": {"face": 1.0}}]},
            "config stages.0.loss = {'face': 1.0}: expected loss weights only (unknown: ['face'])",
        ),
        ({"data": {"foo": 1}}, "config: unknown config field(s) ['data.foo']"),
        ({"loss": {"l1": 1.0, "edges": 1.0}}, "config: unknown config field(s) ['loss.edges']"),
        ({"stages": [{"steps": 1, "foo": 2}]}, "unknown config field(s) ['stages.0.foo']"),
        ({"max_steps": 4}, "config: unknown config field(s) ['max_steps']"),
    ],
)
def test_config_values_out_of_range_are_named(changes, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        tiny_config(Path("data"), Path("out"), **changes)


def test_shipped_recipes_load_and_override_by_dotted_path():
    path = PROJECT_ROOT / "training" / "configs" / "animo.yaml"
    config = TrainConfig.from_file(path, {"stages.1.steps": 7, "data.batch_size": 3})
    assert [s.steps for s in config.stages] == [15000, 7] and config.data.batch_size == 3
    with pytest.raises(ValueError, match=re.escape("override stages.2: expected an index below 2")):
        TrainConfig.from_file(path, {"stages.2.steps": 7})


# --- data ---


def test_pairs_are_one_character_in_one_style_from_the_train_split(tiny_dataset):
    train = load_split(str(tiny_dataset))
    config = tiny_config(tiny_dataset, "unused")
    pairs = training_pairs(
        train, config.data, config.pairs.source_groups, config.pairs.target_groups, config.seed
    )
    rows = train.select_columns(["model_id", "style", "group"]).to_list()
    groups = train.features["group"].names
    assert len(pairs) == 2 * 6  # two train identities, 3 frontal + 3 rotated targets each
    for pair in pairs:
        source, target = rows[pair.source], rows[pair.target]
        assert source["model_id"] == target["model_id"] and source["style"] == target["style"]
        assert groups[source["group"]] == "basis"
        assert groups[target["group"]] in ("frontal", "rotated")
        assert identity_split(target["model_id"]) == "train"


def tiny_pairs(dataset: Path, config: TrainConfig, augment: bool = True) -> PairDataset:
    train = load_split(str(dataset))
    pairs = training_pairs(
        train, config.data, config.pairs.source_groups, config.pairs.target_groups, config.seed
    )
    return PairDataset(train, pairs, run_resolution(config.data, train), augment)


def test_items_have_the_documented_shapes_and_ranges(tiny_dataset):
    dataset = tiny_pairs(tiny_dataset, tiny_config(tiny_dataset, "unused"))
    item = dataset[next(iter(SeededPairSampler(len(dataset), 0)))]
    assert item["source"].shape == item["target"].shape == (3, 64, 64)
    assert item["source_alpha"].shape == (1, 64, 64) and item["pose"].shape == (20,)
    assert item["source"].min() >= -1 and item["source"].max() <= 1
    again = dataset[next(iter(SeededPairSampler(len(dataset), 0)))]
    assert all(torch.equal(item[k], again[k]) for k in item), "the same key gave another sample"


def test_a_run_trains_at_the_dataset_s_size_unless_asked_to_resize(tiny_dataset, tmp_path):
    assert recorded_resolution(str(tiny_dataset)) == 64  # the build's card records it
    train = load_split(str(tiny_dataset))
    assert run_resolution(DataConfig(dataset=str(tiny_dataset)), train) == 64
    smaller = DataConfig(dataset=str(tiny_dataset), resolution=32)
    with pytest.raises(ValueError) as refused:
        run_resolution(smaller, train)
    assert str(refused.value) == (
        f"config data.resolution = 32: the dataset '{tiny_dataset}' is 64x64; expected 64, "
        "or data.resize: true to resize its images"
    )
    with pytest.raises(ValueError, match=r"^config data.resolution = 32: .* is 64x64"):
        Trainer(tiny_config(tiny_dataset, tmp_path / "refused", data={"resolution": 32}))

    resized = tiny_config(tiny_dataset, tmp_path / "32", data={"resolution": 32, "resize": True})
    trainer = Trainer(resized)
    assert trainer.resolution == 32 and trainer.fixed["source"].shape == (4, 3, 32, 32)
    assert math.isfinite(trainer.train_step()["total"])
    trainer.save(1.0)
    from animo_hf import AniMoPipeline

    assert AniMoPipeline.from_pretrained(trainer.out / "weights").default_sample_size == 32
    assert [s["resolution"] for s in read_history(trainer.out / "weights").stages] == [32]


# --- losses ---


@pytest.mark.parametrize("model_name", ["animo", "pirenderer"])
def test_a_few_steps_lower_the_loss(tiny_dataset, model_name):
    config = tiny_config(tiny_dataset, "unused", augment=False)
    dataset = tiny_pairs(tiny_dataset, config, augment=False)
    keys = list(zip(range(4), range(4), strict=True))
    batch = {k: torch.stack([dataset[key][k] for key in keys]) for k in dataset[keys[0]]}
    model = build_model(ModelConfig(name=model_name), seed=0, resolution=64)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, betas=(0.5, 0.999))

    def loss() -> dict[str, torch.Tensor]:
        prediction = model(batch["source"], batch["pose"], full=True)
        return compute_losses(prediction, batch, config.loss)

    with torch.no_grad():
        first = float(loss()["total"])
    for _ in range(15):
        optimizer.zero_grad()
        loss()["total"].backward()
        optimizer.step()
    with torch.no_grad():
        last = float(loss()["total"])
    assert last < 0.8 * first, f"{model_name}: loss {first:.4f} -> {last:.4f}"


def one_item_batch(dataset: Path, config: TrainConfig) -> dict[str, torch.Tensor]:
    item = tiny_pairs(dataset, config)[(0, 0)]
    return {k: v[None] for k, v in item.items()}


def test_the_generated_image_is_trained_too_when_asked(tiny_dataset):
    config = tiny_config(tiny_dataset, "unused", loss={"l1": 1.0, "generated": 0.5})
    batch = one_item_batch(tiny_dataset, config)
    model = build_model(config.model, seed=0, resolution=64)
    prediction = model(batch["source"], batch["pose"], full=True)
    terms = compute_losses(prediction, batch, config.loss)
    assert set(terms) == {"warp_l1", "image_l1", "generated_l1", "total"}
    expected = terms["warp_l1"] + terms["image_l1"] + 0.5 * terms["generated_l1"]
    assert torch.allclose(terms["total"], expected)
    mask_free = prediction.image - prediction.generated
    assert mask_free.abs().max() > 0, "the output is not composed from the warped source"


def test_the_changed_loss_weighs_only_what_the_warp_does_not_explain():
    from training.animo.losses import changed_l1

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
    # beside an image whose whole 16x16 is wrong: pooled over the batch's changed pixels, the
    # mouth's 36 pixels are lost among 292
    both_target = torch.cat([target, target])
    both_warped = torch.cat([warped, torch.ones_like(target)])
    assert torch.isclose(changed_l1(both_warped, both_target, both_warped), torch.tensor(260 / 292))


def test_the_changed_term_reaches_the_output_and_generated_image(tiny_dataset):
    loss = {"l1": 1.0, "generated": 0.5, "changed": 2.0}
    config = tiny_config(tiny_dataset, "unused", loss=loss)
    batch = one_item_batch(tiny_dataset, config)
    model = build_model(config.model, seed=0, resolution=64)
    prediction = model(batch["source"], batch["pose"], full=True)
    terms = compute_losses(prediction, batch, config.loss)
    assert {"image_changed", "generated_changed"} <= set(terms) and "warp_changed" not in terms
    assert terms["image_changed"] > 0
    expected = terms["warp_l1"] + terms["image_l1"] + 0.5 * terms["generated_l1"]
    expected = expected + 2.0 * (terms["image_changed"] + 0.5 * terms["generated_changed"])
    assert torch.allclose(terms["total"], expected)


# --- a run's stages, its history, resuming it ---


class WatchedTrainer(Trainer):
    """A trainer that notes, for each update, its stage, the values it returned and which of
    the model's components and the discriminator changed."""

    def __init__(self, config: TrainConfig) -> None:
        super().__init__(config)
        self.updates: list[tuple[str, set[str], dict[str, float]]] = []

    def parts(self) -> dict[str, dict[str, torch.Tensor]]:
        model = self.accelerator.unwrap_model(self.model)
        parts = {name: state(child) for name, child in model.named_children()}
        parts["discriminator"] = state(self.accelerator.unwrap_model(self.discriminator))
        return parts

    def train_step(self) -> dict[str, float]:
        stage, before = self.stage, self.parts()
        values = super().train_step()
        after = self.parts()
        moved = {name for name in before if changed(before[name], after[name])}
        self.updates.append((stage.label, moved, values))
        return values


def staged_config(dataset: Path, out: Path, **changes) -> TrainConfig:
    """:data:`STAGED` (4 steps) with the adversarial terms and the critic at 4x the rate."""
    values = {"loss": ADVERSARIAL, "critic": {"learning_rate": 4e-4}, "stages": STAGED}
    return tiny_config(dataset, out, **{**values, **changes})


@pytest.fixture(scope="module")
def staged(tiny_dataset, tmp_path_factory) -> WatchedTrainer:
    """An unbroken 4-step run of :func:`staged_config`, watched update by update."""
    trainer = WatchedTrainer(staged_config(tiny_dataset, tmp_path_factory.mktemp("staged") / "run"))
    trainer.run()
    return trainer


def test_a_run_trains_each_stage_as_configured(staged):
    networks = {"motion_network", "warping_network", "editing_network"}
    labels = [label for label, _, _ in staged.updates]
    assert labels == ["critic", "warp", "full", "full"]
    moved = [parts for _, parts, _ in staged.updates]
    # the critic alone (the model frozen); the warping path (the editing network and the critic
    # untouched); then everything but the fixed pose mapping
    assert moved == [
        {"discriminator"},
        networks - {"editing_network"},
        *[networks | {"discriminator"}] * 2,
    ]
    values = [v for _, _, v in staged.updates]
    cosine = [1.0, 0.5]  # two steps along the cosine: progress 0, then 1/2
    assert [v["lr"] for v in values] == pytest.approx([0.0, 1e-4, *[1e-4 * f for f in cosine]])
    assert [v["discriminator_lr"] for v in values] == pytest.approx([4e-4, 4e-4, 4e-4, 2e-4])
    assert ["total" in v for v in values] == [False, True, True, True]
    assert ["discriminator_gap" in v for v in values] == [True, False, True, True]
    assert all({"adversarial", "feature_matching", "discriminator"} <= set(v) for v in values[2:])

    logged = records(staged.out)
    assert [(r["step"], r["stage"]) for r in logged if "stage_end" not in r] == [
        (1, 0),
        (2, 1),
        (3, 2),
        (4, 2),
    ]
    ends = [r for r in logged if r.get("stage_end")]
    assert [(r["step"], r["stage"]) for r in ends] == [(1, 0), (2, 1), (4, 2)]
    seconds = [r["train_seconds"] for r in ends]
    assert 0 < seconds[0] < seconds[1] < seconds[2]
    assert all(r["machine"] == runs.machine() for r in ends)


def test_the_exported_weights_carry_one_history_record_per_stage(staged):
    history = read_history(staged.out / "weights")
    ends = [r["train_seconds"] for r in records(staged.out) if r.get("stage_end")]
    assert [s["run"] for s in history.stages] == ["run"] * 3
    assert [s["stage"] for s in history.stages] == ["critic", "warp", "full"]
    assert [s["trains"] for s in history.stages] == ["critic", "warp", "full"]
    assert [(s["start_step"], s["steps"]) for s in history.stages] == [(0, 1), (1, 1), (2, 2)]
    assert [s["seconds"] for s in history.stages] == pytest.approx(
        [ends[0], ends[1] - ends[0], ends[2] - ends[1]], abs=0.11
    )
    assert all(s["seconds"] > 0 and s["machine"] == runs.machine() for s in history.stages)
    assert all(s["config"] == staged.config.to_dict() for s in history.stages)
    assert [s["learning_rate"] for s in history.stages] == [4e-4, 1e-4, 1e-4]  # the critic's own
    assert [s["schedule"]["decay"] for s in history.stages] == ["constant", "constant", "cosine"]
    assert all(
        s["loss"] == staged.config.loss.to_dict() and s["resolution"] == 64 for s in history.stages
    )
    table = history_table(history.stages)
    assert "| 1 | run | critic | critic | 1 | 0.0004, constant |" in table
    assert "| 3 | run | full | full | 2 | 0.0001, cosine to 0 |" in table
    assert "4 steps in all" in table
    assert history.notes == []


def test_resume_continues_at_the_same_step_and_state(staged, tiny_dataset, tmp_path):
    run = tmp_path / "resumed"
    interrupted = Trainer(staged_config(tiny_dataset, run))
    for _ in range(3):  # the critic, the warping path, then one step of the whole model
        interrupted.train_step()
    interrupted.save(3.0)
    del interrupted  # as if killed after the step-3 checkpoint, having logged step 4
    logged = [
        {"step": 1, "stage": 0, "discriminator": 2.0},
        {"step": 1, "stage_end": True, "stage": 0, "train_seconds": 1.0, "machine": "m"},
        {"step": 2, "stage": 1, "total": 1.0},
        {"step": 2, "stage_end": True, "stage": 1, "train_seconds": 2.0, "machine": "m"},
        {"step": 3, "stage": 2, "total": 1.0},
        {"step": 4, "stage": 2, "total": 1.0, "stale": True},
    ]
    (run / runs.METRICS_FILE).write_text("".join(json.dumps(r) + "\n" for r in logged))

    resumed = Trainer(staged_config(tiny_dataset, run))
    assert resumed.step == 3 and resumed.earlier_seconds == 3.0
    resumed.run()
    assert resumed.step == 4
    for name in ("model", "discriminator"):
        expected = state(staged.accelerator.unwrap_model(getattr(staged, name)))
        got = state(resumed.accelerator.unwrap_model(getattr(resumed, name)))
        assert expected.keys() == got.keys()
        for key in expected:
            assert torch.equal(expected[key], got[key]), f"{name}.{key} differs after resuming"
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == [
        "step-0000003",
        "step-0000004",
    ]
    with PIL.Image.open(run / "samples" / "step-0000004.png") as grid:  # six rows
        assert grid.size == (4 * 64, 6 * 64)  # four fixed pairs
    logged = records(run)
    steps = [r["step"] for r in logged if not r.get("stage_end")]
    assert steps == [1, 2, 3, 4]  # step 4 logged once, by the resumed run
    assert not any(r.get("stale") for r in logged)
    assert [(r["step"], r["stage"]) for r in logged if r.get("stage_end")] == [
        (1, 0),
        (2, 1),
        (4, 2),
    ]
    assert all(math.isfinite(r["total"]) for r in logged if "total" in r)
    last = logged[-2]
    assert last["stage"] == 2 and math.isfinite(last["total"])
    assert {"adversarial", "feature_matching", "discriminator", "discriminator_gap"} <= set(last)
    # the resumed stage's time: what the checkpoint had, then this process's
    history = read_history(run / "weights").stages
    assert [s["seconds"] for s in history][:2] == [1.0, 1.0]
    assert history[2]["seconds"] == pytest.approx(logged[-1]["train_seconds"] - 2.0, abs=0.11)
    assert logged[-1]["train_seconds"] > 3.0


def adam_updates(optimizer: torch.optim.Optimizer) -> set[int]:
    """Adam's update counts of the optimizer's parameters."""
    return {int(s["step"]) for s in optimizer.state.values()}


def test_an_appended_stage_resumes_and_a_changed_stage_is_refused_in_one_line(
    staged, tmp_path, capsys
):
    branch = tmp_path / "branch"
    shutil.copytree(staged.out, branch)  # a copied run goes on as a branch
    cool_down = {
        "name": "cool-down",
        "steps": 2,
        "schedule": {"decay": "cosine"},
        "critic_updates": 3,
        "loss": {"feature_matching": 2.0},
    }
    config = staged_config(
        staged.config.data.dataset,
        branch,
        stages=[*STAGED, cool_down],
        data={"num_workers": 1},  # bookkeeping may change too
        sample_every=3,
    )
    trainer = Trainer(config)
    assert trainer.step == 4 and config.total_steps == 6
    # the critic stage trained the critic alone (3 updates with the whole model's 2); the
    # warping path the model alone (its warping path 3 updates, the editing network 2)
    assert adam_updates(trainer.optimizer) == {2, 3}
    assert adam_updates(trainer.discriminator_optimizer) == {3}
    critic = trainer.accelerator.unwrap_model(trainer.discriminator)
    for step, factor in enumerate([1.0, 0.5]):
        before = state(critic)
        values = trainer.train_step()
        assert values["lr"] == pytest.approx(1e-4 * factor)
        assert values["discriminator_lr"] == pytest.approx(4e-4 * factor)
        for optimizer, rate in ((trainer.optimizer, 1e-4), (trainer.discriminator_optimizer, 4e-4)):
            assert [group["lr"] for group in optimizer.param_groups] == pytest.approx(
                [rate * factor]
            )
        assert adam_updates(trainer.optimizer) == {3 + step, 4 + step}
        assert adam_updates(trainer.discriminator_optimizer) == {3 + 3 * (step + 1)}
        assert changed(before, state(critic))
        assert math.isfinite(values["discriminator"]) and math.isfinite(values["discriminator_gap"])
    trainer.save(1.0)
    saved = json.loads((branch / "config.json").read_text())
    assert saved["checkpoints"]["output_dir"] == str(branch) and len(saved["stages"]) == 4
    history = read_history(branch / "weights").stages
    assert [s["stage"] for s in history] == ["critic", "warp", "full", "cool-down"]
    assert history[-1]["loss"] == {**config.loss.to_dict(), "feature_matching": 2.0}
    assert history[-1]["start_step"] == 4 and history[-1]["steps"] == 2

    refused = [
        ({"stages": [*STAGED[:2], {**STAGED[2], "steps": 3}, cool_down]}, "stages"),
        ({"stages": [*STAGED[:2], cool_down]}, "stages"),  # one dropped
        ({"stages": [*STAGED, cool_down], "loss": {**ADVERSARIAL, "ssim": 0.0}}, "loss.ssim"),
        (
            {"stages": [*STAGED, cool_down], "critic": {"learning_rate": 4e-4, "updates": 2}},
            "critic.updates",
        ),
    ]
    for changes, field in refused:
        with pytest.raises(ValueError) as error:
            Trainer(staged_config(staged.config.data.dataset, branch, **changes))
        assert str(error.value) == (
            f"{branch} holds a run with a different config (fields {[field]} differ); use "
            "another output_dir, or the same config (new stages may be added at its end)"
        )
    # and from the command line, one line
    assert main(["--config", str(branch / "config.json"), "--stages.2.steps", "3"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err and "fields ['stages'] differ" in err
    assert json.loads((branch / "config.json").read_text()) == saved, "a refusal changed it"


def test_a_non_finite_loss_stops_naming_the_step_and_keeps_the_last_checkpoint(
    tiny_dataset, tmp_path, monkeypatch
):
    import training.animo.train as train_module

    trainer = Trainer(tiny_config(tiny_dataset, tmp_path / "nan"))
    for _ in range(2):
        trainer.train_step()
    trainer.save(1.0)
    real = train_module.compute_losses

    def nan_losses(*args):
        terms = real(*args)
        terms["total"] = terms["total"] * float("nan")
        return terms

    monkeypatch.setattr(train_module, "compute_losses", nan_losses)
    with pytest.raises(TrainingError, match=r"step 3: non-finite loss .*step-0000002"):
        trainer.run()
    assert sorted(p.name for p in (tmp_path / "nan" / "checkpoints").iterdir()) == ["step-0000002"]


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

    run = tmp_path / "run"
    Trainer(tiny_config(tiny_dataset, run))  # no checkpoint: nothing to resume
    started = Trainer(tiny_config(tiny_dataset, run, data={"batch_size": 3}))
    started.train_step()
    started.save(1.0)
    with pytest.raises(ValueError, match=r"different config \(fields \['data.batch_size'\]"):
        Trainer(tiny_config(tiny_dataset, run, data={"batch_size": 4}))
    # a changed stage (the warping path longer) is another run
    longer_warp = [{**TINY_STAGES[0], "steps": 3}, TINY_STAGES[1]]
    with pytest.raises(ValueError, match=r"fields \['stages'\] differ"):
        Trainer(tiny_config(tiny_dataset, run, data={"batch_size": 3}, stages=longer_warp))
    # and so are new loss weights for the run; they are a stage of their own, added at the end
    with pytest.raises(ValueError, match=r"fields \['loss.changed'\] differ"):
        Trainer(
            tiny_config(
                tiny_dataset, run, data={"batch_size": 3}, loss={**TINY_LOSS, "changed": 1.0}
            )
        )
    reweighted = [*TINY_STAGES, {"steps": 46, "loss": {"changed": 1.0}}]
    more = tiny_config(tiny_dataset, run, data={"batch_size": 3}, stages=reweighted)
    assert Trainer(more).step == 1 and more.total_steps == 50
    saved = json.loads((run / "config.json").read_text())
    assert [s["steps"] for s in saved["stages"]] == [2, 2, 46]
    assert saved["stages"][-1]["loss"] == {"changed": 1.0}


def test_a_stage_that_adds_a_critic_to_a_run_without_one_is_refused_in_one_line(
    tiny_dataset, tmp_path
):
    """The checkpoints of a run whose stages never use the critic hold none: a stage appended
    with the adversarial terms is another run (``model.init_weights``), refused before the run
    folder changes, which then still resumes as it was."""
    run = tmp_path / "run"
    plain = tiny_config(tiny_dataset, run)
    started = Trainer(plain)
    started.train_step()
    started.save(1.0)
    saved = (run / "config.json").read_text()
    critic = [*TINY_STAGES, {"steps": 1, "loss": {"adversarial": 0.5}}]
    with pytest.raises(ValueError) as error:
        Trainer(tiny_config(tiny_dataset, run, stages=critic))
    assert str(run) in str(error.value) and "\n" not in str(error.value)
    assert (run / "config.json").read_text() == saved, "the refused config was written"
    assert Trainer(plain).step == 1


def test_several_datasets_train_together_and_a_resumed_run_keeps_its_data(tiny_dataset, tmp_path):
    import datasets

    one = load_split(str(tiny_dataset))
    both = load_split([str(tiny_dataset), str(tiny_dataset)])
    assert len(both) == 2 * len(one) and both.features == one.features
    assert list(both["model_id"]) == list(one["model_id"]) * 2
    for bad in ([], ["data", ""]):
        with pytest.raises(
            ValueError, match=r"config data.dataset = .*: expected a local Hub-layout folder"
        ):
            tiny_config(bad, tmp_path / "bad")
    other_styles = tmp_path / "other-styles"
    one.cast_column("style", datasets.ClassLabel(names=["cel", "other"])).to_parquet(
        str(other_styles / "data" / "train-00000-of-00001.parquet")
    )
    with pytest.raises(ValueError, match=f"dataset '{other_styles}': its features differ from"):
        load_split([str(tiny_dataset), str(other_styles)])

    config = tiny_config([tiny_dataset, tiny_dataset], tmp_path / "run")
    assert config.data.dataset == (str(tiny_dataset), str(tiny_dataset))
    started = Trainer(config)
    assert len(started.train_split) == len(both)
    started.train_step()
    started.save(1.0)
    saved = json.loads((tmp_path / "run" / "config.json").read_text())
    assert saved["data"]["dataset"] == [str(tiny_dataset)] * 2
    (stage,) = read_history(tmp_path / "run" / "weights").stages
    assert stage["data"].startswith(f"the train splits of {tiny_dataset} and {tiny_dataset}: ")
    # other data is another run (from this one's weights), not a resume
    with pytest.raises(ValueError, match=r"fields \['data.dataset'\] differ"):
        Trainer(tiny_config(tiny_dataset, tmp_path / "run"))


# --- the console script ---


def test_console_script_trains_and_exports_loadable_weights(tiny_dataset, tmp_path):
    out = tmp_path / "cli"
    config = tmp_path / "config.yaml"
    config.write_text(
        f"data: {{dataset: {tiny_dataset}, batch_size: 2}}\n"
        "stages:\n  - {trains: warp, steps: 50}\n  - {steps: 50}\n"
    )
    args = ["--config", str(config), "--checkpoints.output_dir", str(out)]
    args += ["--stages.0.steps", "1", "--stages.1.steps", "1"]
    args += ["--model.editing.layers_per_block", "2"]  # a non-default size travels with them
    args += ["--sample_every", "1", "--checkpoints.checkpoint_every", "1"]
    assert main(args) == 0
    assert [s["steps"] for s in json.loads((out / "config.json").read_text())["stages"]] == [1, 1]
    code = (
        "import sys, torch; from animo_hf import AniMoPipeline; "
        f"p = AniMoPipeline.from_pretrained({str(out / 'weights')!r}); "
        "p.set_progress_bar_config(disable=True); "
        "o = p(torch.rand(4, 64, 64), num_random_poses=2, height=64, width=64); "
        "print(len(o.frames), p.editing_network.config.layers_per_block)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
        env=SUBPROCESS_ENV,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "2 2"


def test_bad_command_line_is_one_line(tmp_path, capsys):
    args = ["--data.dataset", str(tmp_path / "missing"), "--data.resolution", "60"]
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert err == "error: config data.resolution = 60: expected a multiple of 16, at least 16"
    assert main(["--data.dataset", "x", "--max_steps", "4"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "error: command line: unknown config field(s) ['max_steps']"


GLOO_TIMEOUT_S = 240  # well below pytest's 900 s: a hang fails here, with the output so far


def run_bounded(command: list[str], timeout: float, **options) -> tuple[int, str, str]:
    """Run ``command``; past ``timeout`` kill it and every process under it, and fail the test
    with its output so far. (``accelerate launch`` starts its workers in sessions of their own:
    neither killing the launcher nor its process group reaches them, and, orphaned, they would
    hold its output pipes open, keeping the test waiting for as long as they run.)"""
    import psutil

    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **options
    )
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        workers = [child.pid for child in psutil.Process(process.pid).children(recursive=True)]
        for pid in [process.pid, *workers]:  # the launcher first: it restarts no worker
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        try:
            stdout, stderr = process.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            stdout, stderr = "", "(no output: a process still holds its pipes)"
        pytest.fail(
            f"{' '.join(command[:8])} ... did not finish in {timeout} s; killed it and its "
            f"{len(workers)} processes. Its last output:\n{stdout[-1500:]}\n{stderr[-3000:]}"
        )
    return process.returncode, stdout, stderr


def test_two_cpu_processes_with_gloo_train_one_model(tiny_dataset, tmp_path):
    out = tmp_path / "ddp"
    command = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu"]
    command += ["--num_processes", "2", "--num_machines", "1", "--mixed_precision", "no"]
    command += ["--dynamo_backend", "no", "-m", "training.animo.train"]
    command += ["--data.dataset", str(tiny_dataset), "--data.batch_size", "2"]
    command += ["--checkpoints.output_dir", str(out), "--checkpoints.checkpoint_every", "1"]
    command += [
        "--checkpoints.log_every",
        "1",
        "--stages",
        "[{trains: warp, steps: 1}, {steps: 1}]",
    ]
    env = {**SUBPROCESS_ENV, "ACCELERATE_USE_CPU": "true"}
    code, stdout, stderr = run_bounded(command, GLOO_TIMEOUT_S, env=env, cwd=PROJECT_ROOT)
    assert code == 0, stderr[-3000:]
    checkpoint = out / "checkpoints" / "step-0000002"
    assert sorted(p.name for p in checkpoint.glob("random_states_*.pkl")) == [
        "random_states_0.pkl",
        "random_states_1.pkl",
    ], "not two processes"
    logged = records(out)
    assert [r["step"] for r in logged if not r.get("stage_end")] == [1, 2], "each process logged"
    assert [r["step"] for r in logged if r.get("stage_end")] == [1, 2]
    assert stdout.count("weights written to") == 1
    assert (out / "weights" / "model_index.json").is_file()
    assert len(read_history(out / "weights").stages) == 2


SHIPPED_CONFIGS = sorted((PROJECT_ROOT / "training" / "configs").glob("*.yaml"))


@pytest.mark.parametrize("path", SHIPPED_CONFIGS, ids=lambda p: p.name)
def test_shipped_configs_are_valid(path):
    from training.regressor.configuration_regressor import RegressorConfig

    if path.stem.startswith("regressor"):
        config = RegressorConfig.from_file(path)
    else:
        config = TrainConfig.from_file(path)
        assert config.model.name in path.stem
        init = config.model.init_weights
        if init is not None:  # shipped weights, or a run a shipped config makes
            made_by_configs = {
                f"{TrainConfig.from_file(other).checkpoints.output_dir}/weights"
                for other in SHIPPED_CONFIGS
                if not other.stem.startswith("regressor")
            }
            assert (PROJECT_ROOT / init).is_dir() or init in made_by_configs, (
                f"{path.name}: nothing here makes model.init_weights {init}"
            )
        if config.model.lora is not None and config.model.lora.init is not None:
            assert (PROJECT_ROOT / config.model.lora.init).is_dir(), f"{path.name}: lora.init"
        if config.regressor is not None:
            assert (PROJECT_ROOT / config.regressor).is_dir(), f"{path.name}: {config.regressor}"
    docs = (PROJECT_ROOT / "docs" / "training.md").read_text(encoding="utf-8")
    slices = set(re.findall(r"scripts/portable_subset\.py --dataset \S+/hub .*--out (\S+)", docs))
    for dataset in config.data.names:
        assert dataset.endswith("/hub") or dataset in slices, (
            f"{path.name}: dataset {dataset} is neither a build nor documented slices of one"
        )


def test_the_baseline_config_retrains_the_shipped_baseline_s_first_run():
    shipped = read_history(PROJECT_ROOT / "weights" / "pirenderer-baseline").stages
    first_run = [s for s in shipped if s["run"] == shipped[0]["run"]]
    recipe = TrainConfig.from_file(PROJECT_ROOT / "training" / "configs" / "pirenderer.yaml")
    assert all(TrainConfig.from_dict(s["config"]) == recipe for s in first_run)
    assert [s["steps"] for s in first_run] == [s.steps for s in recipe.stages]
