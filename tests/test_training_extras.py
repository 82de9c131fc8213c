"""The optional training terms (the pose-conditioned patch discriminator, feature matching, the
pose regressor's features), fine-tuning from exported weights, the learning-rate schedule (and a
cool-down taken on by a copied run), and runs begun before a config field existed."""

import dataclasses
import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from test_training import tiny_config  # the tests folder is on sys.path

from animeceleb.pose import EXPRESSION_DIM
from animo_hf import AniMoPipeline, EditingNetwork, MotionNetwork, PoseMapping, WarpingNetwork
from training.config import TrainConfig, learning_rate_at
from training.discriminator import PatchDiscriminator
from training.losses import (
    RegressorLoss,
    discriminator_hinge_loss,
    feature_matching,
    generator_hinge_loss,
)
from training.models import Prediction
from training.regressor import build_regressor
from training.train import Trainer, compute_losses

TESTS = Path(__file__).resolve().parent
ADVERSARIAL = {"l1": 1.0, "ssim": 0.5, "adversarial": 0.1, "feature_matching": 1.0}


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


def test_regressor_losses_are_zero_for_the_target_and_train_only_the_output(regressor_folder):
    loss = RegressorLoss(str(regressor_folder)).train()
    assert not loss.regressor.training, "the frozen regressor left eval mode"
    target = torch.rand(2, 3, 128, 128) * 2 - 1  # resized to the regressor's 64²
    read, _ = loss.read(target)
    # The labels the regressor reads from the target, in pose units (angles in degrees).
    pose = read.detach() * torch.tensor(loss.regressor.config.pose_scale)
    assert float(loss(target, target, pose)["features"]) == 0.0
    assert float(loss(target, target, pose)["expression"]) == pytest.approx(0.0, abs=1e-6)
    assert float(loss(target, target, pose)["head"]) == pytest.approx(0.0, abs=1e-6)
    # By hand: the expression term is the mean absolute difference on dims 0-16, the head term
    # on dims 17-19 in the regressor's units (degrees / 20); each ignores the other's dims.
    shifted = pose.clone()
    shifted[:, :EXPRESSION_DIM] += 0.25
    assert float(loss(target, target, shifted)["expression"]) == pytest.approx(0.25, abs=1e-5)
    assert float(loss(target, target, shifted)["head"]) == pytest.approx(0.0, abs=1e-5)
    shifted = pose.clone()
    shifted[:, EXPRESSION_DIM:] += 5.0  # degrees
    assert float(loss(target, target, shifted)["head"]) == pytest.approx(5.0 / 20, abs=1e-5)
    assert float(loss(target, target, shifted)["expression"]) == pytest.approx(0.0, abs=1e-5)
    output = (target + 0.3 * torch.randn_like(target)).requires_grad_(True)
    terms = loss(output, target, pose)
    (terms["features"] + terms["expression"] + terms["head"]).backward()
    assert terms["features"] > 0 and terms["expression"] > 0 and terms["head"] > 0
    assert output.grad.abs().sum() > 0
    assert all(p.grad is None for p in loss.regressor.parameters())
    assert set(loss(output, target, pose, features=False)) == {"expression", "head"}


def test_an_adversarial_run_resumes_with_the_discriminator_state(tiny_dataset, tmp_path):
    straight = Trainer(tiny_config(tiny_dataset, tmp_path / "straight", loss=ADVERSARIAL))
    straight.run()
    interrupted = Trainer(tiny_config(tiny_dataset, tmp_path / "resumed", loss=ADVERSARIAL))
    for _ in range(3):  # two warping steps, then one with the discriminator
        interrupted.train_step()
    interrupted.save()
    del interrupted

    resumed = Trainer(tiny_config(tiny_dataset, tmp_path / "resumed", loss=ADVERSARIAL))
    assert resumed.step == 3
    resumed.run()
    for name in ("model", "discriminator"):
        expected = resumed.accelerator.unwrap_model(getattr(straight, name)).state_dict()
        got = resumed.accelerator.unwrap_model(getattr(resumed, name)).state_dict()
        for key in expected:
            assert torch.equal(expected[key], got[key]), f"{name}.{key} differs after resuming"
    records = [json.loads(r) for r in (tmp_path / "resumed" / "metrics.jsonl").open()]
    full = [r for r in records if r["phase"] == "full"]
    assert full and all(
        {"adversarial", "feature_matching", "discriminator", "discriminator_gap"} <= set(r)
        for r in full
    )


def test_regressor_losses_train_with_the_run(tiny_dataset, tmp_path, regressor_folder):
    loss = {
        "l1": 1.0,
        "regressor_features": 0.5,
        "regressor_expression": 1.0,
        "regressor_head": 1.0,
    }
    config = tiny_config(
        tiny_dataset, tmp_path / "run", loss=loss, regressor=str(regressor_folder), max_steps=2
    )
    trainer = Trainer(config)
    trainer.run()
    record = json.loads((tmp_path / "run" / "metrics.jsonl").read_text().splitlines()[-1])
    assert record["phase"] == "full" and record["regressor_features"] > 0
    assert record["regressor_expression"] > 0 and record["regressor_head"] > 0


def test_the_regressor_reaches_the_generator_where_the_mask_rests_on_the_warped_source(
    regressor_folder,
):
    loss = {"l1": 1.0, "generated": 0.5, "regressor_expression": 1.0}
    config = tiny_config(Path("data"), Path("out"), loss=loss, regressor=str(regressor_folder))
    generated = (torch.rand(2, 3, 64, 64) * 2 - 1).requires_grad_()
    warped, mask = torch.rand(2, 3, 64, 64) * 2 - 1, torch.ones(2, 1, 64, 64)
    prediction = Prediction(
        warped,
        torch.zeros(2, 2, 16, 16),
        EditingNetwork.compose(generated, mask, warped),
        generated=generated,
        mask=mask,
    )
    batch = {
        "target": torch.rand(2, 3, 64, 64) * 2 - 1,
        "pose": torch.rand(2, 20),
        "source_alpha": torch.ones(2, 1, 64, 64),
        "target_alpha": torch.ones(2, 1, 64, 64),
    }
    regressor = RegressorLoss(str(regressor_folder))
    terms = compute_losses(prediction, batch, config, regressor=regressor)
    (through_output,) = torch.autograd.grad(
        terms["regressor_expression"], generated, retain_graph=True
    )
    assert not through_output.any()  # the mask blocks the output's term
    (direct,) = torch.autograd.grad(terms["generated_regressor_expression"], generated)
    assert direct.abs().sum() > 0


def test_the_discriminator_judges_the_generated_image_where_the_mask_rests_on_the_warp(
    tiny_dataset, tmp_path
):
    loss = {**ADVERSARIAL, "generated": 0.5, "generated_adversarial": 0.5}
    config = tiny_config(Path("data"), Path("out"), loss=loss)
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
    critic = PatchDiscriminator(channels=(16, 32)).eval()
    terms = compute_losses(prediction, batch, config, discriminator=critic)
    assert {"generated_adversarial", "generated_feature_matching"} <= set(terms)
    (through_output,) = torch.autograd.grad(terms["adversarial"], generated, retain_graph=True)
    assert not through_output.any()  # the mask blocks the output's term
    for name in ("generated_adversarial", "generated_feature_matching"):
        (direct,) = torch.autograd.grad(terms[name], generated, retain_graph=True)
        assert direct.abs().sum() > 0, name
    unjudged = tiny_config(Path("data"), Path("out"), loss={**loss, "generated_adversarial": 0})
    without = compute_losses(prediction, batch, unjudged, discriminator=critic)
    judged = 0.1 * terms["generated_adversarial"] + terms["generated_feature_matching"]
    assert float((terms["total"] - without["total"]).detach()) == pytest.approx(
        0.5 * float(judged.detach()), rel=1e-4
    )
    # a real run: the discriminator also learns the generated image as a fake
    trainer = Trainer(tiny_config(tiny_dataset, tmp_path / "run", loss=loss, max_steps=3))
    trainer.run()
    record = json.loads((tmp_path / "run" / "metrics.jsonl").read_text().splitlines()[-1])
    assert record["phase"] == "full" and record["generated_adversarial"] != 0
    assert math.isfinite(record["discriminator"])


def test_the_face_term_scores_the_central_crop_again():
    config = tiny_config(Path("data"), Path("out"), loss={"l1": 1.0, "face": 2.0})
    target = torch.zeros(1, 3, 64, 64)
    batch = {"target": target, "pose": torch.zeros(1, 20)}
    outside, inside = target.clone(), target.clone()
    outside[..., :16, :32] = 1.0  # above the face crop (rows and columns 16-47)
    inside[..., 16:32, 16:48] = 1.0  # the same area inside it
    terms = {}
    for name, image in (("outside", outside), ("inside", inside)):
        prediction = Prediction(warped=image, flow=torch.zeros(1, 2, 16, 16), image=None)
        terms[name] = compute_losses(prediction, batch, config)
    assert terms["outside"]["warp_face"] == 0
    assert torch.isclose(terms["inside"]["warp_l1"], terms["outside"]["warp_l1"])
    assert torch.isclose(terms["inside"]["warp_face"], 4 * terms["inside"]["warp_l1"])
    expected = terms["inside"]["warp_l1"] + 2.0 * terms["inside"]["warp_face"]
    assert torch.isclose(terms["inside"]["total"], expected)


def test_fine_tuning_starts_from_the_given_weights(tiny_dataset, tmp_path):
    first = Trainer(tiny_config(tiny_dataset, tmp_path / "first", max_steps=2))
    weights = first.run()
    tuned = Trainer(tiny_config(tiny_dataset, tmp_path / "tuned", init_weights=str(weights)))
    ours = tuned.accelerator.unwrap_model(tuned.model).state_dict()
    theirs = first.accelerator.unwrap_model(first.model).state_dict()
    assert all(torch.equal(ours[k], theirs[k]) for k in theirs)
    bicubic = tiny_config(
        tiny_dataset,
        tmp_path / "bicubic",
        init_weights=str(weights),
        editing={"warp_interpolation": "bicubic"},
    )  # how the source is sampled is not architecture: the weights are taken as they are
    resampling = Trainer(bicubic)
    resampled = resampling.accelerator.unwrap_model(resampling.model)
    assert resampled.editing_network.config.warp_interpolation == "bicubic"
    assert all(torch.equal(resampled.state_dict()[k], theirs[k]) for k in theirs)
    skip = tiny_config(
        tiny_dataset, tmp_path / "skip", init_weights=str(weights), editing={"source_skip": True}
    )  # fine-tuning may add the source skip: it starts at zero, the rest is taken as it is
    skipping = Trainer(skip)
    skipped = skipping.accelerator.unwrap_model(skipping.model)
    assert all(torch.equal(skipped.state_dict()[k], theirs[k]) for k in theirs)
    assert not skipped.editing_network.source_skip_head[1].weight.any()
    with pytest.raises(
        ValueError, match=r"init_weights .*\(editing_network\): config fields \['source_skip'\]"
    ):
        Trainer(tiny_config(tiny_dataset, tmp_path / "unskip", init_weights=str(skipping.run())))
    convex = tiny_config(
        tiny_dataset,
        tmp_path / "convex",
        init_weights=str(weights),
        warping={"convex_upsampling": True},
    )  # and the flow's learned upsampling: it starts as bilinear, so the warped source is the
    # same; the features' warps see the full-resolution flow resized back, a small change
    upsampling = Trainer(convex)
    upsampled = upsampling.accelerator.unwrap_model(upsampling.model)
    assert all(torch.equal(upsampled.state_dict()[k], theirs[k]) for k in theirs)
    source, pose = first.fixed["source"], first.fixed["pose"]
    with torch.no_grad():
        before = first.accelerator.unwrap_model(first.model)(source, pose, full=True)
        after = upsampled(source, pose, full=True)
    assert after.flow.shape[-1] == 4 * before.flow.shape[-1]
    torch.testing.assert_close(after.warped, before.warped, atol=1e-5, rtol=0)
    assert 0 < (after.image - before.image).abs().mean() < 0.005

    torch.manual_seed(0)
    no_mask = tmp_path / "no-mask"
    AniMoPipeline(
        PoseMapping(), MotionNetwork(), WarpingNetwork(), EditingNetwork(composite=False)
    ).save_pretrained(no_mask)
    with pytest.raises(ValueError, match=r"init_weights .*no-mask \(editing_network\): config "):
        Trainer(tiny_config(tiny_dataset, tmp_path / "bad", init_weights=str(no_mask)))
    other = Trainer(tiny_config(tiny_dataset, tmp_path / "pir", model="pirenderer", max_steps=1))
    other.run()
    with pytest.raises(FileNotFoundError, match=r"config init_weights = .*model_index.json"):
        Trainer(
            tiny_config(tiny_dataset, tmp_path / "bad", init_weights=str(other.out / "weights"))
        )


def test_a_run_begun_before_a_config_field_existed_still_resumes(tiny_dataset, tmp_path):
    out = tmp_path / "old"
    trainer = Trainer(tiny_config(tiny_dataset, out, max_steps=2))
    trainer.run()
    saved = json.loads((out / "config.json").read_text())
    for name in ("regressor", "init_weights"):
        del saved[name]
    del saved["loss"]["adversarial"]
    (out / "config.json").write_text(json.dumps(saved))
    assert Trainer(tiny_config(tiny_dataset, out, max_steps=2)).step == 2
    with pytest.raises(ValueError, match=r"fields \['loss'\] differ"):
        Trainer(tiny_config(tiny_dataset, out, max_steps=2, loss={"adversarial": 0.1}))


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"loss": {"regressor_features": 1.0}}, "config regressor = None: expected a pose"),
        ({"loss": {"regressor_expression": 1.0}}, "config regressor = None: expected a pose"),
        ({"init_weights": ""}, "config init_weights = '': expected null or a folder"),
        ({"loss": {"adversarial": -0.1}}, "config loss.adversarial = -0.1"),
        ({"loss": {"generated_adversarial": -1}}, "config loss.generated_adversarial = -1"),
        ({"editing": {"source_skip": "yes"}}, "config editing.source_skip = 'yes': expected true"),
        ({"warping": {"convex_upsampling": 1}}, "config warping.convex_upsampling = 1: expected"),
        ({"lr_schedule": "linear"}, r"config lr_schedule = 'linear': expected one of \('const"),
        ({"decay_steps": 0}, "config decay_steps = 0: expected a positive integer"),
        ({"decay_steps": 5}, r"config decay_steps = 5: expected at most 4 \(max - warm-up - st"),
        ({"warmup_steps": 1, "decay_steps": 4}, "config decay_steps = 4: expected at most 3"),
        ({"discriminator_learning_rate": 0}, "config discriminator_learning_rate = 0: expected"),
        ({"discriminator_warmup_steps": -1}, "config discriminator_warmup_steps = -1: expected"),
        ({"discriminator_warmup_steps": 1}, "discriminator_warmup_steps = 1: expected 0 unless"),
        (
            {"discriminator_warmup_steps": 1, "loss": ADVERSARIAL},
            "discriminator_warmup_steps = 1: expected 0 unless .* warp_only_fraction is 0",
        ),
        (
            {"discriminator_warmup_steps": 4, "loss": ADVERSARIAL, "warp_only_fraction": 0},
            r"discriminator_warmup_steps = 4: expected fewer than max_steps \(4\)",
        ),
        (
            {"discriminator_warmup_steps": 2, "decay_steps": 3, "warp_only_fraction": 0},
            "config decay_steps = 3: expected at most 2",
        ),
        ({"discriminator_updates": 0}, "config discriminator_updates = 0: expected a positive"),
        ({"discriminator_updates": 2}, "discriminator_updates = 2: expected 1 unless loss.adv"),
        (
            {"discriminator_updates": 2, "loss": ADVERSARIAL, "gradient_accumulation_steps": 2},
            "discriminator_updates = 2: expected 1 unless .* gradient_accumulation_steps is 1",
        ),
    ],
)
def test_new_config_values_out_of_range_are_named(tmp_path, changes, message):
    with pytest.raises(ValueError, match=message):
        tiny_config("data", tmp_path, **changes)


def test_the_learning_rate_follows_the_schedule_computed_by_hand():
    def rates(steps, **fields):
        config = TrainConfig(dataset="data", learning_rate=1e-4, max_steps=10, **fields)
        return [learning_rate_at(config, step) for step in steps]

    assert rates(range(10)) == [1e-4] * 10  # the default: constant, as in the paper
    assert rates([0, 1, 2, 3], warmup_steps=2) == pytest.approx([0.5e-4, 1e-4, 1e-4, 1e-4])
    # cosine over every step after a 2-step warm-up: progress (step - 2) / 8
    expected = [1e-4 * 0.5 * (1 + math.cos(math.pi * (s - 2) / 8)) for s in (2, 6, 9)]
    assert rates([2, 6, 9], lr_schedule="cosine", warmup_steps=2) == pytest.approx(expected)
    # a cool-down over the last 4 steps: constant to step 6, then progress (step - 6) / 4
    cool = rates([0, 5, 6, 8, 9], lr_schedule="cosine", decay_steps=4)
    last = 1e-4 * 0.5 * (1 + math.cos(0.75 * math.pi))
    assert cool == pytest.approx([1e-4, 1e-4, 1e-4, 0.5e-4, last])
    # after a 4-step discriminator warm-up (the full rate), a 2-step warm-up from step 4, then
    # the cosine over steps 6-9 (progress (step - 6) / 4)
    critic_first = rates(
        [0, 3, 4, 5, 6, 8, 9],
        lr_schedule="cosine",
        warmup_steps=2,
        discriminator_warmup_steps=4,
        loss=ADVERSARIAL,
        warp_only_fraction=0.0,
    )
    assert critic_first == pytest.approx([1e-4, 1e-4, 0.5e-4, 1e-4, 1e-4, 0.5e-4, last])


def test_the_discriminator_warms_up_alone_at_its_own_rate_then_the_model_trains(
    tiny_dataset, tmp_path
):
    config = tiny_config(
        tiny_dataset,
        tmp_path / "critic-first",
        warp_only_fraction=0.0,
        discriminator_warmup_steps=2,
        discriminator_learning_rate=4e-4,
        loss=ADVERSARIAL,
    )
    trainer = Trainer(config)

    def weights(name: str) -> dict[str, torch.Tensor]:
        module = trainer.accelerator.unwrap_model(getattr(trainer, name))
        return {k: v.clone() for k, v in module.state_dict().items()}

    def changed(before: dict[str, torch.Tensor], after: dict[str, torch.Tensor]) -> bool:
        return any(not torch.equal(before[k], after[k]) for k in before)

    for step in range(4):
        model, critic = weights("model"), weights("discriminator")
        phase = trainer.phase
        values = trainer.train_step()
        assert phase == ("discriminator" if step < 2 else "full")
        assert changed(critic, weights("discriminator")), f"step {step}: critic unchanged"
        assert changed(model, weights("model")) == (step >= 2), f"step {step}"
        assert values["discriminator_lr"] == pytest.approx(4 * learning_rate_at(config, step))
        assert values["lr"] == (0.0 if step < 2 else learning_rate_at(config, step))
        assert ("total" in values) == (step >= 2) and "discriminator_gap" in values


def test_the_critic_updates_several_times_per_step_and_a_resumed_run_may_change_how_often(
    tiny_dataset, tmp_path
):
    def updates(optimizer: torch.optim.Optimizer) -> int:
        """Adam's update count (every parameter's is the same)."""
        counts = {int(state["step"]) for state in optimizer.state.values()}
        assert len(counts) == 1
        return counts.pop()

    whole = {"loss": ADVERSARIAL, "warp_only_fraction": 0.0}
    first = Trainer(tiny_config(tiny_dataset, tmp_path / "run", max_steps=2, **whole))
    first.run()
    assert updates(first.discriminator_optimizer) == updates(first.optimizer) == 2

    resumed = Trainer(tiny_config(tiny_dataset, tmp_path / "run", discriminator_updates=3, **whole))
    assert resumed.step == 2 and updates(resumed.discriminator_optimizer) == 2
    critic = resumed.accelerator.unwrap_model(resumed.discriminator)
    before = {k: v.clone() for k, v in critic.state_dict().items()}
    values = resumed.train_step()
    assert updates(resumed.optimizer) == 3 and updates(resumed.discriminator_optimizer) == 5
    assert any(not torch.equal(before[k], v) for k, v in critic.state_dict().items())
    assert math.isfinite(values["discriminator"]) and math.isfinite(values["discriminator_gap"])
    saved = json.loads((tmp_path / "run" / "config.json").read_text())
    assert saved["discriminator_updates"] == 3


def test_a_copied_run_goes_on_with_a_cool_down_for_both_optimizers(tiny_dataset, tmp_path):
    Trainer(tiny_config(tiny_dataset, tmp_path / "constant", loss=ADVERSARIAL)).run()  # 4 steps
    shutil.copytree(tmp_path / "constant", tmp_path / "branch")
    # twice as long, the same warping phase (2 steps), the rate decaying over the 4 new steps
    longer = {"max_steps": 8, "warp_only_fraction": 0.25, "loss": ADVERSARIAL}
    cool_down = {"lr_schedule": "cosine", "decay_steps": 4, **longer}
    branch = Trainer(tiny_config(tiny_dataset, tmp_path / "branch", **cool_down))
    assert branch.step == 4
    for progress in (0.0, 0.25):
        lr = branch.train_step()["lr"]
        assert lr == pytest.approx(1e-4 * 0.5 * (1 + math.cos(math.pi * progress)))
        for optimizer in (branch.optimizer, branch.discriminator_optimizer):
            assert [group["lr"] for group in optimizer.param_groups] == [lr]
    saved = json.loads((tmp_path / "branch" / "config.json").read_text())
    assert saved["output_dir"] == str(tmp_path / "branch") and saved["decay_steps"] == 4
    with pytest.raises(ValueError, match=r"fields \['warmup_steps'\] differ"):
        Trainer(tiny_config(tiny_dataset, tmp_path / "branch", warmup_steps=1, **cool_down))


def test_publish_ships_a_chain_of_runs_with_its_card_configs_and_evaluation(tiny_dataset, tmp_path):
    from huggingface_hub import ModelCard

    from training.evaluate import main as evaluate
    from training.publish import main as publish

    first = Trainer(tiny_config(tiny_dataset, tmp_path / "first", max_steps=2))
    tuned_config = tiny_config(
        tiny_dataset,
        tmp_path / "tuned",
        max_steps=1,
        warp_only_fraction=0.0,
        init_weights=str(first.run()),
        loss=ADVERSARIAL,
        lr_schedule="cosine",
    )
    weights = Trainer(tuned_config).run()
    eval_dir = tmp_path / "eval"
    args = ["--dataset", str(tiny_dataset), "--weights", str(weights), "--resolution", "64"]
    assert evaluate([*args, "--output", str(eval_dir)]) == 0
    out = tmp_path / "shipped" / "animo"
    command = ["--run", str(tmp_path / "tuned"), "--out", str(out), "--evaluation", str(eval_dir)]
    command += ["--data-command", "python -m dataset_builder build --out tiny", "--hardware", "CI"]
    credit = '"Low-Poly Godette" by SirRichard94 (CC BY 3.0) appears in the figures.'
    extra = ["--limitation", "Trained on 2 characters.", "--attribution", credit]
    assert publish([*command, *extra, "--dataset-id", "org/animeceleb"]) == 0

    card = ModelCard.load(out / "README.md")
    assert card.data.library_name == "diffusers" and card.data.license == "apache-2.0"
    assert card.data.datasets == ["org/animeceleb"]
    assert "## Intended use" in card.text and credit in card.text.split("## Licences")[1]
    text = card.text
    assert "untrained" not in text and "3 steps" in text  # 2 + 1, the whole chain
    assert (eval_dir / "results.md").read_text().replace("## ", "### ") in text
    assert "animeceleb-train --config training/1-first.json\n" in text
    assert "animeceleb-train --config training/2-tuned.json\n" in text
    assert "adversarial 0.1, feature matching 1" in text and "- Trained on 2 characters." in text
    assert "Adam lr 0.0001 (constant)" in text  # the first run, then the tuned one:
    assert "Adam lr 0.0001 decaying to 0 along a cosine over the run" in text
    assert TrainConfig.from_yaml(out / "training" / "2-tuned.json") == tuned_config
    assert (out / "evaluation_results.json").is_file()
    assert AniMoPipeline.from_pretrained(out).default_sample_size == 64  # the run's resolution
    code = (
        "import torch; from animo_hf import AniMoPipeline; "
        f"p = AniMoPipeline.from_pretrained({str(out)!r}); "
        "p.set_progress_bar_config(disable=True); "
        "print(len(p(torch.rand(4, 64, 64), num_random_poses=2, height=64, width=64).frames))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0 and result.stdout.strip() == "2", result.stderr[-2000:]

    assert publish(["--run", str(tmp_path / "nowhere"), "--out", str(out), *command[4:]]) == 2
    assert (out / "README.md").is_file(), "a failed publish touched the shipped folder"

    # a fine-tune of the shipped folder (its run folders gone) continues the shipped chain
    shipped = json.loads((out / "training" / "chain.json").read_text())
    assert shipped["steps"] == [2, 1] and shipped["exact"] and shipped["seconds"] > 0
    more_config = tiny_config(
        tiny_dataset, tmp_path / "more", max_steps=1, warp_only_fraction=0.0, init_weights=str(out)
    )
    Trainer(more_config).run()
    shutil.rmtree(tmp_path / "first")
    shutil.rmtree(tmp_path / "tuned")
    (out / "training" / "chain.json").unlink()  # shipped before the record: the card's time
    again = tmp_path / "shipped" / "animo-more"
    assert publish(["--run", str(tmp_path / "more"), "--out", str(again), *command[4:]]) == 0
    text = (again / "README.md").read_text(encoding="utf-8")
    for i, run in enumerate(["first", "tuned", "more"], start=1):
        assert f"animeceleb-train --config training/{i}-{run}.json\n" in text
    assert "4 steps" in text and f"from {tmp_path / 'tuned'}/weights, 1 steps" in text
    record = json.loads((again / "training" / "chain.json").read_text())
    assert record["steps"] == [2, 1, 1] and record["exact"]  # the card's "N minutes", measured
    more = TrainConfig.from_yaml(again / "training" / "3-more.json")
    assert more == dataclasses.replace(more_config, init_weights=f"{tmp_path / 'tuned'}/weights")

    # shipped over the folder it started from, then published again there (a new evaluation):
    # the folder's chain, not the run appended to it once more
    shutil.rmtree(out)
    shutil.copytree(again, out)
    assert publish(["--run", str(tmp_path / "more"), "--out", str(out), *command[4:]]) == 0
    assert json.loads((out / "training" / "chain.json").read_text())["steps"] == [2, 1, 1]
    assert sorted(p.name for p in (out / "training").glob("*-*.json")) == [
        "1-first.json",
        "2-tuned.json",
        "3-more.json",
    ]

    (out / "training" / "chain.json").unlink()
    (out / "README.md").write_text("a card without its time\n")
    assert publish(["--run", str(tmp_path / "more"), "--out", str(again), *command[4:]]) == 2


def test_a_run_resumed_with_a_cool_down_and_new_weights_ships_one_config_per_stage_that_retrain_it(
    tiny_dataset, tmp_path
):
    from training.publish import main as publish

    def weights(run: Path) -> dict[str, torch.Tensor]:
        pipe = AniMoPipeline.from_pretrained(run / "weights")
        return {
            f"{n}.{k}": v
            for n, m in pipe.components.items()
            if hasattr(m, "state_dict")
            for k, v in m.state_dict().items()
        }

    constant = {"warp_only_fraction": 0.0, "loss": ADVERSARIAL}
    cool_down = {"max_steps": 4, "lr_schedule": "cosine", "decay_steps": 2}
    cool_down = {**constant, **cool_down, "loss": {**ADVERSARIAL, "changed_per_image": 1.0}}
    run = tmp_path / "run"
    Trainer(tiny_config(tiny_dataset, run, max_steps=2, **constant)).run()
    Trainer(tiny_config(tiny_dataset, run, **cool_down)).run()
    Trainer(tiny_config(tiny_dataset, run, **cool_down, log_every=2)).run()  # trains no step
    assert [s["until_step"] for s in json.loads((run / "stages.json").read_text())] == [2, 4]

    out = tmp_path / "shipped"
    command = ["--run", str(run), "--out", str(out), "--hardware", "CI"]
    assert publish([*command, "--data-command", "python -m dataset_builder build --out t"]) == 0
    record = json.loads((out / "training" / "chain.json").read_text())
    assert record["steps"] == [2, 2] and record["starts"] == [0, 2]
    assert sorted(p.name for p in (out / "training").glob("*-*.json")) == [
        "1-run.json",
        "2-run.json",
    ]
    text = (out / "README.md").read_text(encoding="utf-8")
    resumed = (
        "Adam lr 0.0001 (constant), betas (0.5, 0.999); losses: l1 1, ssim 0.5, adversarial 0.1, "
        "feature matching 1; then resumed at step 2 with decay_steps 2, loss.changed_per_image "
        "1, lr_schedule cosine, max_steps 4: 2 more steps, Adam lr 0.0001 decaying to 0 along a "
        "cosine over the last 2 steps; 4 steps"
    )
    assert resumed in text

    # the shipped configs, run in order in a fresh folder, make the same weights
    again = tmp_path / "again"
    for name in ("1-run.json", "2-run.json"):
        config = TrainConfig.from_yaml(out / "training" / name)
        assert config.output_dir == str(run)
        Trainer(dataclasses.replace(config, output_dir=str(again))).run()
    retrained, shipped = weights(again), weights(run)
    assert retrained.keys() == shipped.keys()
    assert all(torch.equal(retrained[k], shipped[k]) for k in shipped)


def test_publish_ships_the_baseline_with_its_card_in_float16(tiny_dataset, tmp_path):
    from huggingface_hub import ModelCard
    from safetensors import safe_open

    from animo_hf import PIRendererGenerator
    from training.publish import main as publish

    pir = {"model": "pirenderer", "warp_only_fraction": 0.0}
    first = Trainer(tiny_config(tiny_dataset, tmp_path / "pir", max_steps=2, **pir)).run()
    tuned = tiny_config(
        tiny_dataset, tmp_path / "pir-256", max_steps=1, init_weights=str(first), **pir
    )
    weights = Trainer(tuned).run()
    out = tmp_path / "shipped" / "baseline"
    command = ["--run", str(tmp_path / "pir-256"), "--out", str(out), "--hardware", "CI"]
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
    assert "3 steps" in text and "Not evaluated" in text
    for i, run in enumerate(["pir", "pir-256"], start=1):
        assert f"animeceleb-train --config training/{i}-{run}.json\n" in text
    assert json.loads((out / "training" / "chain.json").read_text())["steps"] == [2, 1]

    assert publish([*command, "--dtype", "float64"]) == 2
    assert publish([*command, "--speed", "30 FPS"]) == 2  # the baseline's card has no speed
    assert ModelCard.load(out / "README.md").text == text, "a failed publish touched the folder"


def test_bf16_autocast_and_channels_last_train_and_resume(tiny_dataset, tmp_path):
    # a process has one accelerate state (its precision): run it as the CLI does, on its own
    out = tmp_path / "fast"
    code = (
        "import sys, torch; from training.train import Trainer; "
        "from test_training import tiny_config; "
        f"t = Trainer(tiny_config({str(tiny_dataset)!r}, {str(out)!r}, mixed_precision='bf16', "
        f"channels_last=True, loss={ADVERSARIAL!r})); t.run(); "
        "w = t.accelerator.unwrap_model(t.model).editing_network.encoder.stem[1].weight; "
        "print(w.is_contiguous(memory_format=torch.channels_last), w.dtype)"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(TESTS), str(TESTS.parent)])}
    for _ in range(2):  # the second run resumes at the end and trains nothing
        result = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=600
        )
        assert result.returncode == 0, result.stderr[-3000:]
        assert result.stdout.split()[-2:] == ["True", "torch.float32"]  # autocast keeps fp32
    records = [json.loads(r) for r in (out / "metrics.jsonl").open()]
    assert [r["step"] for r in records] == [1, 2, 3, 4]
    assert all(math.isfinite(r["total"]) for r in records)
    with pytest.raises(ValueError, match="config channels_last = 1: expected true or false"):
        tiny_config(tiny_dataset, tmp_path, channels_last=1)


def test_the_card_names_the_critics_rate_updates_and_warm_up():
    from training.publish import critic_summary

    plain = TrainConfig(dataset="data", loss=ADVERSARIAL)
    assert critic_summary(plain) == ""
    critic = dataclasses.replace(
        plain,
        warp_only_fraction=0.0,
        discriminator_learning_rate=4e-4,
        discriminator_updates=4,
        discriminator_warmup_steps=200,
    )
    assert critic_summary(critic) == (
        ", the discriminator's lr 0.0004, 4 discriminator updates per step, the first 200 steps "
        "training the discriminator alone (the model frozen)"
    )
