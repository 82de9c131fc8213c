"""Training the expression stage (issue 37) in one run of stages: the morpher alone on basis ->
frontal pairs, the rotator alone on frontal -> rotated pairs of one pair_id, then both end to end;
each stage moves only what it trains, a stage with pairs of its own resumes on its own stream,
and the exported pipeline carries the morpher and the stages' history."""

import pytest
import torch

from animo_hf import AniMoPipeline
from training.animo.configuration_animo import TrainConfig
from training.animo.train import Trainer
from training.history import read_history

STAGES = [
    {
        "name": "expressions",
        "trains": "morpher",
        "steps": 2,
        "pairs": {"source_groups": ["basis"], "target_groups": ["frontal"]},
    },
    {
        "name": "head turns",
        "trains": "full",
        "steps": 2,
        "pairs": {"source_groups": ["frontal"], "target_groups": ["rotated"], "same_pair": True},
    },
    {"name": "end to end", "trains": "end_to_end", "steps": 2},
]


def morpher_config(dataset, out) -> TrainConfig:
    return TrainConfig.from_dict(
        {
            "data": {"dataset": str(dataset), "batch_size": 2},
            "checkpoints": {"output_dir": str(out), "log_every": 1, "checkpoint_every": 1},
            "model": {"expression_morpher": {"block_out_channels": [8, 16]}},
            "loss": {"l1": 1.0, "alpha": 0.5, "morpher_changed": 1.0, "morpher_alpha": 1.0},
            "augment_resampling": "integer",
            "stages": STAGES,
            "sample_every": 100,
        }
    )


def parameters(trainer: Trainer, component: str) -> torch.Tensor:
    model = trainer.accelerator.unwrap_model(trainer.model)
    return torch.cat([p.detach().flatten().clone() for p in getattr(model, component).parameters()])


COMPONENTS = ("expression_morpher", "editing_network", "warping_network")


@pytest.fixture(scope="module")
def trained(tiny_dataset, tmp_path_factory):
    """The run straight through: which of the morpher and the rotator each stage moved, every
    component's parameters after step 5, and the run folder."""
    out = tmp_path_factory.mktemp("morpher") / "run"
    trainer = Trainer(morpher_config(tiny_dataset, out))
    moved, at_step_5 = {}, {}
    for stage in STAGES:
        before = {c: parameters(trainer, c) for c in ("expression_morpher", "editing_network")}
        for _ in range(stage["steps"]):
            trainer.train_step()
            if trainer.step == 5:
                at_step_5 = {c: parameters(trainer, c) for c in COMPONENTS}
        moved[stage["name"]] = {
            c: not torch.equal(before[c], parameters(trainer, c)) for c in before
        }
    trainer.save(seconds=1.0)
    return out, moved, at_step_5


def test_each_stage_moves_only_what_it_trains(trained):
    _, moved, _ = trained
    assert moved["expressions"] == {"expression_morpher": True, "editing_network": False}
    assert moved["head turns"] == {"expression_morpher": False, "editing_network": True}
    assert moved["end to end"] == {"expression_morpher": True, "editing_network": True}


def test_the_exported_pipeline_has_the_morpher_and_the_stages(trained):
    out, _, _ = trained
    pipe = AniMoPipeline.from_pretrained(out / "weights")
    assert pipe.expression_morpher is not None
    assert pipe.expression_morpher.config.block_out_channels == [8, 16]
    stages = read_history(out / "weights").stages
    assert [(s["stage"], s["trains"], s["steps"]) for s in stages] == [
        (s["name"], s["trains"], s["steps"]) for s in STAGES
    ]


def test_a_stage_with_its_own_pairs_resumes_on_its_stream(trained, tiny_dataset, tmp_path):
    """Stopped in the middle of the rotator's stage (its own pairs), resumed into the end-to-end
    stage (the run's pairs): the same weights as the run straight through."""
    _, _, straight = trained
    interrupted = Trainer(morpher_config(tiny_dataset, tmp_path / "resumed"))
    for _ in range(3):
        interrupted.train_step()
    interrupted.save(seconds=1.0)
    resumed = Trainer(morpher_config(tiny_dataset, tmp_path / "resumed"))
    assert resumed.step == 3
    for _ in range(2):
        resumed.train_step()
    for component in COMPONENTS:
        assert torch.equal(straight[component], parameters(resumed, component)), component
