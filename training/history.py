"""``training_history.json``: how a set of weights was made, one record per stage, first to last.

Each stage names its run (the run folder's name), the stage's name and what it trained, the
step it started at within its run, its steps, its learning rate, schedule and loss weights, the
data it trained on, their licences and size, its training time in seconds and the machine it ran on,
and the full config of its run (every stage of one run carries the same config). A run
started from weights that carry a history (``model.init_weights``: a run's ``weights/`` or a
shipped folder) continues that history: its stages come after the ones of the weights it
started from. Every weights folder a run exports carries the history up to the exported step,
so publishing a run copies its weights' history as it is.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dataset_builder.files import write_atomic

HISTORY_FILE = "training_history.json"
STAGE_END = "stage_end"  # the key of a stage's end record in a run's metrics log


@dataclass
class History:
    """A ``training_history.json``: ``stages`` (records of :func:`stage_record`, first to last)
    and ``notes`` (what the records cannot say, e.g. times measured only for several stages
    together)."""

    stages: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def then(self, stages: Sequence[dict[str, Any]]) -> History:
        """This history followed by ``stages``."""
        return History([*self.stages, *stages], list(self.notes))

    def write(self, folder: Path) -> Path:
        path = folder / HISTORY_FILE
        data: dict[str, Any] = {"stages": self.stages}
        if self.notes:
            data["notes"] = self.notes
        write_atomic(path, json.dumps(data, indent=1) + "\n")
        return path


def read_history(folder: str | Path | None) -> History:
    """The history in ``folder``'s ``training_history.json`` (empty for ``None``, a Hub repo id
    or a folder without one); ``ValueError`` naming the file when it is not a history."""
    path = Path(folder) / HISTORY_FILE if folder is not None else None
    if path is None or not path.is_file():
        return History()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        stages, notes = data["stages"], data.get("notes", [])
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise ValueError(f"{path}: not a training history ({error})") from None
    if not isinstance(stages, list) or not all(isinstance(s, dict) for s in stages):
        raise ValueError(f"{path}: expected a list of stage records under 'stages'")
    if not isinstance(notes, list) or not all(isinstance(n, str) for n in notes):
        raise ValueError(f"{path}: expected a list of strings under 'notes'")
    return History(stages, notes)


def stage_record(
    run: str,
    config: dict[str, Any],
    *,
    name: str,
    trains: str,
    start: int,
    steps: int,
    learning_rate: float,
    schedule: dict[str, Any],
    loss: dict[str, float] | str,
    data: str,
    licences: str,
    resolution: int,
    seconds: float | None,
    machine: str | None,
) -> dict[str, Any]:
    """One stage of a history: ``learning_rate`` is its peak rate, ``schedule`` a
    :class:`training.configuration.ScheduleConfig` as a mapping, ``loss`` its loss weights (or
    the loss's name), ``data`` what it trained on in words, ``licences`` the characters'
    licences and ``resolution`` the images' size."""
    return {
        "run": run,
        "stage": name,
        "trains": trains,
        "start_step": start,
        "steps": steps,
        "learning_rate": learning_rate,
        "schedule": schedule,
        "loss": loss,
        "data": data,
        "licences": licences,
        "resolution": resolution,
        "seconds": None if seconds is None else round(seconds, 3),
        "machine": machine,
        "config": config,
    }


def total_seconds(stages: Sequence[dict[str, Any]]) -> float | None:
    """The training time of ``stages`` together (``None`` when a stage's was not recorded)."""
    seconds = [stage["seconds"] for stage in stages]
    return None if any(s is None for s in seconds) else float(sum(seconds))


def total_steps(stages: Sequence[dict[str, Any]]) -> int:
    return sum(stage["steps"] for stage in stages)


def _figure(seconds: float | None) -> str:
    if seconds is None:
        return "not recorded"
    return f"{seconds / 60:.0f} min" if seconds >= 60 else f"{seconds:.0f} s"


def history_table(stages: Sequence[dict[str, Any]]) -> str:
    """The stages as a Markdown table (a model card's): run, stage, what it trained, steps,
    learning rate and schedule, the loss terms, time and machine."""
    lines = [
        "| # | run | stage | trains | steps | rate, schedule | loss | time | machine |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    previous: dict[str, Any] = {}
    for number, stage in enumerate(stages, 1):
        loss = stage["loss"]
        if isinstance(loss, dict):
            loss = ", ".join(f"{k.replace('_', ' ')} {v:g}" for k, v in loss.items() if v)
        machine = stage["machine"] or "not recorded"
        lines.append(
            f"| {number} | {stage['run']} | {stage['stage']} | {stage['trains']} | "
            f"{stage['steps']} | {schedule_summary(stage)} | "
            f"{'as above' if loss == previous.get('loss') else loss} | "
            f"{_figure(stage['seconds'])} | "
            f"{'as above' if machine == previous.get('machine') else machine} |"
        )
        previous = {"loss": loss, "machine": machine}
    total = total_seconds(stages)
    time = f"{_figure(total)} of training" if total is not None else "times in the notes below"
    lines.append(f"\n{total_steps(stages)} steps in all; {time}.")
    return "\n".join(lines)


def schedule_summary(stage: dict[str, Any]) -> str:
    """A stage's peak rate and its schedule in a few words."""
    schedule = stage["schedule"]
    words = [f"{stage['learning_rate']:g}"]
    if schedule["warmup_steps"]:
        words.append(f"{schedule['warmup_steps']}-step warm-up")
    if schedule["decay"] == "cosine":
        span = schedule["decay_steps"]
        words.append("cosine to 0" + (f" over the last {span}" if span else ""))
    else:
        words.append("constant")
    return ", ".join(words)
