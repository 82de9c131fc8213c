"""The optional training terms (the pose-conditioned patch discriminator, feature matching, the
pose regressor's expression), fine-tuning from exported weights, runs begun before a config field
existed, bf16 and channels-last, and what a run leaves behind: its history, shipped with a card
(and a baseline in float16), and remade, run after run, from that history alone."""

import json
import math
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch
from test_training import (  # the tests folder is on sys.path
    ADVERSARIAL,
    SUBPROCESS_ENV,
    records,
    tiny_config,
)

from animeceleb.pose import EXPRESSION_DIM
from animo_hf import (
    AniMoPipeline,
    EditingNetwork,
    MotionNetwork,
    PIRendererGenerator,
    PoseMapping,
    WarpingNetwork,
)
from training.animo.configuration_animo import TrainConfig
from training.animo.discriminator import PatchDiscriminator
from training.animo.losses import (
    RegressorLoss,
    compute_losses,
    discriminator_hinge_loss,
    feature_matching,
    generator_hinge_loss,
)
from training.animo.modeling_animo import Prediction
from training.animo.train import Trainer, main
from training.cards import evaluation_values
from training.history import HISTORY_FILE, history_table, read_history
from training.regressor import build_regressor, pose_scale, resize_for_regressor

TESTS = Path(__file__).resolve().parent
# every optional term of the whole model at once: the critic's (on the output and on AniMo's
# generated image) and the pose regressor's expression
OPTIONAL = {
    **ADVERSARIAL,
    "generated": 0.5,
    "generated_adversarial": 0.5,
    "regressor_expression": 1.0,
}


@pytest.fixture(scope="module")
def regressor_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("regressor")
    build_regressor(embedding_size=8, hidden_sizes=(8, 16, 32, 64), image_size=64).save_pretrained(
        folder
    )
    return folder


def test_hinge_losses_match_a_hand_computation():
    real = torch.tensor([2.0, 0.5, -1.0])  # relu(1 - real) = 0, 0.5, 2
    fake = torch.tensor([-2.0, 0.0, 1.0])  # relu(1 + fake) = 0, 1, 2
    assert torch.isclose(discriminator_hinge_loss(real, fake), torch.tensor(2.5 / 3 + 3 / 3))
    assert torch.isclose(generator_hinge_loss(fake), torch.tensor(1.0 / 3))
    same = [torch.ones(1, 2, 3, 3), torch.zeros(1, 1, 2, 2)]
    other = [torch.zeros(1, 2, 3, 3), torch.zeros(1, 1, 2, 2)]
    assert feature_matching(same, same) == 0
    assert torch.isclose(feature_matching(other, same), torch.tensor(0.5))  # (1 + 0) / 2


def test_the_discriminator_learns_to_tell_blurred_images_from_sharp_ones():
    torch.manual_seed(0)
    sharp = (torch.rand(8, 1, 32, 32) > 0.5).float().expand(-1, 3, -1, -1) * 2 - 1
    blurred = torch.nn.functional.avg_pool2d(sharp, 5, stride=1, padding=2)
    pose = torch.zeros(8, 20)
    critic = PatchDiscriminator(channels=(16, 32))
    optimizer = torch.optim.Adam(critic.parameters(), lr=2e-3, betas=(0.5, 0.999))

    def loss() -> torch.Tensor:
        return discriminator_hinge_loss(critic(sharp, pose)[0], critic(blurred, pose)[0])

    first = float(loss().detach())
    for _ in range(30):
        optimizer.zero_grad()
        loss().backward()
        optimizer.step()
    last = float(loss().detach())
    assert last < 0.5 * first, f"hinge loss {first:.3f} -> {last:.3f}"


def test_the_discriminator_reads_the_pose():
    torch.manual_seed(0)
    critic = PatchDiscriminator(channels=(16, 32)).eval()
    image = torch.rand(1, 3, 32, 32) * 2 - 1
    open_eyes, closed_eyes = torch.zeros(1, 20), torch.zeros(1, 20)
    closed_eyes[0, :2] = 1.0
    logits, features = critic(image, open_eyes)
    assert logits.shape == (1, 1, 8, 8) and [f.shape[1] for f in features] == [16, 32]
    assert not torch.allclose(logits, critic(image, closed_eyes)[0])


def test_the_regressor_loss_is_zero_for_the_target_and_trains_only_the_output(regressor_folder):
    loss = RegressorLoss(str(regressor_folder)).train()
    assert not loss.regressor.training, "the frozen regressor left eval mode"
    target = torch.rand(2, 3, 128, 128) * 2 - 1  # resized to the regressor's 64²
    with torch.no_grad():
        read = loss.regressor(resize_for_regressor(target, loss.size)).logits
    # the labels the regressor reads from the target, in pose units (angles in degrees)
    pose = read * pose_scale(loss.regressor)
    assert float(loss(target, pose)) == pytest.approx(0.0, abs=1e-6)
    # by hand: the mean absolute difference on dims 0-16, in the regressor's units; the head
    # dims (17-19) are not its business
    shifted = pose.clone()
    shifted[:, :EXPRESSION_DIM] += 0.25
    assert float(loss(target, shifted)) == pytest.approx(0.25, abs=1e-5)
    shifted = pose.clone()
    shifted[:, EXPRESSION_DIM:] += 5.0  # degrees
    assert float(loss(target, shifted)) == pytest.approx(0.0, abs=1e-5)
    output = (target + 0.3 * torch.randn_like(target)).requires_grad_(True)
    term = loss(output, pose)
    term.backward()
    assert term > 0 and output.grad.abs().sum() > 0
    assert all(p.grad is None for p in loss.regressor.parameters())


def composed_prediction() -> tuple[Prediction, torch.Tensor, dict[str, torch.Tensor]]:
    """A prediction whose mask rests wholly on the warped source, its generated image (a leaf
    to take gradients at) and a batch."""
    generated = (torch.rand(2, 3, 64, 64) * 2 - 1).requires_grad_()
    warped, mask = torch.rand(2, 3, 64, 64) * 2 - 1, torch.ones(2, 1, 64, 64)
    image = EditingNetwork.compose(generated, mask, warped)
    prediction = Prediction(warped, torch.zeros(2, 2, 16, 16), image, generated, mask)
    batch = {
        "target": torch.rand(2, 3, 64, 64) * 2 - 1,
        "pose": torch.rand(2, 20),
        "source_alpha": torch.ones(2, 1, 64, 64),
        "target_alpha": torch.ones(2, 1, 64, 64),
    }
    return prediction, generated, batch


def test_the_regressor_reaches_the_generator_where_the_mask_rests_on_the_warped_source(
    regressor_folder,
):
    loss = {"l1": 1.0, "generated": 0.5, "regressor_expression": 1.0}
    config = tiny_config("data", "out", loss=loss, regressor=str(regressor_folder))
    prediction, generated, batch = composed_prediction()
    regressor = RegressorLoss(str(regressor_folder))
    terms = compute_losses(prediction, batch, config.loss, regressor=regressor)
    (through_output,) = torch.autograd.grad(
        terms["regressor_expression"], generated, retain_graph=True
    )
    assert not through_output.any()  # the mask blocks the output's term
    (direct,) = torch.autograd.grad(terms["generated_regressor_expression"], generated)
    assert direct.abs().sum() > 0


def test_the_discriminator_judges_the_generated_image_where_the_mask_rests_on_the_warp():
    loss = {**ADVERSARIAL, "generated": 0.5, "generated_adversarial": 0.5}
    config = tiny_config("data", "out", loss=loss)
    prediction, generated, batch = composed_prediction()
    critic = PatchDiscriminator(channels=(16, 32)).eval()
    terms = compute_losses(prediction, batch, config.loss, discriminator=critic)
    assert {"generated_adversarial", "generated_feature_matching"} <= set(terms)
    (through_output,) = torch.autograd.grad(terms["adversarial"], generated, retain_graph=True)
    assert not through_output.any()  # the mask blocks the output's term
    for name in ("generated_adversarial", "generated_feature_matching"):
        (direct,) = torch.autograd.grad(terms[name], generated, retain_graph=True)
        assert direct.abs().sum() > 0, name
    unjudged = tiny_config("data", "out", loss={**loss, "generated_adversarial": 0})
    without = compute_losses(prediction, batch, unjudged.loss, discriminator=critic)
    judged = 0.1 * terms["generated_adversarial"] + terms["generated_feature_matching"]
    assert float((terms["total"] - without["total"]).detach()) == pytest.approx(
        0.5 * float(judged.detach()), rel=1e-4
    )


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {"loss": {"l1": 1.0, "regressor_expression": 1.0}},
            "config regressor = None: expected a pose regressor folder or repo id",
        ),
        (
            {"model": {"init_weights": ""}},
            "config model.init_weights = '': expected null or a folder / Hub repo id",
        ),
        ({"loss": {"l1": 1.0, "adversarial": -0.1}}, "config loss.adversarial = -0.1: expected"),
        (
            {"loss": {"l1": 1.0, "generated_adversarial": -1}},
            "config loss.generated_adversarial = -1: expected a finite number >= 0",
        ),
        (
            {"stages": [{"steps": 4, "schedule": {"decay_steps": 0}}]},
            "config stages.0.schedule.decay_steps = 0: expected a positive integer",
        ),
        (
            {"stages": [{"steps": 4, "schedule": {"decay": "cosine", "decay_steps": 5}}]},
            "config stages.0.schedule.decay_steps = 5: expected at most 4 (steps - warm-up)",
        ),
        (
            {"stages": [{"steps": 4, "schedule": {"warmup_steps": 1, "decay_steps": 4}}]},
            "config stages.0.schedule.decay_steps = 4: expected at most 3 (steps - warm-up)",
        ),
        (
            {"critic": {"learning_rate": 0}},
            "config critic.learning_rate = 0: expected a number in (0, 1)",
        ),
        ({"critic": {"updates": 0}}, "config critic.updates = 0: expected a positive integer"),
        (
            {"stages": [{"critic_updates": 0}]},
            "config stages.0.critic_updates = 0: expected a positive integer",
        ),
        (
            {
                "loss": ADVERSARIAL,
                "critic": {"updates": 2},
                "optimizer": {"gradient_accumulation_steps": 2},
            },
            "config stages.0.critic_updates = 2: expected 1 with gradient accumulation",
        ),
        (
            {"mixed_precision": "fp16"},
            "config mixed_precision = 'fp16': expected one of ('no', 'bf16')",
        ),
        # gone from the product: the flags no shipped weight used, and the run-wide schedule
        # fields that stages replace
        (
            {"model": {"editing": {"source_skip": True}}},
            "unknown config field(s) ['model.editing.source_skip']",
        ),
        ({"model": {"warping": {"convex_upsampling": True}}}, "field(s) ['model.warping']"),
        ({"warp_only_fraction": 0.5}, "unknown config field(s) ['warp_only_fraction']"),
        ({"discriminator_warmup_steps": 2}, "field(s) ['discriminator_warmup_steps']"),
        ({"lr_schedule": "cosine"}, "unknown config field(s) ['lr_schedule']"),
        ({"loss": {"l1": 1.0, "face": 1.0}}, "unknown config field(s) ['loss.face']"),
    ],
)
def test_new_config_values_out_of_range_are_named(tmp_path, changes, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        tiny_config("data", tmp_path, **changes)


def test_bf16_autocast_and_channels_last_train_and_resume(tiny_dataset, tmp_path):
    # a process has one accelerate state (its precision): run it as the CLI does, on its own
    out = tmp_path / "fast"
    code = (
        "import sys, torch; from training.animo.train import Trainer; "
        "from test_training import tiny_config; "
        f"t = Trainer(tiny_config({str(tiny_dataset)!r}, {str(out)!r}, mixed_precision='bf16', "
        f"channels_last=True, loss={ADVERSARIAL!r})); t.run(); "
        "w = t.accelerator.unwrap_model(t.model).editing_network.encoder.stem[1].weight; "
        "print(w.is_contiguous(memory_format=torch.channels_last), w.dtype)"
    )
    env = {**SUBPROCESS_ENV, "PYTHONPATH": os.pathsep.join([str(TESTS), str(TESTS.parent)])}
    for _ in range(2):  # the second run resumes at the end and trains nothing
        result = subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            env=env,
            cwd=TESTS.parent,
            timeout=600,
        )
        assert result.returncode == 0, result.stderr[-3000:]
        assert result.stdout.split()[-2:] == ["True", "torch.float32"]  # autocast keeps fp32
    logged = records(out)
    trained = [r for r in logged if not r.get("stage_end")]
    assert [r["step"] for r in trained] == [1, 2, 3, 4]
    assert [r["step"] for r in logged if r.get("stage_end")] == [2, 4]
    assert all(math.isfinite(r["total"]) for r in trained)
    with pytest.raises(ValueError, match="config channels_last = 1: expected true or false"):
        tiny_config(tiny_dataset, tmp_path, channels_last=1)


# --- a chain of runs: its history, shipped and remade ---


@dataclass
class Chain:
    """``first``: a 3-step run with every optional term; ``tuned``: a run from its weights,
    1 constant step, then resumed with an appended 2-step cool-down with other loss weights."""

    first: Trainer
    first_config: TrainConfig
    tuned_config: TrainConfig

    @property
    def weights(self) -> Path:
        return self.tuned_config.output_dir / "weights"


@pytest.fixture(scope="module")
def chain(tiny_dataset, regressor_folder, tmp_path_factory) -> Chain:
    root = tmp_path_factory.mktemp("chain")
    whole = [
        {"name": "warping path", "trains": "warp", "steps": 1},
        {"name": "whole model", "steps": 2},
    ]
    first_config = tiny_config(
        tiny_dataset, root / "first", loss=OPTIONAL, regressor=str(regressor_folder), stages=whole
    )
    first = Trainer(first_config)
    first.run()
    tuned = [{"name": "tuned", "steps": 1}]
    cool_down = {
        "name": "cool-down",
        "steps": 2,
        "schedule": {"decay": "cosine"},
        "loss": {"changed": 1.0},
    }

    def tuned_config(stages: list[dict], **changes) -> TrainConfig:
        init = {"init_weights": str(first_config.output_dir / "weights")}
        return tiny_config(
            tiny_dataset, root / "tuned", model=init, loss=ADVERSARIAL, stages=stages, **changes
        )

    Trainer(tuned_config(tuned)).run()
    Trainer(tuned_config([*tuned, cool_down])).run()
    # the same command again trains no step (other bookkeeping is allowed)
    Trainer(tuned_config([*tuned, cool_down], checkpoints={"log_every": 2})).run()
    return Chain(first, first_config, tuned_config([*tuned, cool_down]))


def test_the_optional_terms_train_with_the_run(chain):
    logged = records(chain.first_config.output_dir)
    whole = [r for r in logged if r["stage"] == 1 and not r.get("stage_end")]
    assert [r["step"] for r in whole] == [2, 3]
    for record in whole:
        assert {"adversarial", "feature_matching", "discriminator", "discriminator_gap"} <= set(
            record
        )
        assert record["regressor_expression"] > 0
        assert record["generated_regressor_expression"] > 0
        # the discriminator also learns the generated image as a fake
        assert record["generated_adversarial"] != 0 and math.isfinite(record["discriminator"])


def test_a_resumed_run_with_an_appended_stage_exports_a_history_of_every_stage(chain):
    logged = records(chain.tuned_config.output_dir)
    assert [r["step"] for r in logged if not r.get("stage_end")] == [1, 2, 3]
    assert [(r["step"], r["stage"]) for r in logged if r.get("stage_end")] == [(1, 0), (3, 1)]
    assert [r["lr"] for r in logged if not r.get("stage_end")] == pytest.approx([1e-4, 1e-4, 5e-5])
    # the weights it started from come first, with their own history
    first = read_history(chain.first_config.output_dir / "weights").stages
    history = read_history(chain.weights).stages
    assert history[:2] == first
    assert [(s["run"], s["stage"], s["start_step"], s["steps"]) for s in history] == [
        ("first", "warping path", 0, 1),
        ("first", "whole model", 1, 2),
        ("tuned", "tuned", 0, 1),
        ("tuned", "cool-down", 1, 2),
    ]
    assert [TrainConfig.from_dict(s["config"]) for s in history] == [
        chain.first_config,
        chain.first_config,
        chain.tuned_config,
        chain.tuned_config,
    ]
    assert history[3]["loss"] == {**chain.tuned_config.loss.to_dict(), "changed": 1.0}
    assert history[2]["loss"] == chain.tuned_config.loss.to_dict()
    assert all(s["seconds"] > 0 for s in history)


def test_fine_tuning_starts_from_the_given_weights(chain, tiny_dataset, tmp_path):
    weights = str(chain.first_config.output_dir / "weights")
    tuned = Trainer(tiny_config(tiny_dataset, tmp_path / "tuned", model={"init_weights": weights}))
    ours = tuned.accelerator.unwrap_model(tuned.model).state_dict()
    theirs = chain.first.accelerator.unwrap_model(chain.first.model).state_dict()
    assert ours.keys() == theirs.keys()
    assert all(torch.equal(ours[k], theirs[k]) for k in theirs)
    bicubic = tiny_config(
        tiny_dataset,
        tmp_path / "bicubic",
        model={"init_weights": weights, "editing": {"warp_interpolation": "bicubic"}},
    )  # how the source is sampled is not architecture: the weights are taken as they are
    resampling = Trainer(bicubic)
    resampled = resampling.accelerator.unwrap_model(resampling.model)
    assert resampled.editing_network.config.warp_interpolation == "bicubic"
    assert all(torch.equal(resampled.state_dict()[k], theirs[k]) for k in theirs)

    torch.manual_seed(0)
    no_mask = tmp_path / "no-mask"
    AniMoPipeline(
        PoseMapping(), MotionNetwork(), WarpingNetwork(), EditingNetwork(composite=False)
    ).save_pretrained(no_mask)
    with pytest.raises(ValueError, match=r"init_weights .*no-mask \(editing_network\): config "):
        Trainer(tiny_config(tiny_dataset, tmp_path / "bad", model={"init_weights": str(no_mask)}))
    baseline = tmp_path / "baseline"
    PIRendererGenerator().save_pretrained(baseline)  # another model's weights
    with pytest.raises(
        FileNotFoundError, match=r"model.init_weights '.*baseline': .*model_index.json"
    ):
        Trainer(tiny_config(tiny_dataset, tmp_path / "bad", model={"init_weights": str(baseline)}))


def test_a_run_begun_before_a_config_field_existed_still_resumes(chain, tmp_path):
    out = tmp_path / "old"
    shutil.copytree(chain.first_config.output_dir, out)
    saved = json.loads((out / "config.json").read_text())
    del saved["channels_last"]
    del saved["model"]["init_weights"]
    del saved["loss"]["changed"]
    del saved["stages"][0]["critic_updates"]
    (out / "config.json").write_text(json.dumps(saved))
    config = chain.first_config.to_dict()
    config["checkpoints"]["output_dir"] = str(out)
    assert Trainer(TrainConfig.from_dict(config)).step == 3
    config["loss"]["changed"] = 1.0
    with pytest.raises(ValueError, match=r"fields \['loss.changed'\] differ"):
        Trainer(TrainConfig.from_dict(config))


def test_publish_ships_a_history_of_runs_with_its_card_and_evaluation(
    chain, tiny_dataset, tmp_path, capsys
):
    from huggingface_hub import ModelCard

    from training.evaluate import main as evaluate
    from training.publish import main as publish

    eval_dir = tmp_path / "eval"
    args = ["--dataset", str(tiny_dataset), "--weights", str(chain.weights), "--resolution", "64"]
    assert evaluate([*args, "--output", str(eval_dir)]) == 0
    out = tmp_path / "shipped" / "animo"
    tuned = chain.tuned_config.output_dir
    command = ["--run", str(tuned), "--out", str(out), "--evaluation", str(eval_dir)]
    command += ["--data-command", "python -m dataset_builder build --out tiny"]
    credit = '"Low-Poly Godette" by SirRichard94 (CC BY 3.0) appears in the figures.'
    extra = ["--limitation", "Trained on 2 characters.", "--attribution", credit]
    assert publish([*command, *extra, "--dataset-id", "org/animeceleb"]) == 0

    card = ModelCard.load(out / "README.md")
    assert card.data.library_name == "diffusers" and card.data.license == "apache-2.0"
    assert card.data.datasets == ["org/animeceleb"]
    assert "## Intended use" in card.text and credit in card.text.split("## Licences")[1]
    text = card.text
    history = read_history(out)
    assert history.stages == read_history(chain.weights).stages  # the run's, as it is
    assert "untrained" not in text and "6 steps in all" in text  # 3 + 3, the whole history
    assert history_table(history.stages) in text
    assert evaluation_values(out) in text
    assert "python -m dataset_builder build --out tiny\nanimeceleb-train --config " in text
    assert f"animeceleb-train --config {HISTORY_FILE}\n" in text
    assert "adversarial 0.1, feature matching 1" in text and "- Trained on 2 characters." in text
    assert "| 0.0001, constant |" in text  # the first runs, then the cool-down:
    assert "| 0.0001, cosine to 0 |" in text
    assert (out / "evaluation_results.json").is_file()
    assert AniMoPipeline.from_pretrained(out).default_sample_size == 64  # the run's resolution
    code = (
        "import torch; from animo_hf import AniMoPipeline; "
        f"p = AniMoPipeline.from_pretrained({str(out)!r}); "
        "p.set_progress_bar_config(disable=True); "
        "print(len(p(torch.rand(4, 64, 64), num_random_poses=2, height=64, width=64).frames))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=SUBPROCESS_ENV,
        cwd=TESTS.parent,
        timeout=300,
    )
    assert result.returncode == 0 and result.stdout.strip() == "2", result.stderr[-2000:]

    readme = (out / "README.md").read_text()
    assert publish(["--run", str(tmp_path / "nowhere"), "--out", str(out), *command[4:]]) == 2
    assert (out / "README.md").read_text() == readme, "a failed publish touched the folder"

    # a fine-tune of the shipped folder (its run folders gone) continues the shipped history
    aside = tmp_path / "aside"
    runs = [chain.first_config.output_dir, tuned]
    for run in runs:
        shutil.move(run, aside / run.name)
    try:
        more_config = tiny_config(
            tiny_dataset,
            tmp_path / "more",
            model={"init_weights": str(out)},
            stages=[{"name": "more", "steps": 1}],
        )
        Trainer(more_config).run()
    finally:
        for run in runs:
            shutil.move(aside / run.name, run)
    again = tmp_path / "shipped" / "animo-more"
    assert publish(["--run", str(tmp_path / "more"), "--out", str(again), *command[4:]]) == 0
    shipped = read_history(again).stages
    assert [(s["run"], s["stage"]) for s in shipped] == [
        *[(s["run"], s["stage"]) for s in history.stages],
        ("more", "more"),
    ]
    assert TrainConfig.from_dict(shipped[-1]["config"]) == more_config
    assert "7 steps in all" in (again / "README.md").read_text(encoding="utf-8")

    # shipped over the folder it started from, then published again there: the folder's
    # history, not the run appended to it once more
    shutil.rmtree(out)
    shutil.copytree(again, out)
    assert publish(["--run", str(tmp_path / "more"), "--out", str(out), *command[4:]]) == 0
    assert read_history(out).stages == shipped

    # weights without their history are not shipped
    bare = tmp_path / "bare"
    shutil.copytree(tmp_path / "more", bare)
    (bare / "weights" / HISTORY_FILE).unlink()
    capsys.readouterr()
    assert publish(["--run", str(bare), "--out", str(tmp_path / "nothing"), *command[4:]]) == 2
    assert f"{bare / 'weights'}: no exported weights with their {HISTORY_FILE}" in (
        capsys.readouterr().err
    )
    assert not (tmp_path / "nothing").exists()


def test_a_run_resumed_after_its_weights_were_shipped_over_its_start_keeps_one_history(
    chain, tiny_dataset, tmp_path
):
    """A run from a shipped folder, shipped over that folder (its usual home), then resumed with
    a stage added: its history is the one of the weights it started from, then its own stages
    once, not the shipped folder's history (which already holds them) with them again."""
    from training.publish import main as publish

    start = tmp_path / "shipped"
    shutil.copytree(chain.weights, start)
    before = read_history(start).stages
    more = [{"name": "more", "steps": 1}]
    init = {"init_weights": str(start)}
    Trainer(tiny_config(tiny_dataset, tmp_path / "more", model=init, stages=more)).run()
    command = ["--run", str(tmp_path / "more"), "--out", str(start), "--data-command", "build"]
    assert publish(command) == 0
    further = [*more, {"name": "further", "steps": 1}]
    Trainer(tiny_config(tiny_dataset, tmp_path / "more", model=init, stages=further)).run()
    stages = read_history(tmp_path / "more" / "weights").stages
    assert [(s["run"], s["stage"]) for s in stages] == [
        *[(s["run"], s["stage"]) for s in before],
        ("more", "more"),
        ("more", "further"),
    ]


def test_publish_ships_the_baseline_with_its_card_in_float16(tiny_dataset, tmp_path):
    from huggingface_hub import ModelCard
    from safetensors import safe_open

    from training.publish import main as publish

    baseline = tiny_config(tiny_dataset, tmp_path / "pir", model={"name": "pirenderer"})
    weights = Trainer(baseline).run()
    out = tmp_path / "shipped" / "baseline"
    command = ["--run", str(tmp_path / "pir"), "--out", str(out)]
    command += ["--data-command", "python -m dataset_builder build --out tiny"]
    command += ["--model-name", "PIRenderer-CPU", "--repo-id", "org/baseline"]
    assert publish([*command, "--dtype", "float16"]) == 0

    with safe_open(out / "diffusion_pytorch_model.safetensors", "pt") as stored:
        assert {stored.get_tensor(k).dtype for k in stored.keys()} == {torch.float16}  # noqa: SIM118
    trained, shipped = (PIRendererGenerator.from_pretrained(w).state_dict() for w in (weights, out))
    assert shipped.keys() == trained.keys()
    for name, value in trained.items():  # stored in half precision, loaded as float
        assert shipped[name].dtype == torch.float32, name
        torch.testing.assert_close(shipped[name], value.half().float(), rtol=0, atol=0)
    card = ModelCard.load(out / "README.md")
    assert card.data.library_name == "diffusers" and "baseline" in card.data.tags
    text = card.text
    assert "# PIRenderer-CPU: the PIRenderer-style AnimeCeleb baseline" in text
    assert 'PIRendererGenerator.from_pretrained("org/baseline")' in text
    assert "Weights stored in float16; `from_pretrained` loads them as float32" in text
    assert "4 steps in all" in text and "Not evaluated" in text
    assert f"animeceleb-train --config {HISTORY_FILE}\n" in text
    stages = read_history(out).stages
    assert [(s["run"], s["stage"], s["steps"]) for s in stages] == [
        ("pir", "warping path", 2),
        ("pir", "whole model", 2),
    ]
    assert history_table(stages) in text

    assert publish([*command, "--dtype", "float64"]) == 2
    assert publish([*command, "--speed", "30 FPS"]) == 2  # the baseline's card has no speed
    assert ModelCard.load(out / "README.md").text == text, "a failed publish touched the folder"


def pipeline_weights(folder: Path) -> dict[str, torch.Tensor]:
    pipe = AniMoPipeline.from_pretrained(folder)
    return {
        f"{n}.{k}": v
        for n, m in pipe.components.items()
        if hasattr(m, "state_dict")
        for k, v in m.state_dict().items()
    }


def test_a_history_remakes_its_runs_in_order_with_the_same_weights(chain, tmp_path, capsys):
    """``animeceleb-train --config training_history.json``: each run of the history trained
    again, in order, into the folder it names (the second starts from the first's weights),
    each as its final config says: the same weights as the runs that made the history,
    though the second was resumed with a stage added."""
    shipped = tmp_path / "shipped"
    shipped.mkdir()
    shutil.copyfile(chain.weights / HISTORY_FILE, shipped / HISTORY_FILE)
    made = read_history(shipped).stages
    runs = [chain.first_config.output_dir, chain.tuned_config.output_dir]
    aside = tmp_path / "made"
    for run in runs:
        shutil.move(run, aside / run.name)  # both run folders gone
    capsys.readouterr()
    assert main(["--config", str(shipped / HISTORY_FILE)]) == 0
    assert f"weights written to {chain.weights}" in capsys.readouterr().out
    for run in runs:
        assert (run / "weights" / "model_index.json").is_file(), f"{run} not trained again"
        again, before = (
            pipeline_weights(run / "weights"),
            pipeline_weights(aside / run.name / "weights"),
        )
        assert again.keys() == before.keys()
        for key in before:
            assert torch.equal(again[key], before[key]), f"{run.name}: {key} differs"
    remade = read_history(chain.weights).stages
    keys = ("run", "stage", "trains", "start_step", "steps", "loss", "schedule", "config")
    assert [{k: s[k] for k in keys} for s in remade] == [{k: s[k] for k in keys} for s in made]
    # the tuned run's stages, unbroken this time
    logged = records(chain.tuned_config.output_dir)
    assert [r["step"] for r in logged if not r.get("stage_end")] == [1, 2, 3]
    assert [r["step"] for r in logged if r.get("stage_end")] == [1, 3]
