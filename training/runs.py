"""The run folder and the run's life, shared by every trainer: starting (threads, accelerator, seed,
``config.json``), resuming from the last checkpoint, checkpoints, the metrics log, exporting the
weights and the console entry point.

A run folder holds ``config.json``, ``checkpoints/step-NNNNNNN/`` (``accelerate`` state: models,
optimizer, RNG states, plus ``trainer_state.json``), ``metrics.jsonl`` and ``weights/``; running
the same command again resumes from the last checkpoint at the same step. A run resumed with a
changed config (a longer run, a cool-down) keeps the config each earlier stage trained with in
``stages.json``, so the commands that made its weights can be given in order.
"""

from __future__ import annotations

import json
import logging
import math
import os
import shutil
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from accelerate import Accelerator, PartialState
from accelerate.utils import set_seed
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

from dataset_builder.files import differing_keys, replace_dir, write_atomic

from .config import Config, LossWeights, RunConfig, learning_rate_at, parse_config

logger = logging.getLogger("training")
CHECKPOINTS = "checkpoints"
STATE_FILE = "trainer_state.json"
STAGES_FILE = "stages.json"
# Fields that change where a run's folder is and how often it logs, samples and saves, not what
# it trains (a copied run folder goes on as a branch).
BOOKKEEPING = frozenset(
    {"output_dir", "log_every", "sample_every", "checkpoint_every", "keep_checkpoints"}
)
# Fields a resumed run may change: those, how long it runs and, for the steps still to come, the
# learning-rate schedule (a cool-down), how often the critic learns, the loss weights and the
# datasets (a fine-tuning stage: other loss weights, more or other characters; ``stages.json``
# records each stage's config); not the images' size, styles or groups, the model or what the
# checkpoint holds (a max_steps that moves the end of the warping phase, or loss weights that add
# or drop the critic, are refused).
RESUMABLE_CHANGES = BOOKKEEPING | {
    "dataset",
    "max_steps",
    "lr_schedule",
    "decay_steps",
    "discriminator_updates",
    "loss",
}


class TrainingError(RuntimeError):
    """Training cannot go on (a non-finite loss); the message names the step."""


def hub_dataset_ids(dataset: str | Sequence[str]) -> list[str]:
    """A run's datasets that are Hub dataset ids, for a card's YAML (local folders left out)."""
    names = [dataset] if isinstance(dataset, str) else list(dataset)
    return [name for name in names if not Path(name).exists()]


def use_torch_threads(threads: int | None) -> None:
    """Set torch's intra-op threads of this process (``None``: leave torch's default)."""
    if threads is not None:
        torch.set_num_threads(threads)


def start_run(config: RunConfig, **accelerator_options: Any) -> Accelerator:
    """Begin (or resume) the run of ``config``: its torch threads, the accelerator, the run
    folder (:func:`prepare_run_dir`, on the main process) and the seed."""
    use_torch_threads(config.torch_threads)
    accelerator = Accelerator(**accelerator_options)
    if accelerator.is_main_process:
        prepare_run_dir(Path(config.output_dir), config)
    accelerator.wait_for_everyone()
    set_seed(config.seed)
    return accelerator


def prepare_run_dir(out: Path, config: RunConfig) -> None:
    """Create ``out`` with ``config.json``, or check that it holds this same run (to resume). A
    folder whose run never reached a checkpoint (it failed to start) takes the new config."""
    saved = out / "config.json"
    wanted = config.to_dict()
    if saved.exists() and latest_checkpoint(out) is not None:
        # read through the config class: a field added since the run began takes its default
        existing = type(config).from_dict(json.loads(saved.read_text(encoding="utf-8")), str(saved))
        changed = differing_keys(existing.to_dict(), wanted)
        # the warping phase must end at the same step, however max_steps and the fraction say it
        same_phase = getattr(existing, "warp_only_steps", 0) == getattr(
            config, "warp_only_steps", 0
        )
        allowed = RESUMABLE_CHANGES | ({"warp_only_fraction"} if same_phase else set())
        if not reweighting_only(existing, config):
            allowed = allowed - {"loss"}
        refused = [key for key in changed if key not in allowed]
        if not same_phase:
            refused = sorted({*refused, "warp_only_fraction"})
        if refused:
            raise ValueError(
                f"{out} holds a run with a different config (fields {refused} differ); "
                "use another output_dir or the same config to resume"
            )
        if changed:  # a longer or shorter run, or another cadence: the same run goes on
            logger.info("%s: resuming with %s changed", out, ", ".join(changed))
            record_stage(out, existing.to_dict(), checkpoint_step(latest_checkpoint(out)))
            write_atomic(saved, json.dumps(wanted, indent=1, sort_keys=True))
        return
    out.mkdir(parents=True, exist_ok=True)
    (out / CHECKPOINTS).mkdir(exist_ok=True)
    write_atomic(saved, json.dumps(wanted, indent=1, sort_keys=True))


def reweighting_only(existing: RunConfig, config: RunConfig) -> bool:
    """Whether ``config``'s loss may differ from ``existing``'s in a resume: both are
    :class:`LossWeights` (weights, not another run's loss function) and both train a critic, or
    neither (the checkpoint holds one exactly when the loss uses it)."""
    before, after = getattr(existing, "loss", None), getattr(config, "loss", None)
    return (
        isinstance(before, LossWeights)
        and isinstance(after, LossWeights)
        and before.uses_discriminator == after.uses_discriminator
    )


def record_stage(out: Path, config: dict[str, Any], until_step: int) -> None:
    """Append to ``out/stages.json`` that ``config`` trained the run up to ``until_step`` (a
    config that trained no step since the last stage ended is not a stage)."""
    stages = read_stages(out)
    if stages and stages[-1]["until_step"] == until_step:
        return
    stages.append({"until_step": until_step, "config": config})
    write_atomic(out / STAGES_FILE, json.dumps(stages, indent=1))


def read_stages(out: Path) -> list[dict[str, Any]]:
    """The earlier stages of the run in ``out`` (:func:`record_stage`), first to last."""
    path = out / STAGES_FILE
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else []


def latest_checkpoint(out: Path) -> Path | None:
    done = sorted((out / CHECKPOINTS).glob("step-*/" + STATE_FILE))
    return done[-1].parent if done else None


def checkpoint_step(checkpoint: Path) -> int:
    """The step a checkpoint folder was saved at."""
    return json.loads((checkpoint / STATE_FILE).read_text())["step"]


def resume(
    accelerator: Accelerator, out: Path, loader: DataLoader, batches_per_step: int = 1
) -> tuple[int, DataLoader]:
    """The step to go on from and the data stream from there: the last checkpoint's state is
    loaded into the prepared objects and the batches already trained on are skipped (step 0 and
    ``loader`` itself when there is no checkpoint)."""
    checkpoint = latest_checkpoint(out)
    if checkpoint is None:
        return 0, loader
    accelerator.load_state(str(checkpoint))
    step = checkpoint_step(checkpoint)
    logger.info("resumed from %s at step %d", checkpoint, step)
    return step, accelerator.skip_first_batches(loader, step * batches_per_step)


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
        write_atomic(tmp / STATE_FILE, json.dumps({"step": step}))
        shutil.rmtree(final, ignore_errors=True)
        os.replace(tmp, final)
        for old in sorted((out / CHECKPOINTS).glob("step-*"))[:-keep]:
            shutil.rmtree(old, ignore_errors=True)
    accelerator.wait_for_everyone()
    return final


def set_learning_rate(
    config: RunConfig, step: int, optimizer: torch.optim.Optimizer | None, scale: float = 1.0
) -> float:
    """Give every parameter group of ``optimizer`` (``None``: none) the schedule's learning rate
    for update ``step`` (:func:`training.config.learning_rate_at`) times ``scale``; returns it."""
    lr = learning_rate_at(config, step) * scale
    for group in optimizer.param_groups if optimizer is not None else ():
        group["lr"] = lr
    return lr


def check_finite(values: Mapping[str, float], step: int, out: Path) -> None:
    """``TrainingError`` naming the step and the last good checkpoint if a value is not finite."""
    if not all(math.isfinite(v) for v in values.values()):
        last = latest_checkpoint(out)
        raise TrainingError(
            f"step {step}: non-finite loss {dict(values)}; stopped, the last good checkpoint "
            f"is {last or 'none (no checkpoint yet)'}"
        )


def export_weights(save: Callable[[Path], None], folder: Path) -> None:
    """``save(tmp)`` writes the weights (in Hub layout) to a temporary folder, which then replaces
    ``folder``: a reader sees the old weights or the new ones, never half of them."""
    tmp = folder.with_name(f".{folder.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    save(tmp)
    replace_dir(tmp, folder)


def drop_records_after(path: Path, step: int) -> None:
    """Keep the records of ``path`` (JSON lines) up to ``step``: what a killed run logged after
    its last checkpoint is trained again when it resumes, and is then logged again."""
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    kept = [line for line in lines if line.strip() and json.loads(line).get("step", 0) <= step]
    if len(kept) != len(lines):
        write_atomic(path, "".join(kept))


class RunLog:
    """The progress bar and ``metrics.jsonl`` of a run, the log on the main process only (the
    others write nothing); training records carry the throughput since the start."""

    def __init__(
        self, out: Path, main_process: bool, *, total: int, initial: int, desc: str
    ) -> None:
        path = out / "metrics.jsonl"
        if main_process and path.is_file():
            drop_records_after(path, initial)
        self.file = path.open("a", encoding="utf-8") if main_process else None
        self.bar = tqdm(total=total, initial=initial, disable=not main_process, desc=desc)
        self.started, self.samples = time.perf_counter(), 0

    def __enter__(self) -> RunLog:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.bar.close()
        if self.file is not None:
            self.file.close()

    def stepped(self, samples: int) -> None:
        """One step done, on ``samples`` samples over every process."""
        self.samples += samples
        self.bar.update(1)

    def train_record(self, record: dict[str, Any], loss: float, **postfix: Any) -> None:
        """Log a training record with ``samples_per_s`` and ``elapsed_s`` (both since this
        process started or resumed the run); show ``loss`` (and ``postfix``)."""
        elapsed = time.perf_counter() - self.started
        rate = self.samples / max(elapsed, 1e-9)
        self.write({**record, "samples_per_s": round(rate, 2), "elapsed_s": round(elapsed, 3)})
        self.bar.set_postfix(loss=f"{loss:.4f}", **postfix)

    def write(self, record: dict[str, Any]) -> None:
        if self.file is not None:
            self.file.write(json.dumps(record) + "\n")
            self.file.flush()


def run_cli(
    argv: list[str] | None,
    config_class: type[Config],
    train: Callable[[Config], Path],
    *,
    prog: str,
    description: str | None = None,
    also_written: Mapping[str, str] | None = None,
) -> int:
    """A trainer's console entry: the config from the command line (:func:`parse_config`), then
    ``train(config)``, which returns the weights' folder. 0 on success (the main process names
    the weights and the files ``also_written``, label -> name in ``output_dir``), 2 with one
    ``error: ...`` line on bad input or a failed run."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    try:
        config = parse_config(argv, config_class, prog, description)
        weights = train(config)
    except (ValueError, OSError, TrainingError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if PartialState().is_main_process:
        print(f"weights written to {weights}")
        for label, name in (also_written or {}).items():
            print(f"{label} written to {Path(config.output_dir) / name}")
    return 0
