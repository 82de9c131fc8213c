"""Train AniMo (or the PIRenderer-style baseline) with ``accelerate``: the same script on this CPU
and, unchanged, under ``accelerate launch`` on several processes or GPUs.

    animeceleb-train --config training/configs/animo.yaml [--optimizer.learning_rate 4e-4 ...]
    animeceleb-train --config weights/animo/training_history.json  # remake shipped weights
    accelerate launch --multi_gpu --num_processes 2 -m training.animo.train --config ...  # 2 GPUs
    ACCELERATE_USE_CPU=true accelerate launch --multi_gpu --num_processes 2 \
        -m training.animo.train --config ...  # 2 CPU processes (torch.distributed with gloo)

The config's ``stages`` are the whole recipe (:mod:`training.animo.configuration_animo`). A run
folder (:mod:`training.runs`) holds ``config.json``, ``checkpoints/step-NNNNNNN/``,
``metrics.jsonl``, ``samples/step-NNNNNNN.png`` (source, target, output, warped source, generated
image and mask), ``weights/`` (the latest weights in Hub layout, with their
``training_history.json``) and, with ``model.lora``, ``lora/`` (the adapter alone, for
``AniMoPipeline.load_lora_weights``). Running the same command again resumes from the last
checkpoint at the same step. Given a ``training_history.json``, the command trains each run of
that history in order, each resumable in its own folder.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import PIL.Image
import torch
from accelerate.utils import DistributedDataParallelKwargs
from torch.utils.data import DataLoader

from .. import runs
from ..configuration import apply_override, parse_overrides
from ..data import (
    PairDataset,
    SeededPairSampler,
    data_summary,
    image_array,
    load_split,
    run_resolution,
    seeded_loader,
    training_pairs,
)
from ..history import HISTORY_FILE, STAGE_END, History, read_history, stage_record
from .configuration_animo import PairConfig, Stage, TrainConfig
from .discriminator import PatchDiscriminator
from .losses import (
    RegressorLoss,
    compute_losses,
    discriminator_hinge_loss,
    judged_images,
    morpher_losses,
)
from .modeling_animo import Prediction, build_model

SAMPLE_PAIRS = 4
START_HISTORY = "start"  # the run folder's copy of the history of the weights it starts from


def sample_grid(model, batch: dict[str, torch.Tensor], trains: str) -> PIL.Image.Image:
    """Rows: source, target, output (the warped source on the warping path), warped source and,
    where the output is composed, the generated image and the mask (white: the warped source
    kept; black: the generated image used), which show which of the two an expression fails in;
    with the expression stage, its image (what the rotator turned) too. ``trains``: what the
    stage that reached this step trains."""
    expression = {"morpher": "alone", "end_to_end": "first"}.get(trains)
    with torch.no_grad():
        prediction = model(
            batch["source"], batch["pose"], full=trains != "warp", expression=expression
        )
    output = prediction.image if prediction.image is not None else prediction.warped
    rows = [batch["source"], batch["target"], output, prediction.warped]
    if prediction.mask is not None:
        rows += [prediction.generated, (prediction.mask * 2 - 1).expand_as(output)]
    if expression == "first":
        rows.append(prediction.morphed.image)
    grid = torch.cat([torch.cat(list(row.float().cpu()), dim=2) for row in rows], dim=1)
    return PIL.Image.fromarray(image_array(grid))


class Trainer:
    """One run: the accelerator, the data stream, the model and its optimizer, resumed from the
    run folder's last checkpoint when there is one."""

    def __init__(self, config: TrainConfig) -> None:
        self.config = config
        self.out = config.output_dir
        self.accelerator = runs.start_run(
            config,
            gradient_accumulation_steps=config.optimizer.gradient_accumulation_steps,
            mixed_precision=config.mixed_precision,
            # the editing network sits out the warping stage: DDP must not wait for its grads
            kwargs_handlers=[DistributedDataParallelKwargs(find_unused_parameters=True)],
        )
        self.train_split = load_split(config.data.dataset)
        self.resolution = run_resolution(config.data, self.train_split)
        self.data_summary = data_summary(self.train_split, config.data)
        dataset = self.pair_dataset(config.pairs)
        loader = seeded_loader(dataset, config.data, config.seed)
        fixed_sampler = SeededPairSampler(len(dataset), config.seed + 1)
        self.fixed = next(iter(DataLoader(dataset, SAMPLE_PAIRS, sampler=fixed_sampler)))
        model = build_model(config.model, config.seed, self.resolution)
        self.memory_format = (
            torch.channels_last if config.channels_last else torch.contiguous_format
        )
        model.to(memory_format=self.memory_format)
        self.model, self.optimizer, loader = self.accelerator.prepare(
            model, self.adam(model), loader
        )
        self.discriminator = self.discriminator_optimizer = None
        if config.uses_discriminator:
            discriminator = PatchDiscriminator().to(memory_format=self.memory_format)
            self.discriminator, self.discriminator_optimizer = self.accelerator.prepare(
                discriminator, self.adam(discriminator)
            )
        self.regressor = None
        if config.regressor is not None:
            self.regressor = RegressorLoss(config.regressor).to(self.accelerator.device)

        self.step, loader = runs.resume(
            self.accelerator,
            self.out,
            loader,
            config.optimizer.gradient_accumulation_steps,
            streamed=config.steps_on_run_pairs,
        )
        checkpoint = runs.latest_checkpoint(self.out)
        self.earlier_seconds = runs.checkpoint_state(checkpoint)["seconds"] if checkpoint else 0.0
        self.start_history = self.history_before_run()
        # the run's pairs stream through every stage that keeps them; a stage with pairs of its
        # own streams them from its start (:meth:`batches_of`)
        self.batches, self.streaming = iter(loader), None

    def history_before_run(self) -> History:
        """How the weights the run starts from were made: the history of the adapter it trains
        further (``model.lora.init``), else of ``model.init_weights``; read when the run
        starts and kept in its folder (``start/``), so that weights published over its start
        later do not enter its history twice."""
        kept = self.out / START_HISTORY
        if (kept / HISTORY_FILE).is_file():
            return read_history(kept)
        model = self.config.model
        start = model.lora.init if model.lora is not None and model.lora.init else None
        history = read_history(start or model.init_weights)
        if self.accelerator.is_main_process:
            kept.mkdir(parents=True, exist_ok=True)
            history.write(kept)
        return history

    def pair_dataset(self, pairs: PairConfig) -> PairDataset:
        """The training pairs of ``pairs`` from the train split, decoded at the run's size."""
        config = self.config
        chosen = training_pairs(
            self.train_split,
            config.data,
            pairs.source_groups,
            pairs.target_groups,
            config.seed,
            pairs.same_pair,
        )
        return PairDataset(
            self.train_split, chosen, self.resolution, config.augment, config.augment_resampling
        )

    def next_batch(self, stage: Stage) -> dict[str, torch.Tensor]:
        """The next batch of ``stage``'s pairs (a stage with pairs of its own streams them from
        its start, seeded by its index, resumed at the step it reached)."""
        if stage.config.pairs is not None and self.streaming != stage.index:
            config, accumulation = self.config, self.config.optimizer.gradient_accumulation_steps
            seed = config.seed + 7907 * (stage.index + 1)
            loader = self.accelerator.prepare(
                seeded_loader(self.pair_dataset(stage.config.pairs), config.data, seed)
            )
            done = (self.step - stage.start) * accumulation
            self.stage_batches = iter(self.accelerator.skip_first_batches(loader, done))
            self.streaming = stage.index
        source = self.batches if stage.config.pairs is None else self.stage_batches
        return {
            k: v.contiguous(memory_format=self.memory_format) if v.ndim == 4 else v
            for k, v in next(source).items()
        }

    def adam(self, module: torch.nn.Module) -> torch.optim.Adam:
        parameters = [p for p in module.parameters() if p.requires_grad]
        optimizer = self.config.optimizer
        return torch.optim.Adam(parameters, lr=optimizer.learning_rate, betas=optimizer.betas)

    @property
    def stage(self) -> Stage:
        """The stage of the next update."""
        return self.config.stage_at(self.step)

    def train_step(self) -> dict[str, float]:
        """One optimizer update of the current stage (``gradient_accumulation_steps`` batches, at
        the stage's learning rate); the loss terms averaged over processes, and the rates.
        ``TrainingError`` if a term is not finite. In a critic stage only the discriminator
        learns."""
        self.model.train()
        stage = self.stage
        factor = stage.config.schedule.factor(self.step - stage.start, stage.config.steps)
        lr = runs.set_learning_rate(self.optimizer, self.config.optimizer.learning_rate * factor)
        critic_lr = runs.set_learning_rate(
            self.discriminator_optimizer, self.config.critic_rate * factor
        )
        critic_only = stage.config.trains == "critic"
        models = [m for m in (self.model, self.discriminator) if m is not None]
        for _ in range(self.config.optimizer.gradient_accumulation_steps):
            batch = self.next_batch(stage)
            with self.accelerator.accumulate(*models):
                if critic_only:
                    with torch.no_grad():
                        prediction = self.model(batch["source"], batch["pose"], full=True)
                    terms = self.discriminator_step(prediction, batch, stage)
                else:
                    terms = self.model_step(batch, stage)
        self.step += 1
        values = {
            name: float(self.accelerator.reduce(value.detach(), "mean"))
            for name, value in terms.items()
        }
        runs.check_finite(values, self.step, self.out)
        rates = {"lr": 0.0 if critic_only else lr}  # the model's: frozen in a critic stage
        if self.discriminator is not None:
            rates["discriminator_lr"] = critic_lr
        return {**values, **rates}

    def model_step(self, batch: dict[str, torch.Tensor], stage: Stage) -> dict[str, torch.Tensor]:
        """The model's update on ``batch`` (then the discriminator's, when the stage's loss uses
        it); the loss terms."""
        trains = stage.config.trains
        expression = {"morpher": "alone", "end_to_end": "first"}.get(trains)
        full = trains != "warp"
        prediction = self.model(batch["source"], batch["pose"], full=full, expression=expression)
        critic = None
        if trains == "morpher":
            box = self.accelerator.unwrap_model(self.model).expression_morpher.crop_box(
                *batch["source"].shape[-2:]
            )
            terms = morpher_losses(prediction, batch, stage.loss, box)
        else:
            uses_critic = prediction.image is not None and stage.loss.uses_discriminator
            critic = self.frozen_discriminator() if uses_critic else None
            regressor = self.regressor if stage.loss.regressor_expression else None
            terms = compute_losses(prediction, batch, stage.loss, critic, regressor)
        self.accelerator.backward(terms["total"])
        self.optimizer.step()
        self.optimizer.zero_grad()
        if critic is not None:
            terms.update(self.discriminator_step(prediction, batch, stage))
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
        self, prediction: Prediction, batch: dict[str, torch.Tensor], stage: Stage
    ) -> dict[str, torch.Tensor]:
        """The stage's ``critic_updates`` updates of the discriminator (hinge loss: the target real,
        the output fake, both with the target pose; with ``loss.generated_adversarial`` AniMo's
        generated image is a second fake, its patches counted with the output's). Returns the
        first update's loss and ``discriminator_gap``, the mean real logit minus the mean fake
        one (what the model last trained against): the loss averages over every patch, and
        where output and target are the same (the background, most of a frontal face) no
        critic can do better than 2, so the gap is what shows it learning."""
        self.accelerator.unwrap_model(self.discriminator).train().requires_grad_(True)
        judged = judged_images(prediction, stage.loss).values()
        fakes = torch.cat([image.detach() for image, _ in judged])
        fake_poses = batch["pose"].repeat(len(fakes) // len(batch["pose"]), 1)
        terms = {}
        for update in range(stage.critic_updates):
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
        trains = self.config.stage_at(self.step - 1).config.trains
        sample_grid(model, batch, "full" if trains == "critic" else trains).save(path)
        return path

    def save(self, seconds: float) -> None:
        """A checkpoint at this step, and the weights (and adapter) with their history."""
        keep = self.config.checkpoints.keep_checkpoints
        runs.save_checkpoint(self.accelerator, self.out, self.step, keep, seconds)
        if self.accelerator.is_main_process:
            model = self.accelerator.unwrap_model(self.model)
            history = self.history(seconds)

            def save_weights(save, folder: Path) -> None:
                save(folder)
                history.write(folder)

            runs.export_weights(lambda f: save_weights(model.save, f), self.out / "weights")
            if self.config.model.lora is not None:
                runs.export_weights(lambda f: save_weights(model.save_lora, f), self.out / "lora")

    def history(self, seconds: float) -> History:
        """The history of the weights at this step: that of ``model.init_weights``, then this
        run's stages up to this step (the last one as far as it went), with their training
        time and machine from the metrics log's stage-end records."""
        ended = {}
        metrics = self.out / runs.METRICS_FILE
        if metrics.is_file():
            for line in metrics.read_text(encoding="utf-8").splitlines():
                record = json.loads(line)
                if record.get(STAGE_END):
                    ended[record["stage"]] = record
        config, stages, before = self.config, [], 0.0
        for stage in config.run_stages():
            if stage.start >= self.step:
                break
            record = ended.get(stage.index)
            until = record["train_seconds"] if record else seconds
            stages.append(
                stage_record(
                    self.out.name,
                    config.to_dict(),
                    name=stage.label,
                    trains=stage.config.trains,
                    start=stage.start,
                    steps=min(stage.end, self.step) - stage.start,
                    learning_rate=(
                        config.critic_rate
                        if stage.config.trains == "critic"
                        else config.optimizer.learning_rate
                    ),
                    schedule=stage.config.schedule.to_dict(),
                    loss=stage.loss.to_dict(),
                    data=self.data_summary[0],
                    licences=self.data_summary[1],
                    resolution=self.resolution,
                    seconds=until - before,
                    machine=record["machine"] if record else runs.machine(),
                )
            )
            before = until
        return self.start_history.then(stages)

    def run(self) -> Path:
        """Train to the end of the last stage, logging, sampling and checkpointing on the way
        (every stage's last update too); returns the folder of the exported weights."""
        config, main_process = self.config, self.accelerator.is_main_process
        per_step = config.data.batch_size * config.optimizer.gradient_accumulation_steps
        every = config.checkpoints
        with runs.RunLog(
            self.out,
            main_process,
            total=config.total_steps,
            initial=self.step,
            desc=f"train {config.model.name}",
            seconds=self.earlier_seconds,
        ) as log:
            while self.step < config.total_steps:
                stage = self.stage  # of the step about to be taken
                values = self.train_step()
                log.stepped(per_step * self.accelerator.num_processes)
                ended = self.step == stage.end
                if self.step % every.log_every == 0 or ended:
                    record = {"step": self.step, "stage": stage.index, **values}
                    shown = values.get("total", values.get("discriminator"))
                    log.train_record(record, shown, stage=stage.label)
                if ended:
                    log.write(
                        {
                            "step": self.step,
                            STAGE_END: True,
                            "stage": stage.index,
                            "train_seconds": round(log.seconds, 3),
                            "machine": runs.machine(),
                        }
                    )
                if main_process and (self.step % config.sample_every == 0 or ended):
                    self.save_samples()
                if self.step % every.checkpoint_every == 0 or ended:
                    self.save(log.seconds)
        self.accelerator.end_training()
        return self.out / "weights"


def train(config: TrainConfig) -> Path:
    """Run (or resume) training; returns the folder of the exported weights."""
    return Trainer(config).run()


def remake(history: Path, overrides: dict[str, Any]) -> Path:
    """Train each run of the ``training_history.json`` at ``history`` in order, each as its
    stages record its config (with dotted ``overrides``, e.g. ``checkpoints.output_dir`` is
    best left alone: later runs start from earlier runs' folders), each resumable in its own
    folder; returns the last run's weights."""
    configs: dict[str, dict[str, Any]] = {}
    for stage in read_history(history.parent).stages:
        configs.setdefault(stage["run"], stage["config"])
    if not configs:
        raise ValueError(f"{history}: no stages to train")
    weights = history.parent
    for run, data in configs.items():
        for key, value in overrides.items():
            apply_override(data, key, value)
        weights = train(TrainConfig.from_dict(data, where=f"{history} (run {run})"))
    return weights


def main(argv: list[str] | None = None) -> int:
    """Console entry: 0 on success, 2 with one ``error: ...`` line on bad input."""
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = argparse.ArgumentParser(prog="animeceleb-train", description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", type=Path, help="a YAML file of TrainConfig, or a history")
    known, rest = parser.parse_known_args(argv)
    if known.config is not None and known.config.name == HISTORY_FILE:
        return runs.report_cli(lambda: remake(known.config, parse_overrides(rest)))
    return runs.run_cli(argv, TrainConfig, train, prog="animeceleb-train", description=__doc__)


if __name__ == "__main__":
    sys.exit(main())
