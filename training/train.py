"""Train AniMo (or the PIRenderer-style baseline) with ``accelerate``: the same script on this CPU
and, unchanged, under ``accelerate launch`` on several processes or GPUs.

    animeceleb-train --config configs/animo.yaml [--max_steps 500 --loss.ssim 0.5 ...]
    accelerate launch --multi_gpu --num_processes 2 -m training.train --config ...  # 2 GPUs
    ACCELERATE_USE_CPU=true accelerate launch --multi_gpu --num_processes 2 -m training.train ...
        # 2 CPU processes (torch.distributed with gloo)

A run folder (``training.runs``) holds ``config.json``, ``checkpoints/step-NNNNNNN/``,
``metrics.jsonl``, ``samples/step-NNNNNNN.png`` (source, target, output, warped source,
generated image and mask), ``weights/`` (the latest weights in Hub layout) and, with
``lora_rank``, ``lora/`` (the adapter alone, for ``AniMoPipeline.load_lora_weights``).
Running the same command again resumes from the last checkpoint at the same step.
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import PIL.Image
import torch
from accelerate.utils import DistributedDataParallelKwargs
from torch.utils.data import DataLoader

from animo_hf.models.layers import warp

from . import runs
from .config import LossWeights, TrainConfig
from .data import (
    PairDataset,
    SeededPairSampler,
    image_array,
    load_split,
    seeded_loader,
    training_pairs,
)
from .discriminator import PatchDiscriminator
from .losses import (
    RegressorLoss,
    changed_l1,
    discriminator_hinge_loss,
    edge_l1,
    expression_l1,
    face_crop,
    feature_matching,
    flow_smoothness,
    generator_hinge_loss,
    mask_loss,
    multiscale_l1,
    ssim_loss,
)
from .models import Prediction, build_model

SAMPLE_PAIRS = 4


def judged_images(
    prediction: Prediction, weights: LossWeights
) -> dict[str, tuple[torch.Tensor, float]]:
    """The images the discriminator judges, by loss-term prefix, with the scale of their terms:
    the output and, with ``loss.generated_adversarial``, AniMo's generated image."""
    judged = {"image": (prediction.image, 1.0)}
    if prediction.generated is not None and weights.generated_adversarial:
        judged["generated"] = (prediction.generated, weights.generated_adversarial)
    return judged


def compute_losses(
    prediction: Prediction,
    batch: dict[str, torch.Tensor],
    config: TrainConfig,
    discriminator: PatchDiscriminator | None = None,
    regressor: RegressorLoss | None = None,
) -> dict[str, torch.Tensor]:
    """Named loss terms and their weighted ``total``. The warped source is compared with the
    target always, the output too once the whole model trains, and (with ``loss.generated``)
    AniMo's generated image before the mask, so the generator learns wherever the mask rests.
    Once the whole model trains, the output also meets the ``discriminator`` (its weights are
    not updated here: :meth:`Trainer.discriminator_step`) and the pose regressor's losses
    (``regressor_features``, ``regressor_expression``, ``regressor_head``) when they are given;
    the regressor's also meet the generated image (scaled by ``loss.generated``), whose gradient
    the mask would otherwise block wherever it rests on the warped source; so do the
    discriminator's terms, scaled by ``loss.generated_adversarial``."""
    weights = config.loss
    outputs = {"warp": (prediction.warped, 1.0)}
    if prediction.image is not None:
        outputs["image"] = (prediction.image, 1.0)
    if prediction.generated is not None and weights.generated:
        outputs["generated"] = (prediction.generated, weights.generated)
    terms: dict[str, torch.Tensor] = {}
    weighted = []
    for prefix, (output, scale) in outputs.items():
        terms[f"{prefix}_l1"] = multiscale_l1(output, batch["target"])
        weighted.append(scale * weights.l1 * terms[f"{prefix}_l1"])
        if weights.ssim:
            terms[f"{prefix}_ssim"] = ssim_loss(output, batch["target"])
            weighted.append(scale * weights.ssim * terms[f"{prefix}_ssim"])
        if weights.edges and prefix != "warp":
            terms[f"{prefix}_edges"] = edge_l1(output, batch["target"])
            weighted.append(scale * weights.edges * terms[f"{prefix}_edges"])
        for name, per_image in (("changed", False), ("changed_per_image", True)):
            if getattr(weights, name) and prefix != "warp":
                terms[f"{prefix}_{name}"] = changed_l1(
                    output, batch["target"], prediction.warped.detach(), per_image
                )
                weighted.append(scale * getattr(weights, name) * terms[f"{prefix}_{name}"])
        if weights.expression and prefix != "warp":
            terms[f"{prefix}_expression"] = expression_l1(
                output, batch["target"], batch["source"], batch["pose"]
            )
            weighted.append(scale * weights.expression * terms[f"{prefix}_expression"])
        if weights.face:
            face, wanted = face_crop(output), face_crop(batch["target"])
            on_face = weights.l1 * multiscale_l1(face, wanted)
            if weights.ssim:
                on_face = on_face + weights.ssim * ssim_loss(face, wanted)
            terms[f"{prefix}_face"] = on_face
            weighted.append(scale * weights.face * terms[f"{prefix}_face"])
    if weights.flow_smoothness:
        terms["flow_smoothness"] = flow_smoothness(prediction.flow)
        weighted.append(weights.flow_smoothness * terms["flow_smoothness"])
    if weights.mask and prediction.mask is not None:
        terms["mask"] = mask_loss(prediction.mask, prediction.warped, batch["target"])
        weighted.append(weights.mask * terms["mask"])
    if weights.alpha:
        warped_alpha = warp(batch["source_alpha"], prediction.flow)
        terms["alpha"] = (warped_alpha - batch["target_alpha"]).abs().mean()
        weighted.append(weights.alpha * terms["alpha"])
    for prefix, (output, scale) in outputs.items():
        if prefix == "warp" or regressor is None:
            continue
        read = regressor(
            output, batch["target"], batch["pose"], features=bool(weights.regressor_features)
        )
        for name, value in read.items():
            terms[f"regressor_{name}" if prefix == "image" else f"{prefix}_regressor_{name}"] = (
                value
            )
            weighted.append(scale * getattr(weights, f"regressor_{name}") * value)
    if prediction.image is not None and discriminator is not None:
        real_features = None
        if weights.feature_matching:
            with torch.no_grad():
                _, real_features = discriminator(batch["target"], batch["pose"])
        for prefix, (output, scale) in judged_images(prediction, weights).items():
            name = "" if prefix == "image" else f"{prefix}_"
            fake_logits, fake_features = discriminator(output, batch["pose"])
            if weights.adversarial:
                terms[f"{name}adversarial"] = generator_hinge_loss(fake_logits)
                weighted.append(scale * weights.adversarial * terms[f"{name}adversarial"])
            if real_features is not None:
                terms[f"{name}feature_matching"] = feature_matching(fake_features, real_features)
                weighted.append(scale * weights.feature_matching * terms[f"{name}feature_matching"])
    terms["total"] = torch.stack(weighted).sum()
    return terms


def sample_grid(model, batch: dict[str, torch.Tensor], full: bool) -> PIL.Image.Image:
    """Rows: source, target, output (the warped source on the warping path), warped source and,
    where the output is composed, the generated image and the mask (white: the warped source
    kept; black: the generated image used), which show which of the two an expression fails in."""
    with torch.no_grad():
        prediction = model(batch["source"], batch["pose"], full=full)
    output = prediction.image if prediction.image is not None else prediction.warped
    rows = [batch["source"], batch["target"], output, prediction.warped]
    if prediction.mask is not None:
        rows += [prediction.generated, (prediction.mask * 2 - 1).expand_as(output)]
    grid = torch.cat([torch.cat(list(row.float().cpu()), dim=2) for row in rows], dim=1)
    return PIL.Image.fromarray(image_array(grid))


class Trainer:
    """One run: the accelerator, the data stream, the model and its optimizer, resumed from the
    run folder's last checkpoint when there is one."""

    def __init__(self, config: TrainConfig) -> None:
        self.config = config
        self.out = Path(config.output_dir)
        self.accelerator = runs.start_run(
            config,
            gradient_accumulation_steps=config.gradient_accumulation_steps,
            mixed_precision=config.mixed_precision,
            # the editing network sits out the warping phase: DDP must not wait for its grads
            kwargs_handlers=[DistributedDataParallelKwargs(find_unused_parameters=True)],
        )

        train_split = load_split(config.dataset)
        pairs = training_pairs(train_split, config)
        dataset = PairDataset(train_split, pairs, config)
        loader = seeded_loader(dataset, config)
        fixed_sampler = SeededPairSampler(len(pairs), config.seed + 1)
        self.fixed = next(iter(DataLoader(dataset, SAMPLE_PAIRS, sampler=fixed_sampler)))
        model = build_model(
            config.model,
            config.seed,
            config.init_weights,
            config.resolution,
            dataclasses.asdict(config.editing),
            dataclasses.asdict(config.warping),
            config.lora_rank,
            config.lora_components,
            config.init_lora,
        )
        self.memory_format = (
            torch.channels_last if config.channels_last else torch.contiguous_format
        )
        model.to(memory_format=self.memory_format)
        self.model, self.optimizer, loader = self.accelerator.prepare(
            model, self.adam(model), loader
        )
        self.discriminator = self.discriminator_optimizer = None
        if config.loss.uses_discriminator:
            discriminator = PatchDiscriminator().to(memory_format=self.memory_format)
            self.discriminator, self.discriminator_optimizer = self.accelerator.prepare(
                discriminator, self.adam(discriminator)
            )
        self.regressor = None
        if config.loss.uses_regressor:
            self.regressor = RegressorLoss(config.regressor).to(self.accelerator.device)

        self.step, loader = runs.resume(
            self.accelerator, self.out, loader, config.gradient_accumulation_steps
        )
        self.batches = iter(loader)

    def adam(self, module: torch.nn.Module) -> torch.optim.Adam:
        parameters = [p for p in module.parameters() if p.requires_grad]
        return torch.optim.Adam(parameters, lr=self.config.learning_rate, betas=self.config.betas)

    @property
    def full(self) -> bool:
        """Whether the whole model trains (after the warping path's share of the steps)."""
        return self.step >= self.config.warp_only_steps

    @property
    def phase(self) -> str:
        """What the next step trains: ``discriminator`` (its warm-up, the model frozen),
        ``warp`` (the warping path) or ``full`` (the whole model)."""
        if self.step < self.config.discriminator_warmup_steps:
            return "discriminator"
        return "full" if self.full else "warp"

    def train_step(self) -> dict[str, float]:
        """One optimizer update (``gradient_accumulation_steps`` batches, at the schedule's
        learning rate); the loss terms averaged over processes, and the rate. ``TrainingError``
        if a term is not finite. In the discriminator's warm-up only the discriminator learns."""
        self.model.train()
        lr = runs.set_learning_rate(self.config, self.step, self.optimizer)
        critic_lr = runs.set_learning_rate(
            self.config,
            self.step,
            self.discriminator_optimizer,
            scale=self.config.discriminator_rate_scale,
        )
        critic_only = self.phase == "discriminator"
        models = [m for m in (self.model, self.discriminator) if m is not None]
        for _ in range(self.config.gradient_accumulation_steps):
            batch = {
                k: v.contiguous(memory_format=self.memory_format) if v.ndim == 4 else v
                for k, v in next(self.batches).items()
            }
            with self.accelerator.accumulate(*models):
                if critic_only:
                    with torch.no_grad():
                        prediction = self.model(batch["source"], batch["pose"], full=True)
                    terms = self.discriminator_step(prediction, batch)
                else:
                    terms = self.model_step(batch)
        self.step += 1
        values = {
            name: float(self.accelerator.reduce(value.detach(), "mean"))
            for name, value in terms.items()
        }
        runs.check_finite(values, self.step, self.out)
        rates = {"lr": 0.0 if critic_only else lr}  # the model's: frozen in the critic's warm-up
        if self.discriminator is not None:
            rates["discriminator_lr"] = critic_lr
        return {**values, **rates}

    def model_step(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """The model's update on ``batch`` (then the discriminator's, when there is one); the
        loss terms."""
        prediction = self.model(batch["source"], batch["pose"], full=self.full)
        critic = self.frozen_discriminator() if prediction.image is not None else None
        terms = compute_losses(prediction, batch, self.config, critic, self.regressor)
        self.accelerator.backward(terms["total"])
        self.optimizer.step()
        self.optimizer.zero_grad()
        if critic is not None:
            terms.update(self.discriminator_step(prediction, batch))
        return terms

    def frozen_discriminator(self) -> PatchDiscriminator | None:
        """The discriminator as the generator's loss sees it: the bare module (no gradient
        synchronisation), in eval mode (spectral norm's power iteration paused), its weights
        not requiring gradients."""
        if self.discriminator is None:
            return None
        critic = self.accelerator.unwrap_model(self.discriminator)
        return critic.eval().requires_grad_(False)

    def discriminator_step(
        self, prediction: Prediction, batch: dict[str, torch.Tensor]
    ) -> dict[str, torch.Tensor]:
        """``discriminator_updates`` updates of the discriminator (hinge loss: the target real,
        the output fake, both with the target pose; with ``loss.generated_adversarial`` AniMo's
        generated image is a second fake, its patches counted with the output's). Returns the
        first update's loss and ``discriminator_gap``, the mean real logit minus the mean fake
        one (what the model last trained against): the loss averages over every patch, and
        where output and target are the same (the background, most of a frontal face) no
        critic can do better than 2, so the gap is what shows it learning."""
        self.accelerator.unwrap_model(self.discriminator).train().requires_grad_(True)
        judged = judged_images(prediction, self.config.loss).values()
        fakes = torch.cat([image.detach() for image, _ in judged])
        fake_poses = batch["pose"].repeat(len(fakes) // len(batch["pose"]), 1)
        terms = {}
        for update in range(self.config.discriminator_updates):
            real_logits, _ = self.discriminator(batch["target"], batch["pose"])
            fake_logits, _ = self.discriminator(fakes, fake_poses)
            loss = discriminator_hinge_loss(real_logits, fake_logits)
            if update == 0:  # the critic the model's last update trained against
                gap = real_logits.detach().mean() - fake_logits.detach().mean()
                terms = {"discriminator": loss.detach(), "discriminator_gap": gap}
            self.accelerator.backward(loss)
            self.discriminator_optimizer.step()
            self.discriminator_optimizer.zero_grad()
        return terms

    def save_samples(self) -> Path:
        model = self.accelerator.unwrap_model(self.model)
        model.eval()
        batch = {k: v.to(self.accelerator.device) for k, v in self.fixed.items()}
        path = self.out / "samples" / f"step-{self.step:07d}.png"
        path.parent.mkdir(exist_ok=True)
        sample_grid(model, batch, self.full).save(path)
        return path

    def save(self) -> None:
        runs.save_checkpoint(self.accelerator, self.out, self.step, self.config.keep_checkpoints)
        if self.accelerator.is_main_process:
            model = self.accelerator.unwrap_model(self.model)
            runs.export_weights(model.save, self.out / "weights")
            if self.config.lora_rank is not None:
                runs.export_weights(model.save_lora, self.out / "lora")

    def run(self) -> Path:
        """Train to ``max_steps``, logging, sampling and checkpointing on the way; returns the
        folder of the exported weights."""
        config, main_process = self.config, self.accelerator.is_main_process
        per_step = config.batch_size * config.gradient_accumulation_steps
        with runs.RunLog(
            self.out,
            main_process,
            total=config.max_steps,
            initial=self.step,
            desc=f"train {config.model}",
        ) as log:
            while self.step < config.max_steps:
                phase = self.phase  # of the step about to be taken
                values = self.train_step()
                log.stepped(per_step * self.accelerator.num_processes)
                last = self.step == config.max_steps
                if self.step % config.log_every == 0 or last:
                    record = {"step": self.step, "phase": phase, **values}
                    shown = values.get("total", values.get("discriminator"))
                    log.train_record(record, shown, phase=phase)
                if main_process and (self.step % config.sample_every == 0 or last):
                    self.save_samples()
                if self.step % config.checkpoint_every == 0 or last:
                    self.save()
        self.accelerator.end_training()
        return self.out / "weights"


def train(config: TrainConfig) -> Path:
    """Run (or resume) training; returns the folder of the exported weights."""
    return Trainer(config).run()


def main(argv: list[str] | None = None) -> int:
    """Console entry: 0 on success, 2 with one ``error: ...`` line on bad input."""
    return runs.run_cli(argv, TrainConfig, train, prog="animeceleb-train", description=__doc__)


if __name__ == "__main__":
    sys.exit(main())
