"""The AniMo model card, rendered from ``templates/animo_model_card.md``.

Every template variable must be given (``None`` where a value is not known yet: ``training=None``
for untrained weights, ``evaluation=None`` before any evaluation, ``speed=None`` before timing),
so a card never carries an unfilled ``{{ ... }}`` or an invented figure. The evaluation is the
Markdown that ``animeceleb-eval`` measured, pasted as it is. Needs ``jinja2``
(imported lazily, by ``huggingface_hub`` and here).
"""

from __future__ import annotations

import importlib.metadata
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from huggingface_hub import ModelCard, ModelCardData

if TYPE_CHECKING:
    import torch

TEMPLATE_PATH = Path(__file__).with_name("templates") / "animo_model_card.md"
PIRENDERER_TEMPLATE_PATH = TEMPLATE_PATH.with_name("pirenderer_model_card.md")
DEFAULT_TAGS = (
    "animo",
    "animeceleb",
    "head-reenactment",
    "face-reenactment",
    "anime",
    "mediapipe",
    "cpu",
)
# ``training=`` keys, all required: the data, the stages (a Markdown table: each stage's steps,
# schedule, losses, time and machine), notes on them (a list of sentences), the shell commands
# that rebuild the data and train again, and the data's licences.
TRAINING_KEYS = ("data", "stages", "notes", "commands", "licences")
# Values the function fills in itself unless given.
_DERIVED = ("animo_hf_version", "diffusers_version", "dataset_ids", "weights_dtype", "lora")
# ``lora=`` keys (a LoRA adapter's card): the base pipeline's repo id, the rank, the adapted
# networks in words and the adapter's parameter count
LORA_KEYS = ("base", "rank", "components", "parameters")
PIRENDERER_TAGS = ("animeceleb", "head-reenactment", "anime", "baseline", "pirenderer", "cpu")


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
    None), ``training`` (None for untrained weights, else a mapping with ``TRAINING_KEYS``),
    ``evaluation`` (None, else Markdown: the measured tables), ``limitations`` (a list of
    sentences, each a bullet) and ``attributions`` (sentences crediting third-party characters
    whose renders appear with the model; none by default); ``animo_hf_version`` and
    ``diffusers_version`` default to the installed versions, ``weights_dtype`` (how the
    safetensors store the weights) to ``"float32"``, ``lora`` to ``None`` (a pipeline's card;
    a LoRA adapter's card: a mapping with ``LORA_KEYS``, and the YAML names the base model).

    Raises ValueError naming the template variables without a value, or values it does not use.
    """
    values = dict(values)
    lora = values.get("lora")
    if lora is not None:
        values["lora"] = _checked(lora, "lora", LORA_KEYS)
    card_data = ModelCardData(
        library_name="diffusers",
        license=license,
        pipeline_tag="image-to-image",
        tags=list(tags) + (["lora"] if lora is not None else []),
        datasets=list(datasets) if datasets else None,
        base_model=lora["base"] if lora is not None else None,
        inference=False,
    )
    values.setdefault("animo_hf_version", _version("animeceleb-hf"))
    values.setdefault("diffusers_version", _version("diffusers"))
    values.setdefault("dataset_ids", list(datasets or ()))
    values.setdefault("attributions", [])
    values.setdefault("weights_dtype", "float32")
    values.setdefault("lora", None)

    used = template_variables(template_path) - {"card_data"}
    missing = sorted(used - values.keys() - card_data.to_dict().keys())
    if missing:
        raise ValueError(f"model card: no value for template variable(s) {missing}")
    unused = sorted(values.keys() - used - set(_DERIVED))
    if unused:
        raise ValueError(f"model card: {template_path} does not use value(s) {unused}")
    if values.get("training") is not None:
        values["training"] = _checked(values["training"], "training", TRAINING_KEYS)
    if values.get("evaluation") is not None and not isinstance(values["evaluation"], str):
        raise ValueError("model card: evaluation must be None or Markdown text")

    card = ModelCard.from_template(card_data, template_path=str(template_path), **values)
    if "{{" in card.text or "{%" in card.text:
        raise ValueError("model card: a value left a Jinja placeholder in the card text")
    return card


def pirenderer_model_card(
    *, datasets: Sequence[str] | None = None, license: str = "apache-2.0", **values: Any
) -> ModelCard:
    """Render the card of a trained PIRenderer-style baseline (``templates/
    pirenderer_model_card.md``): the values of :func:`animo_model_card` but ``speed``, with
    ``training`` required."""
    if values.get("training") is None:
        raise ValueError("model card: the baseline's card needs its training (a trained model)")
    return animo_model_card(
        license=license,
        datasets=datasets,
        tags=PIRENDERER_TAGS,
        template_path=PIRENDERER_TEMPLATE_PATH,
        **values,
    )


def parameter_summary(module: torch.nn.Module) -> str:
    """``"1,234 parameters"``: the parameter count of ``module`` as the cards write it."""
    return f"{sum(p.numel() for p in module.parameters()):,} parameters"


def _checked(value: Mapping[str, Any], name: str, keys: Sequence[str]) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise ValueError(f"model card: {name} must be None or a mapping, got {type(value)}")
    unknown, missing = sorted(set(value) - set(keys)), sorted(set(keys) - set(value))
    if unknown or missing:
        raise ValueError(
            f"model card: {name} needs keys {list(keys)}; missing {missing}, unknown {unknown}"
        )
    return dict(value)


def _version(distribution: str) -> str:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return "(not installed)"
