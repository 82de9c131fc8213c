"""Train the pose regressor (``training.regressor``) with ``accelerate`` on single images of the
train split, and evaluate it on held-out identities (the test split).

    animeceleb-train-regressor --dataset outputs/animeceleb-500/hub [--max_steps 500 ...]
    animeceleb-train-regressor --config regressor.yaml --output_dir outputs/regressor
    accelerate launch -m training.train_regressor --config regressor.yaml  # several processes

Every image of the chosen groups (basis, frontal, rotated) and styles is a sample, labelled with
its pose; colour jitter only (a geometric augmentation would change the angle labels). The loss is
MSE (or smooth L1) on normalised targets (expressions as they are, angles / 20); Adam with a short
warm-up and a cosine decay. A run folder (``training.runs``) holds ``config.json``,
``checkpoints/step-NNNNNNN/``, ``metrics.jsonl`` (training records, and the test-split evaluation
every ``eval_every`` steps), ``evaluation.json`` / ``evaluation.md`` (the final per-dimension
errors on held-out identities, ``training.regressor_eval``) and ``weights/`` (``save_pretrained``
folder with a model card, ``training.regressor_card``). Running the same command again resumes
from the last checkpoint.
"""

from __future__ import annotations

import json
import platform
import sys
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from huggingface_hub import ModelCard
from transformers import ResNetForImageClassification

from animeceleb.pose import ANGLE_SLICE, EXPRESSION_DIM
from animeceleb.sampling import GROUPS
from dataset_builder.files import write_atomic

from . import runs
from .config import (
    RunConfig,
    check_choice,
    check_non_negative,
    check_positive,
    check_subset,
    config_error,
    is_int,
    is_number,
)
from .data import PoseImageDataset, load_split, seeded_loader, select_rows
from .regressor import (
    DEFAULT_DEPTHS,
    DEFAULT_EMBEDDING_SIZE,
    DEFAULT_HIDDEN_SIZES,
    DEFAULT_LAYER_TYPE,
    build_regressor,
    normalize_poses,
    pose_scale,
)
from .regressor_card import regressor_model_card
from .regressor_eval import evaluate_regressor, evaluation_record, write_evaluation

LOSSES = ("mse", "smooth_l1")
LAYER_TYPES = ("basic", "bottleneck")
SMOOTH_L1_BETA = 0.05  # in normalised units: 1° of angle, 0.05 of an expression
CONFIG_FILE = "training_config.json"  # beside the weights: the card's retrain command reads it


@dataclass
class RegressorConfig(RunConfig):
    """Everything that determines a regressor training run.

    Attributes (and those every :class:`training.config.RunConfig` has):
        dataset: its ``train`` split trains, its ``test`` split (held-out identities) evaluates.
        output_dir: checkpoints, logs, evaluation and the exported weights go here.
        resolution: training image size (a multiple of 16, at least 32); stored in the model.
        styles: the styles to train and evaluate on (``None``: every style in the data).
        groups: the image groups to train and evaluate on (basis, frontal, rotated).
        embedding_size, hidden_sizes, depths, layer_type: the ResNet (``ResNetConfig``).
        batch_size: images per step and process; max_steps: optimizer updates in all.
        learning_rate, betas: Adam; lr_schedule: ``cosine`` (to 0 at ``max_steps``, over the
            last ``decay_steps``, ``None``: all) or ``constant``, after a linear warm-up of
            ``warmup_steps``.
        loss: ``mse`` or ``smooth_l1`` on the normalised targets.
        color_jitter: brightness, contrast and saturation x U(1 - j, 1 + j) (0: off);
            hue_jitter: hue rotation by U(-h, h) turns (0: off).
        seed: seeds the model, the data order and the jitter.
        torch_threads: 1 by default: on the busy 2-core machine the default model trained at
            ~100 samples/s on one thread and at ~16 on two (the thread pool waits for a core
            that another process holds).
        num_workers: 1 by default: decodes on the other core while the step runs.
        eval_every: evaluate on the test split every so many steps (0: only at the end);
            eval_batch_size: images per evaluation batch.
    """

    MIN_RESOLUTION = 32

    dataset: str | tuple[str, ...] = ""
    output_dir: str = "outputs/regressor"
    resolution: int = 128
    styles: tuple[str, ...] | None = None
    groups: tuple[str, ...] = GROUPS
    embedding_size: int = DEFAULT_EMBEDDING_SIZE
    hidden_sizes: tuple[int, ...] = DEFAULT_HIDDEN_SIZES
    depths: tuple[int, ...] = DEFAULT_DEPTHS
    layer_type: str = DEFAULT_LAYER_TYPE
    batch_size: int = 32
    max_steps: int = 20_000
    learning_rate: float = 1e-3
    betas: tuple[float, float] = (0.9, 0.999)
    lr_schedule: str = "cosine"
    warmup_steps: int = 200
    decay_steps: int | None = None
    loss: str = "mse"
    color_jitter: float = 0.15
    hue_jitter: float = 0.05
    seed: int = 0
    torch_threads: int | None = 1
    num_workers: int = 1
    log_every: int = 20
    eval_every: int = 2000
    eval_batch_size: int = 64
    checkpoint_every: int = 500
    keep_checkpoints: int = 2

    def validate(self) -> None:
        super().validate()
        check_subset("groups", self.groups, GROUPS)
        check_positive("embedding_size", self.embedding_size)
        for name in ("hidden_sizes", "depths"):
            value = getattr(self, name)
            if not isinstance(value, tuple) or not value or not all(is_int(v) for v in value):
                config_error(name, value, "a non-empty list of positive integers")
            if not all(v >= 1 for v in value):
                config_error(name, value, "a non-empty list of positive integers")
        if len(self.hidden_sizes) != len(self.depths):
            expected = f"one depth per hidden size ({len(self.hidden_sizes)})"
            config_error("depths", self.depths, expected)
        check_choice("layer_type", self.layer_type, LAYER_TYPES)
        check_positive("eval_batch_size", self.eval_batch_size)
        check_non_negative("eval_every", self.eval_every)
        check_choice("loss", self.loss, LOSSES)
        for name, unit in (("color_jitter", ""), ("hue_jitter", " (turns)")):
            value = getattr(self, name)
            if not is_number(value) or not 0.0 <= value <= 0.5:
                config_error(name, value, f"a number in [0, 0.5]{unit}")


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
        self.out = Path(config.output_dir)
        self.accelerator = runs.start_run(config)

        train_rows = load_split(config.dataset)
        indices = select_rows(train_rows, config.styles, config.groups)
        self.dataset = PoseImageDataset(
            train_rows, indices, config.resolution, config.color_jitter, config.hue_jitter
        )
        loader = seeded_loader(self.dataset, config)
        model = build_regressor(
            embedding_size=config.embedding_size,
            hidden_sizes=config.hidden_sizes,
            depths=config.depths,
            layer_type=config.layer_type,
            image_size=config.resolution,
            seed=config.seed,
        )
        optimizer = torch.optim.Adam(
            model.parameters(), lr=config.learning_rate, betas=config.betas
        )
        self.model, self.optimizer, loader = self.accelerator.prepare(model, optimizer, loader)
        self.step, loader = runs.resume(self.accelerator, self.out, loader)
        self.batches = iter(loader)

    @property
    def unwrapped(self) -> ResNetForImageClassification:
        return self.accelerator.unwrap_model(self.model)

    def train_step(self) -> dict[str, float]:
        """One optimizer update; the loss, learning rate and the batch's mean angle (degrees)
        and expression errors, averaged over processes. ``TrainingError`` if the loss is not
        finite."""
        self.model.train()
        lr = runs.set_learning_rate(self.config, self.step, self.optimizer)
        batch = next(self.batches)
        outputs = self.model(pixel_values=batch["image"]).logits
        targets = normalize_poses(batch["pose"], self.unwrapped)
        loss = regression_loss(outputs, targets, self.config.loss)
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
        return evaluate_regressor(
            self.unwrapped,
            self.config.dataset,
            "test",
            styles=self.config.styles,
            groups=self.config.groups,
            batch_size=self.config.eval_batch_size,
            num_workers=self.config.num_workers,
            progress=progress,
        )

    def hardware(self) -> str:
        device = self.accelerator.device
        name = torch.cuda.get_device_name(device) if device.type == "cuda" else platform.machine()
        return (
            f"{self.accelerator.num_processes} process(es) on {device.type} ({name}), "
            f"{torch.get_num_threads()} threads each, torch {torch.__version__}"
        )

    def save(self, evaluation: dict[str, Any] | None = None) -> None:
        """A checkpoint, and the weights with their model card in ``weights/``."""
        runs.save_checkpoint(self.accelerator, self.out, self.step, self.config.keep_checkpoints)
        if self.accelerator.is_main_process:
            model = self.unwrapped
            card = regressor_model_card(
                model, self.config, steps=self.step, hardware=self.hardware(), evaluation=evaluation
            )

            runs.export_weights(
                partial(write_regressor_folder, model=model, card=card, config=self.config),
                self.out / "weights",
            )
        self.accelerator.wait_for_everyone()

    def run(self) -> Path:
        """Train to ``max_steps`` (logging, evaluating and checkpointing on the way), evaluate on
        the test split, write ``evaluation.json`` / ``.md`` and export the weights; returns the
        folder of the exported weights."""
        config, main_process = self.config, self.accelerator.is_main_process
        with runs.RunLog(
            self.out, main_process, total=config.max_steps, initial=self.step, desc="regressor"
        ) as log:
            while self.step < config.max_steps:
                values = self.train_step()
                log.stepped(config.batch_size * self.accelerator.num_processes)
                last = self.step == config.max_steps
                if self.step % config.log_every == 0 or last:
                    log.train_record({"step": self.step, **values}, values["loss"])
                if config.eval_every and self.step % config.eval_every == 0 and not last:
                    if main_process:
                        log.write(evaluation_record(self.step, self.evaluate()))
                    self.accelerator.wait_for_everyone()
                if self.step % config.checkpoint_every == 0 and not last:
                    self.save()
            evaluation = None
            if main_process:
                evaluation = self.evaluate(progress=True)
                log.write(evaluation_record(self.step, evaluation))
                write_evaluation(evaluation, self.out)
            self.save(evaluation)
        self.accelerator.end_training()
        return self.out / "weights"


def write_regressor_folder(
    folder: Path, *, model: ResNetForImageClassification, card: ModelCard, config: RegressorConfig
) -> None:
    """A shipped regressor folder: the weights (``save_pretrained``), the model card and the run's
    config (``training_config.json``, which the card's retrain command reads)."""
    model.save_pretrained(folder)
    card.save(folder / "README.md")
    write_atomic(folder / CONFIG_FILE, json.dumps(config.to_dict(), indent=1))


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
