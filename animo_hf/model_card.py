"""The AniMo model card, rendered from ``templates/animo_model_card.md``.

Every template variable must be given (``None`` where a value is not known yet: ``training=None``
for untrained weights, ``evaluation=None`` before any evaluation, ``speed=None`` before timing),
so a card never carries an unfilled ``{{ ... }}`` or an invented figure. Needs ``jinja2``
(imported lazily, by ``huggingface_hub`` and here).
"""

from __future__ import annotations

import importlib.metadata
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from huggingface_hub import ModelCard, ModelCardData

TEMPLATE_PATH = Path(__file__).with_name("templates") / "animo_model_card.md"
DEFAULT_TAGS = (
    "animo",
    "animeceleb",
    "head-reenactment",
    "face-reenactment",
    "anime",
    "mediapipe",
    "cpu",
)
# ``training=`` keys (all required) and ``evaluation=`` keys (any; the others: "not measured").
TRAINING_KEYS = ("human_video_data", "losses", "learning_rate", "steps", "hardware", "licences")
EVALUATION_KEYS = (
    "fid_anime",
    "ssim_anime",
    "fid_cross",
    "angle_error_cross",
    "fid_pirenderer",
    "ssim_pirenderer",
)
# Values the function fills in itself unless given.
_DERIVED = ("animo_hf_version", "diffusers_version", "dataset_ids")


def template_variables(template_path: str | Path = TEMPLATE_PATH) -> set[str]:
    """The top-level variables a card template uses (``card_data`` included)."""
    from jinja2 import Environment, meta

    text = Path(template_path).read_text(encoding="utf-8")
    return set(meta.find_undeclared_variables(Environment().parse(text)))


def animo_model_card(
    *,
    license: str = "apache-2.0",
    datasets: Sequence[str] | None = None,
    tags: Sequence[str] = DEFAULT_TAGS,
    template_path: str | Path = TEMPLATE_PATH,
    **values: Any,
) -> ModelCard:
    """Render the AniMo model card.

    ``license``, ``datasets`` (Hub dataset ids) and ``tags`` go to the YAML, with
    ``library_name: diffusers`` and ``pipeline_tag: image-to-image``. ``values`` fill the
    template: ``model_name``, ``repo_id``, ``config_summary``, ``resolution``, ``speed`` (str or
    None), ``training`` (None for untrained weights, else a mapping with ``TRAINING_KEYS``) and
    ``evaluation`` (None, else a mapping with some of ``EVALUATION_KEYS``); ``animo_hf_version``
    and ``diffusers_version`` default to the installed versions.

    Raises ValueError naming the template variables without a value, or values it does not use.
    """
    card_data = ModelCardData(
        library_name="diffusers",
        license=license,
        pipeline_tag="image-to-image",
        tags=list(tags),
        datasets=list(datasets) if datasets else None,
        inference=False,
    )
    values = dict(values)
    values.setdefault("animo_hf_version", _version("animeceleb-hf"))
    values.setdefault("diffusers_version", _version("diffusers"))
    values.setdefault("dataset_ids", list(datasets or ()))

    used = template_variables(template_path) - {"card_data"}
    missing = sorted(used - values.keys() - card_data.to_dict().keys())
    if missing:
        raise ValueError(f"model card: no value for template variable(s) {missing}")
    unused = sorted(values.keys() - used - set(_DERIVED))
    if unused:
        raise ValueError(f"model card: {template_path} does not use value(s) {unused}")
    if values.get("training") is not None:
        values["training"] = _checked(values["training"], "training", TRAINING_KEYS, all_=True)
    if values.get("evaluation") is not None:
        evaluation = _checked(values["evaluation"], "evaluation", EVALUATION_KEYS, all_=False)
        values["evaluation"] = {k: _figure(evaluation.get(k)) for k in EVALUATION_KEYS}

    card = ModelCard.from_template(card_data, template_path=str(template_path), **values)
    if "{{" in card.text or "{%" in card.text:
        raise ValueError("model card: a value left a Jinja placeholder in the card text")
    return card


def _checked(
    value: Mapping[str, Any], name: str, keys: Sequence[str], *, all_: bool
) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise ValueError(f"model card: {name} must be None or a mapping, got {type(value)}")
    unknown = sorted(set(value) - set(keys))
    missing = sorted(set(keys) - set(value)) if all_ else []
    if unknown or missing or not value:
        raise ValueError(
            f"model card: {name} needs keys {list(keys)}; missing {missing}, unknown {unknown}"
        )
    return dict(value)


def _figure(value: Any) -> str:
    if value is None:
        return "not measured"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _version(distribution: str) -> str:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return "(not installed)"
