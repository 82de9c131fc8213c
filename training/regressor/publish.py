"""Ship a finished pose-regressor run (``animeceleb-publish --run <run> --out <folder>``): its
weights, ``training_config.json`` and the model card rendered again from the current template,
with the run's final evaluation and the machine its end record names."""

from __future__ import annotations

import json
from functools import partial
from pathlib import Path
from typing import Any

from ..history import STAGE_END, read_history
from ..runs import METRICS_FILE, checkpoint_state, export_weights, latest_checkpoint
from .card import regressor_model_card, write_regressor_folder
from .configuration_regressor import RegressorConfig
from .modeling_regressor import load_regressor


def run_end(run: Path) -> dict[str, Any]:
    """The end record of ``run``'s metrics log (its steps, training time, machine and
    ``hardware`` in words); ``FileNotFoundError`` when the run has not finished."""
    path = run / METRICS_FILE
    lines = path.read_text(encoding="utf-8").splitlines() if path.is_file() else []
    ends = [record for record in map(json.loads, lines) if record.get(STAGE_END)]
    if not ends:
        raise FileNotFoundError(f"{path}: no end record; the run has not finished")
    return ends[-1]


def publish_regressor(run: Path, out: Path, *, dataset_id: str | None = None) -> Path:
    """Write the shipped folder of the pose-regressor run ``run`` to ``out``; returns ``out``.
    ``dataset_id``: the Hub id the training data is published under (the card's datasets)."""
    config = RegressorConfig.from_file(run / "config.json")
    evaluation_file = run / "evaluation.json"
    if not evaluation_file.is_file():
        raise FileNotFoundError(f"{evaluation_file}: missing; the run has not finished")
    evaluation = json.loads(evaluation_file.read_text(encoding="utf-8"))
    end = run_end(run)
    checkpoint = latest_checkpoint(run)
    if checkpoint is None or checkpoint_state(checkpoint)["step"] != end["step"]:
        raise ValueError(f"{run}: its last checkpoint is not the end of its run")
    model = load_regressor(run / "weights")
    history = read_history(run / "weights")
    card = regressor_model_card(
        model,
        config,
        steps=end["step"],
        hardware=end["hardware"],
        history=history,
        evaluation=evaluation,
        dataset_id=dataset_id,
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    write = partial(write_regressor_folder, model=model, card=card, config=config, history=history)
    export_weights(write, out)
    return out
