"""Train the pose regressor with accelerate on single images of a dataset's train split, and
evaluate it on held-out identities (the test split).

    animeceleb-train-regressor --data.dataset outputs/animeceleb-500/hub [--steps 500 ...]
    animeceleb-train-regressor --config regressor.yaml --checkpoints.output_dir outputs/regressor
    accelerate launch -m training.regressor.train --config regressor.yaml  # several processes

The model is :mod:`.modeling_regressor`, the config
:class:`.configuration_regressor.RegressorConfig` (``--field value`` overrides by dotted name).
Every image of the chosen groups (basis, frontal, rotated) and styles is a sample, labelled with
its pose; colour jitter only (a geometric augmentation would change the angle labels). The loss
is MSE (or smooth L1) on normalised targets (expressions as they are, angles / 20); Adam with a
short warm-up and a cosine decay. A run folder (``training.runs``) holds ``config.json``,
``checkpoints/step-NNNNNNN/``, ``metrics.jsonl`` (training records, the test-split evaluation
every ``eval_every`` steps and the run's end record), ``evaluation.json`` / ``evaluation.md`` (the
final per-dimension errors on held-out identities, :mod:`.evaluate`) and ``weights/``
(``save_pretrained`` folder with a model card, :mod:`.card`, and the run's config). Running the
same command again resumes from the last checkpoint.
"""

from __future__ import annotations

import sys
from functools import partial
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from transformers import ResNetForImageClassification

from animeceleb.pose import ANGLE_SLICE, EXPRESSION_DIM

from .. import runs
from ..data import (
    PoseImageDataset,
    data_summary,
    load_split,
    run_resolution,
    seeded_loader,
    select_rows,
)
from ..history import STAGE_END, History, stage_record
from .card import regressor_model_card, write_regressor_folder
from .configuration_regressor import RegressorConfig, RegressorDataConfig
from .evaluate import evaluate_regressor, evaluation_record, write_evaluation
from .modeling_regressor import build_regressor, normalize_poses, pose_scale

SMOOTH_L1_BETA = 0.05  # in normalised units: 1° of angle, 0.05 of an expression


def regression_loss(outputs: torch.Tensor, targets: torch.Tensor, kind: str) -> torch.Tensor:
    """``mse`` or ``smooth_l1`` (beta 0.05) between normalised outputs and targets (N, 20)."""
    if kind == "mse":
        return F.mse_loss(outputs, targets)
    return F.smooth_l1_loss(outputs, targets, beta=SMOOTH_L1_BETA)


class RegressorTrainer:
    """One run: the accelerator, the image stream, the regressor and its optimizer, resumed from
    the run folder's last checkpoint when there is one."""

    def __init__(self, config: RegressorConfig) -> None:
        self.config = config
        self.out = config.output_dir
        self.accelerator = runs.start_run(config)

        data = config.data
        train_rows = load_split(data.dataset)
        self.resolution = run_resolution(data, train_rows)
        least = RegressorDataConfig.MIN_RESOLUTION
        if self.resolution < least:
            raise ValueError(
                f"dataset {data.dataset!r}: {self.resolution}² images; the regressor needs at "
                f"least {least}² (set data.resolution and data.resize: true)"
            )
        indices = select_rows(train_rows, data.styles, config.groups)
        self.data_summary = data_summary(train_rows, data)
        self.dataset = PoseImageDataset(
            train_rows, indices, self.resolution, config.color_jitter, config.hue_jitter
        )
        loader = seeded_loader(self.dataset, data, config.seed)
        model = build_regressor(
            **config.model.to_dict(), image_size=self.resolution, seed=config.seed
        )
        optimizer = torch.optim.Adam(
            model.parameters(), lr=config.optimizer.learning_rate, betas=config.optimizer.betas
        )
        self.model, self.optimizer, loader = self.accelerator.prepare(model, optimizer, loader)
        self.step, loader = runs.resume(self.accelerator, self.out, loader)
        self.batches = iter(loader)
        checkpoint = runs.latest_checkpoint(self.out)
        self.earlier_seconds = runs.checkpoint_state(checkpoint)["seconds"] if checkpoint else 0.0

    @property
    def unwrapped(self) -> ResNetForImageClassification:
        return self.accelerator.unwrap_model(self.model)

    def train_step(self) -> dict[str, float]:
        """One optimizer update; the loss, learning rate and the batch's mean angle (degrees)
        and expression errors, averaged over processes. ``TrainingError`` if the loss is not
        finite."""
        self.model.train()
        config = self.config
        factor = config.schedule.factor(self.step, config.steps)
        lr = runs.set_learning_rate(self.optimizer, config.optimizer.learning_rate * factor)
        batch = next(self.batches)
        outputs = self.model(pixel_values=batch["image"]).logits
        targets = normalize_poses(batch["pose"], self.unwrapped)
        loss = regression_loss(outputs, targets, config.loss)
        self.accelerator.backward(loss)
        self.optimizer.step()
        self.optimizer.zero_grad()
        self.step += 1
        with torch.no_grad():
            errors = ((outputs.detach() - targets).abs() * pose_scale(self.unwrapped)).mean(0)
            terms = {
                "loss": loss.detach(),
                "angle_mae_deg": errors[ANGLE_SLICE].mean(),
                "expression_mae": errors[:EXPRESSION_DIM].mean(),
            }
        values = {k: float(self.accelerator.reduce(v, "mean")) for k, v in terms.items()}
        runs.check_finite(values, self.step, self.out)
        return {**values, "lr": lr}

    def evaluate(self, progress: bool = False) -> dict[str, Any]:
        """:func:`evaluate_regressor` on the test split (the config's styles and groups)."""
        config = self.config
        return evaluate_regressor(
            self.unwrapped,
            config.data.dataset,
            "test",
            styles=config.data.styles,
            groups=config.groups,
            batch_size=config.eval_batch_size,
            num_workers=config.data.num_workers,
            progress=progress,
        )

    def hardware(self) -> str:
        """The machine and how the run used it, for the model card."""
        return (
            f"{runs.machine()}; {self.accelerator.num_processes} process(es) on "
            f"{self.accelerator.device.type}, {torch.get_num_threads()} thread(s) each, "
            f"torch {torch.__version__}"
        )

    def save(self, seconds: float, evaluation: dict[str, Any] | None = None) -> None:
        """A checkpoint (with the run's training ``seconds`` so far), and the weights with their
        model card in ``weights/``."""
        keep = self.config.checkpoints.keep_checkpoints
        runs.save_checkpoint(self.accelerator, self.out, self.step, keep, seconds)
        if self.accelerator.is_main_process:
            model = self.unwrapped
            history = self.history(seconds)
            card = regressor_model_card(
                model,
                self.config,
                steps=self.step,
                hardware=self.hardware(),
                history=history,
                evaluation=evaluation,
            )

            write = partial(
                write_regressor_folder,
                model=model,
                card=card,
                config=self.config,
                history=history,
            )
            runs.export_weights(write, self.out / "weights")
        self.accelerator.wait_for_everyone()

    def history(self, seconds: float) -> History:
        """The weights' history at this step: the run as one stage."""
        config = self.config
        record = stage_record(
            self.out.name,
            config.to_dict(),
            name="pose regressor",
            trains="full",
            start=0,
            steps=self.step,
            learning_rate=config.optimizer.learning_rate,
            schedule=config.schedule.to_dict(),
            loss=config.loss,
            data=self.data_summary[0],
            licences=self.data_summary[1],
            resolution=self.resolution,
            seconds=seconds,
            machine=runs.machine(),
        )
        return History([record])

    def run(self) -> Path:
        """Train to ``steps`` updates (logging, evaluating and checkpointing on the way), evaluate
        on the test split, write ``evaluation.json`` / ``.md`` and export the weights; returns
        the folder of the exported weights."""
        config, main_process = self.config, self.accelerator.is_main_process
        every = config.checkpoints
        with runs.RunLog(
            self.out,
            main_process,
            total=config.steps,
            initial=self.step,
            desc="regressor",
            seconds=self.earlier_seconds,
        ) as log:
            while self.step < config.steps:
                values = self.train_step()
                log.stepped(config.data.batch_size * self.accelerator.num_processes)
                last = self.step == config.steps
                if self.step % every.log_every == 0 or last:
                    log.train_record({"step": self.step, **values}, values["loss"])
                if config.eval_every and self.step % config.eval_every == 0 and not last:
                    if main_process:
                        log.write(evaluation_record(self.step, self.evaluate()))
                    self.accelerator.wait_for_everyone()
                if self.step % every.checkpoint_every == 0 and not last:
                    self.save(log.seconds)
            evaluation = None
            if main_process:
                evaluation = self.evaluate(progress=True)
                log.write(evaluation_record(self.step, evaluation))
                write_evaluation(evaluation, self.out)
            # the run's end, as AniMo's trainer records a stage's: what publishing reads
            end = {"train_seconds": round(log.seconds, 3), "machine": runs.machine()}
            log.write({"step": self.step, STAGE_END: True, **end, "hardware": self.hardware()})
            self.save(log.seconds, evaluation)
        self.accelerator.end_training()
        return self.out / "weights"


def train_regressor(config: RegressorConfig) -> Path:
    """Run (or resume) training and the final evaluation; returns the exported weights' folder."""
    return RegressorTrainer(config).run()


def main(argv: list[str] | None = None) -> int:
    """Console entry: 0 on success, 2 with one ``error: ...`` line on bad input."""
    return runs.run_cli(
        argv,
        RegressorConfig,
        train_regressor,
        prog="animeceleb-train-regressor",
        description=__doc__,
        also_written={"evaluation": "evaluation.md"},
    )


if __name__ == "__main__":
    sys.exit(main())
