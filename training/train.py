"""Train AniMo (or the PIRenderer-style baseline) with ``accelerate``: the same script on this CPU
and, unchanged, under ``accelerate launch`` on several processes or GPUs.

    animeceleb-train --config configs/animo.yaml [--max_steps 500 --loss.ssim 0.5 ...]
    accelerate launch --multi_gpu --num_processes 2 -m training.train --config ...  # 2 GPUs
    ACCELERATE_USE_CPU=true accelerate launch --multi_gpu --num_processes 2 -m training.train ...
        # 2 CPU processes (torch.distributed with gloo)

A run folder holds ``config.json``, ``checkpoints/step-NNNNNNN/`` (``accelerate`` state: models,
optimizer, RNG states, plus ``trainer_state.json``), ``metrics.jsonl``, ``samples/step-NNNNNNN.png``
(source, target, output, warped source) and ``weights/`` (the latest weights in Hub layout).
Running the same command again resumes from the last checkpoint at the same step.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import shutil
import sys
import time
from pathlib import Path

import numpy as np
import PIL.Image
import torch
import yaml
from accelerate import Accelerator, PartialState
from accelerate.utils import DistributedDataParallelKwargs, set_seed
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

from animo_hf.models.layers import warp

from .config import TrainConfig
from .data import PairDataset, SeededPairSampler, load_train_split, training_pairs
from .losses import flow_smoothness, multiscale_l1, ssim_loss
from .models import Prediction, build_model

logger = logging.getLogger("training")
CHECKPOINTS = "checkpoints"
STATE_FILE = "trainer_state.json"
SAMPLE_PAIRS = 4


class TrainingError(RuntimeError):
    """Training cannot go on (a non-finite loss); the message names the step."""


def compute_losses(
    prediction: Prediction, batch: dict[str, torch.Tensor], config: TrainConfig
) -> dict[str, torch.Tensor]:
    """Named loss terms and their weighted ``total``. The warped source is compared with the
    target always, the generated image too once the whole model trains."""
    weights = config.loss
    outputs = {"warp": prediction.warped}
    if prediction.image is not None:
        outputs["image"] = prediction.image
    terms: dict[str, torch.Tensor] = {}
    weighted = []
    for prefix, output in outputs.items():
        terms[f"{prefix}_l1"] = multiscale_l1(output, batch["target"])
        weighted.append(weights.l1 * terms[f"{prefix}_l1"])
        if weights.ssim:
            terms[f"{prefix}_ssim"] = ssim_loss(output, batch["target"])
            weighted.append(weights.ssim * terms[f"{prefix}_ssim"])
    if weights.flow_smoothness:
        terms["flow_smoothness"] = flow_smoothness(prediction.flow)
        weighted.append(weights.flow_smoothness * terms["flow_smoothness"])
    if weights.alpha:
        warped_alpha = warp(batch["source_alpha"], prediction.flow)
        terms["alpha"] = (warped_alpha - batch["target_alpha"]).abs().mean()
        weighted.append(weights.alpha * terms["alpha"])
    terms["total"] = torch.stack(weighted).sum()
    return terms


def prepare_run_dir(out: Path, config: TrainConfig) -> None:
    """Create ``out`` with ``config.json``, or check that it holds this same run (to resume)."""
    saved = out / "config.json"
    wanted = config.to_dict()
    if saved.exists():
        existing = json.loads(saved.read_text())
        if existing != wanted:
            changed = sorted(k for k in wanted if existing.get(k) != wanted[k])
            raise ValueError(
                f"{out} holds a run with a different config (fields {changed} differ); "
                "use another output_dir or the same config to resume"
            )
        return
    out.mkdir(parents=True, exist_ok=True)
    (out / CHECKPOINTS).mkdir(exist_ok=True)
    _write_atomic(saved, json.dumps(wanted, indent=1, sort_keys=True))


def latest_checkpoint(out: Path) -> Path | None:
    done = sorted((out / CHECKPOINTS).glob("step-*/" + STATE_FILE))
    return done[-1].parent if done else None


def save_checkpoint(accelerator: Accelerator, out: Path, step: int, keep: int) -> Path:
    """``accelerate`` state plus the step, written under a temporary name and renamed."""
    final = out / CHECKPOINTS / f"step-{step:07d}"
    tmp = final.with_name(f".{final.name}.tmp")
    if accelerator.is_main_process:
        shutil.rmtree(tmp, ignore_errors=True)
    accelerator.wait_for_everyone()
    accelerator.save_state(str(tmp))
    accelerator.wait_for_everyone()  # every process has written its RNG state
    if accelerator.is_main_process:
        (tmp / STATE_FILE).write_text(json.dumps({"step": step}))
        shutil.rmtree(final, ignore_errors=True)
        os.replace(tmp, final)
        for old in sorted((out / CHECKPOINTS).glob("step-*"))[:-keep]:
            shutil.rmtree(old, ignore_errors=True)
    accelerator.wait_for_everyone()
    return final


def export_weights(model: torch.nn.Module, folder: Path) -> None:
    """The model's weights in Hub layout at ``folder``, replaced only once complete."""
    tmp = folder.with_name(f".{folder.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    model.save(tmp)
    old = folder.with_name(f".{folder.name}.old")
    if folder.exists():
        shutil.rmtree(old, ignore_errors=True)
        os.replace(folder, old)
    os.replace(tmp, folder)
    shutil.rmtree(old, ignore_errors=True)


def sample_grid(model, batch: dict[str, torch.Tensor], full: bool) -> PIL.Image.Image:
    """Rows: source, target, output (the warped source on the warping path), warped source."""
    with torch.no_grad():
        prediction = model(batch["source"], batch["pose"], full=full)
    output = prediction.image if prediction.image is not None else prediction.warped
    rows = [batch["source"], batch["target"], output, prediction.warped]
    grid = torch.cat([torch.cat(list(row.float().cpu()), dim=2) for row in rows], dim=1)
    array = ((grid.clamp(-1, 1) + 1) * 127.5).round().byte().permute(1, 2, 0).numpy()
    return PIL.Image.fromarray(np.ascontiguousarray(array))


class Trainer:
    """One run: the accelerator, the data stream, the model and its optimizer, resumed from the
    run folder's last checkpoint when there is one."""

    def __init__(self, config: TrainConfig) -> None:
        self.config = config
        self.out = Path(config.output_dir)
        self.accelerator = Accelerator(
            gradient_accumulation_steps=config.gradient_accumulation_steps,
            # the editing network sits out the warping phase: DDP must not wait for its grads
            kwargs_handlers=[DistributedDataParallelKwargs(find_unused_parameters=True)],
        )
        if self.accelerator.is_main_process:
            prepare_run_dir(self.out, config)
        self.accelerator.wait_for_everyone()
        set_seed(config.seed)
        if config.torch_threads is not None:
            torch.set_num_threads(config.torch_threads)

        train_split = load_train_split(config.dataset)
        pairs = training_pairs(train_split, config)
        dataset = PairDataset(train_split, pairs, config)
        loader = DataLoader(
            dataset,
            batch_size=config.batch_size,
            sampler=SeededPairSampler(len(pairs), config.seed),
            num_workers=config.num_workers,
            drop_last=True,
        )
        fixed_sampler = SeededPairSampler(len(pairs), config.seed + 1)
        self.fixed = next(iter(DataLoader(dataset, SAMPLE_PAIRS, sampler=fixed_sampler)))
        model = build_model(config.model, config.seed)
        parameters = [p for p in model.parameters() if p.requires_grad]
        optimizer = torch.optim.Adam(parameters, lr=config.learning_rate, betas=config.betas)
        self.model, self.optimizer, loader = self.accelerator.prepare(model, optimizer, loader)

        self.step = 0
        checkpoint = latest_checkpoint(self.out)
        if checkpoint is not None:
            self.accelerator.load_state(str(checkpoint))
            self.step = json.loads((checkpoint / STATE_FILE).read_text())["step"]
            skip = self.step * config.gradient_accumulation_steps
            loader = self.accelerator.skip_first_batches(loader, skip)
            logger.info("resumed from %s at step %d", checkpoint, self.step)
        self.batches = iter(loader)

    @property
    def full(self) -> bool:
        """Whether the whole model trains (after the warping path's share of the steps)."""
        return self.step >= self.config.warp_only_steps

    def train_step(self) -> dict[str, float]:
        """One optimizer update (``gradient_accumulation_steps`` batches); the loss terms,
        averaged over processes. ``TrainingError`` if any is not finite."""
        self.model.train()
        for _ in range(self.config.gradient_accumulation_steps):
            batch = next(self.batches)
            with self.accelerator.accumulate(self.model):
                prediction = self.model(batch["source"], batch["pose"], full=self.full)
                terms = compute_losses(prediction, batch, self.config)
                self.accelerator.backward(terms["total"])
                self.optimizer.step()
                self.optimizer.zero_grad()
        self.step += 1
        values = {
            name: float(self.accelerator.reduce(value.detach(), "mean"))
            for name, value in terms.items()
        }
        if not all(math.isfinite(v) for v in values.values()):
            last = latest_checkpoint(self.out)
            raise TrainingError(
                f"step {self.step}: non-finite loss {values}; stopped, the last good checkpoint "
                f"is {last or 'none (no checkpoint yet)'}"
            )
        return values

    def save_samples(self) -> Path:
        model = self.accelerator.unwrap_model(self.model)
        model.eval()
        batch = {k: v.to(self.accelerator.device) for k, v in self.fixed.items()}
        path = self.out / "samples" / f"step-{self.step:07d}.png"
        path.parent.mkdir(exist_ok=True)
        sample_grid(model, batch, self.full).save(path)
        return path

    def save(self) -> None:
        save_checkpoint(self.accelerator, self.out, self.step, self.config.keep_checkpoints)
        if self.accelerator.is_main_process:
            export_weights(self.accelerator.unwrap_model(self.model), self.out / "weights")

    def run(self) -> Path:
        """Train to ``max_steps``, logging, sampling and checkpointing on the way; returns the
        folder of the exported weights."""
        config, main_process = self.config, self.accelerator.is_main_process
        log = (self.out / "metrics.jsonl").open("a", encoding="utf-8") if main_process else None
        bar = tqdm(
            total=config.max_steps,
            initial=self.step,
            disable=not main_process,
            desc=f"train {config.model}",
        )
        started, samples = time.perf_counter(), 0
        per_step = config.batch_size * config.gradient_accumulation_steps
        try:
            while self.step < config.max_steps:
                values = self.train_step()
                samples += per_step * self.accelerator.num_processes
                bar.update(1)
                last = self.step == config.max_steps
                if log is not None and (self.step % config.log_every == 0 or last):
                    rate = samples / max(time.perf_counter() - started, 1e-9)
                    phase = "full" if self.full else "warp"
                    record = {"step": self.step, "phase": phase, **values}
                    log.write(json.dumps({**record, "samples_per_s": round(rate, 2)}) + "\n")
                    log.flush()
                    bar.set_postfix(loss=f"{values['total']:.4f}", phase=phase)
                if main_process and (self.step % config.sample_every == 0 or last):
                    self.save_samples()
                if self.step % config.checkpoint_every == 0 or last:
                    self.save()
        finally:
            bar.close()
            if log is not None:
                log.close()
        self.accelerator.end_training()
        return self.out / "weights"


def train(config: TrainConfig) -> Path:
    """Run (or resume) training; returns the folder of the exported weights."""
    return Trainer(config).run()


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f"{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def parse_args(argv: list[str] | None = None) -> TrainConfig:
    """``--config FILE`` and ``--field value`` overrides (values read as YAML: numbers, lists)."""
    parser = argparse.ArgumentParser(prog="animeceleb-train", description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", type=Path, help="a YAML file of TrainConfig fields")
    known, rest = parser.parse_known_args(argv)
    if len(rest) % 2 or not all(key.startswith("--") for key in rest[::2]):
        raise ValueError(f"overrides: expected --field value pairs, got {rest}")
    overrides = {
        key[2:].replace("-", "_"): yaml.safe_load(value)
        for key, value in zip(rest[::2], rest[1::2], strict=True)
    }
    if known.config is not None:
        return TrainConfig.from_yaml(known.config, **overrides)
    return TrainConfig.from_dict(overrides, where="command line")


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    try:
        config = parse_args(argv)
        weights = train(config)
    except (ValueError, OSError, TrainingError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if PartialState().is_main_process:
        print(f"weights written to {weights}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
