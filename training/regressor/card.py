"""The pose regressor's model card, rendered from ``templates/model_card.md`` beside this module,
and the folder it ships in (:func:`write_regressor_folder`).

Every template variable must be given (``evaluation=None`` before any evaluation), so a card never
carries an unfilled ``{{ ... }}``. Needs ``jinja2`` (the ``train`` extra).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from huggingface_hub import ModelCard, ModelCardData
from transformers import ResNetForImageClassification

from animo_hf.model_card import parameter_summary, template_variables
from dataset_builder.files import write_atomic

from ..history import History, history_table
from ..runs import hub_dataset_ids
from .configuration_regressor import RegressorConfig
from .evaluate import evaluation_markdown

TEMPLATE_PATH = Path(__file__).with_name("templates") / "model_card.md"
TAGS = ("animeceleb", "anime", "head-pose-estimation", "regression", "resnet", "cpu")
CONFIG_FILE = "training_config.json"  # beside the weights: the card's retrain command reads it


def regressor_model_card(
    model: ResNetForImageClassification,
    config: RegressorConfig,
    *,
    steps: int,
    hardware: str,
    history: History,
    evaluation: dict[str, Any] | None = None,
    dataset_id: str | None = None,
) -> ModelCard:
    """The model card of a trained regressor: usage, the pose dims and their scale, the
    architecture, the training run (with ``history``'s stage table) and (when given) the
    evaluation of
    :func:`training.regressor.evaluate.evaluate_regressor`. ``dataset_id``: the Hub id the training
    data is published under (default: the run's dataset when it is one).

    Raises ValueError naming the template variables without a value, or values it does not use.
    """
    hub_ids = [dataset_id] if dataset_id else hub_dataset_ids(config.data.dataset)
    card_data = ModelCardData(
        library_name="transformers",
        license="apache-2.0",
        tags=list(TAGS),
        datasets=hub_ids or None,
        inference=False,
    )
    values = {
        "resnet": model.config,
        "parameters": parameter_summary(model),
        "dataset_ids": hub_ids,
        "run": config.to_dict(),
        "steps": steps,
        "hardware": hardware,
        "stages": "\n\n".join([history_table(history.stages), *history.notes]),
        "evaluation": None if evaluation is None else evaluation_markdown(evaluation),
    }
    used = template_variables(TEMPLATE_PATH) - {"card_data"}
    missing = sorted(used - values.keys() - card_data.to_dict().keys())
    unused = sorted(values.keys() - used)
    if missing or unused:
        raise ValueError(
            f"model card: {TEMPLATE_PATH} needs value(s) {missing}, does not use {unused}"
        )
    card = ModelCard.from_template(card_data, template_path=str(TEMPLATE_PATH), **values)
    if "{{" in card.text or "{%" in card.text:
        raise ValueError("model card: a value left a Jinja placeholder in the card text")
    return card


def write_regressor_folder(
    folder: Path,
    *,
    model: ResNetForImageClassification,
    card: ModelCard,
    config: RegressorConfig,
    history: History,
) -> None:
    """A shipped regressor folder: the weights (``save_pretrained``), the model card, the run's
    config (``training_config.json``, which the card's retrain command reads) and its
    ``training_history.json``."""
    model.save_pretrained(folder)
    card.save(folder / "README.md")
    write_atomic(folder / CONFIG_FILE, json.dumps(config.to_dict(), indent=1))
    history.write(folder)
