"""The run folder and the run's life, shared by every trainer: starting (threads, accelerator, seed,
``config.json``), resuming from the last checkpoint, checkpoints, the metrics log, exporting the
weights and the console entry point.

A run folder holds ``config.json``, ``checkpoints/step-NNNNNNN/`` (``accelerate`` state: models,
optimizer, RNG states, plus ``trainer_state.json``: the step and the training seconds so far),
``metrics.jsonl`` and ``weights/``; running the same command again resumes from the last
checkpoint at the same step. A run's config is its whole recipe: a resume may change only its
bookkeeping (where it writes, how often) and add stages after the ones it has.
"""

from __future__ import annotations

import json
import logging
import math
import os
import platform
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

from dataset_builder.files import replace_dir, write_atomic

from .configuration import RunConfig, parse_config

logger = logging.getLogger("training")
CHECKPOINTS = "checkpoints"
STATE_FILE = "trainer_state.json"
METRICS_FILE = "metrics.jsonl"


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
        prepare_run_dir(config.output_dir, config)
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
        parsed = type(config).from_dict(json.loads(saved.read_text(encoding="utf-8")), saved)
        existing = parsed.to_dict()
        refused = changed_fields(existing, wanted, config.BOOKKEEPING)
        critic = getattr(config, "uses_discriminator", False)
        if critic != getattr(parsed, "uses_discriminator", False):
            refused.append("stages (they add or drop the critic its checkpoints hold)")
        if refused:
            raise ValueError(
                f"{out} holds a run with a different config (fields {refused} differ); "
                "use another output_dir, or the same config (new stages may be added at its end)"
            )
        if existing != wanted:
            logger.info("%s: resuming with new bookkeeping or stages", out)
            write_atomic(saved, json.dumps(wanted, indent=1, sort_keys=True))
        return
    out.mkdir(parents=True, exist_ok=True)
    (out / CHECKPOINTS).mkdir(exist_ok=True)
    write_atomic(saved, json.dumps(wanted, indent=1, sort_keys=True))


def changed_fields(
    saved: dict, wanted: dict, bookkeeping: frozenset[str], prefix: str = ""
) -> list:
    """The dotted fields of ``wanted`` that a resume of ``saved`` may not change: every one but
    the ``bookkeeping`` fields (dotted names or whole sections) and ``stages`` added at the end
    of the list."""
    refused = []
    for key in sorted(saved.keys() | wanted.keys()):
        name, old, new = prefix + key, saved.get(key), wanted.get(key)
        if old == new or name in bookkeeping:
            continue
        if isinstance(old, dict) and isinstance(new, dict):
            refused += changed_fields(old, new, bookkeeping, f"{name}.")
        elif name == "stages" and isinstance(old, list) and new[: len(old)] == old:
            continue
        else:
            refused.append(name)
    return refused


def latest_checkpoint(out: Path) -> Path | None:
    done = sorted((out / CHECKPOINTS).glob("step-*/" + STATE_FILE))
    return done[-1].parent if done else None


def checkpoint_state(checkpoint: Path) -> dict[str, Any]:
    """What a checkpoint folder's ``trainer_state.json`` holds: ``step`` and ``seconds`` (the
    training time up to it, over every process start)."""
    return {"seconds": 0.0, **json.loads((checkpoint / STATE_FILE).read_text())}


def machine() -> str:
    """This machine in a few words, for a run's records: the accelerator, or the CPU and its
    cores."""
    if torch.cuda.is_available():
        return f"{torch.cuda.get_device_name()} ({torch.cuda.device_count()} GPU)"
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            names = [
                line.split(":", 1)[1].strip() for line in info if line.startswith("model name")
            ]
        cpu = names[0] if names else cpu
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores, no GPU"


def resume(
    accelerator: Accelerator,
    out: Path,
    loader: DataLoader,
    batches_per_step: int = 1,
    streamed: Callable[[int], int] | None = None,
) -> tuple[int, DataLoader]:
    """The step to go on from and the data stream from there: the last checkpoint's state is
    loaded into the prepared objects and the batches already trained on are skipped (step 0 and
    ``loader`` itself when there is no checkpoint). ``streamed(step)``: how many of the steps up
    to ``step`` took their batches from ``loader`` (default: all)."""
    checkpoint = latest_checkpoint(out)
    if checkpoint is None:
        return 0, loader
    accelerator.load_state(str(checkpoint))
    step = checkpoint_state(checkpoint)["step"]
    logger.info("resumed from %s at step %d", checkpoint, step)
    done = step if streamed is None else streamed(step)
    return step, accelerator.skip_first_batches(loader, done * batches_per_step)


def save_checkpoint(
    accelerator: Accelerator, out: Path, step: int, keep: int, seconds: float = 0.0
) -> Path:
    """``accelerate`` state plus the step and the training ``seconds`` so far, written under a
    temporary name and renamed."""
    final = out / CHECKPOINTS / f"step-{step:07d}"
    tmp = final.with_name(f".{final.name}.tmp")
    if accelerator.is_main_process:
        shutil.rmtree(tmp, ignore_errors=True)
    accelerator.wait_for_everyone()
    accelerator.save_state(str(tmp))
    accelerator.wait_for_everyone()  # every process has written its RNG state
    if accelerator.is_main_process:
        state = {"step": step, "seconds": round(seconds, 3)}
        write_atomic(tmp / STATE_FILE, json.dumps(state))
        shutil.rmtree(final, ignore_errors=True)
        os.replace(tmp, final)
        for old in sorted((out / CHECKPOINTS).glob("step-*"))[:-keep]:
            shutil.rmtree(old, ignore_errors=True)
    accelerator.wait_for_everyone()
    return final


def set_learning_rate(optimizer: torch.optim.Optimizer | None, rate: float) -> float:
    """Give every parameter group of ``optimizer`` (``None``: none) the learning rate ``rate``;
    returns it."""
    for group in optimizer.param_groups if optimizer is not None else ():
        group["lr"] = rate
    return rate


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
        self,
        out: Path,
        main_process: bool,
        *,
        total: int,
        initial: int,
        desc: str,
        seconds: float = 0.0,
    ) -> None:
        """``initial``: the step the run starts or resumes at; ``seconds``: its training time
        before this process."""
        path = out / METRICS_FILE
        if main_process and path.is_file():
            drop_records_after(path, initial)
        self.file = path.open("a", encoding="utf-8") if main_process else None
        self.bar = tqdm(total=total, initial=initial, disable=not main_process, desc=desc)
        self.started, self.samples, self.earlier_seconds = time.perf_counter(), 0, seconds

    @property
    def seconds(self) -> float:
        """The run's training time so far, over every process start."""
        return self.earlier_seconds + time.perf_counter() - self.started

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
    config_class: type[RunConfig],
    train: Callable[[Any], Path],
    *,
    prog: str,
    description: str | None = None,
    also_written: Mapping[str, str] | None = None,
) -> int:
    """A trainer's console entry: the config from the command line (:func:`parse_config`), then
    ``train(config)``, which returns the weights' folder (:func:`report_cli`; the main process
    also names the files ``also_written``, label -> name in ``output_dir``)."""

    def run() -> Path:
        config = parse_config(argv, config_class, prog, description or "")
        weights = train(config)
        for label, name in (also_written or {}).items():
            if PartialState().is_main_process:
                print(f"{label} written to {config.output_dir / name}")
        return weights

    return report_cli(run)


def report_cli(run: Callable[[], Path]) -> int:
    """Run a console command that writes weights: 0 on success (the main process names the
    weights' folder), 2 with one ``error: ...`` line on bad input or a failed run."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    try:
        weights = run()
    except (ValueError, OSError, TrainingError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if PartialState().is_main_process:
        print(f"weights written to {weights}")
    return 0
