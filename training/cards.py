"""The model card of a shipped AniMo pipeline, LoRA adapter or PIRenderer-style baseline, from
what its folder holds: the weights (their configs and sizes), ``training_history.json`` (the data
and the stage table) and ``evaluation_results.json`` (the results table). Nothing in a card is
typed in but the model's name, its speed and limits, and the credits of characters shown with it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import safetensors
from diffusers.loaders.lora_base import LORA_WEIGHT_NAME_SAFE
from huggingface_hub import ModelCard

from animo_hf import AniMoPipeline, PIRendererGenerator
from animo_hf.model_card import animo_model_card, parameter_summary, pirenderer_model_card

from .history import HISTORY_FILE, History, history_table, read_history
from .results import markdown_table, summary

EVALUATION_FILE = "evaluation_results.json"


def training_values(history: History, data_command: str) -> dict[str, Any]:
    """A card's ``training`` values: the last stage's data and licences, the stage table, the
    history's notes and the commands that rebuild the data and train again."""
    if not history.stages:
        raise ValueError(f"no stages in its {HISTORY_FILE}: nothing says how it was made")
    last = history.stages[-1]
    return {
        "data": last["data"],
        "stages": history_table(history.stages),
        "notes": history.notes,
        "commands": f"{data_command}\nanimeceleb-train --config {HISTORY_FILE}",
        "licences": last["licences"],
    }


def evaluation_values(folder: Path) -> str | None:
    """The card's results: the summary table of ``evaluation_results.json`` in ``folder``, with
    its setup in a sentence (``None`` when the folder holds no evaluation)."""
    path = folder / EVALUATION_FILE
    if not path.is_file():
        return None
    results = json.loads(path.read_text(encoding="utf-8"))
    setup = results["setup"]
    opening = (
        f"Self-reenactment of {setup['cases']} held-out cases ({setup['characters']} characters "
        f"of the `{setup['split']}` split, never trained on, all styles, {setup['resolution']}²) "
        "against Blender's true render, with copying the source and the baselines in the same "
        "run (`animeceleb-eval`; head-angle and expression errors read by the pose regressor). "
        "`evaluation_results.md` holds every table: per style, another character's poses "
        "(cross-identity) and a person's video (human -> anime)."
    )
    return "\n".join([opening, "", *markdown_table(summary(results), "method, group")])


def config_summary(pipe: AniMoPipeline) -> str:
    """Each network's parameter count and channels."""
    parts: list[str] = []
    for name in ("motion_network", "warping_network", "editing_network"):
        module = getattr(pipe, name)
        channels = module.config.get("block_out_channels")
        parts.append(
            f"{name} {parameter_summary(module)}" + (f" {tuple(channels)}" if channels else "")
        )
    return "; ".join(parts)


def lora_values(folder: Path, history: History, base: str) -> dict[str, str | int]:
    """The card's ``lora`` values of the adapter in ``folder``, fine-tuned from ``base``."""
    with safetensors.safe_open(str(folder / LORA_WEIGHT_NAME_SAFE), "pt") as handle:
        shapes = [handle.get_slice(key).get_shape() for key in handle.keys()]  # noqa: SIM118
    parameters = sum(math.prod(shape) for shape in shapes)
    lora = history.stages[-1]["config"]["model"]["lora"]
    *others, last = [name.removesuffix("_network") for name in lora["components"]]
    networks = f"{', '.join(others)} and {last} networks" if others else f"{last} network"
    return {
        "base": base,
        "rank": lora["rank"],
        "components": networks,
        "parameters": f"{parameters:,} parameters",
    }


def model_card(
    folder: Path,
    *,
    kind: str,
    repo_id: str,
    model_name: str,
    data_command: str,
    limitations: Sequence[str],
    attributions: Sequence[str] = (),
    datasets: Sequence[str] = (),
    speed: str | None = None,
    weights_dtype: str = "float32",
    base: tuple[str, Path] | None = None,
) -> ModelCard:
    """The card of the shipped ``folder`` of ``kind`` ``animo``, ``lora`` (an adapter; ``base``
    is its pipeline's repo id and local folder) or ``pirenderer``."""
    history = read_history(folder)
    values: dict[str, Any] = {
        "model_name": model_name,
        "repo_id": repo_id,
        "training": training_values(history, data_command),
        "evaluation": evaluation_values(folder),
        "limitations": list(limitations),
        "attributions": list(attributions),
        "datasets": list(datasets) or None,
        "weights_dtype": weights_dtype,
    }
    if kind == "pirenderer":
        generator = PIRendererGenerator.from_pretrained(folder)
        resolution = history.stages[-1]["resolution"]
        return pirenderer_model_card(
            config_summary=parameter_summary(generator), resolution=resolution, **values
        )
    pipe = AniMoPipeline.from_pretrained(folder if kind == "animo" else base[1])
    if kind == "lora":
        values["lora"] = lora_values(folder, history, base[0])
    return animo_model_card(
        config_summary=config_summary(pipe),
        resolution=pipe.default_sample_size,
        speed=speed,
        **values,
    )
