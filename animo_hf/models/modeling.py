"""Strict loading shared by every animo_hf model."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ..loading import check_model_folder, local_folder


class StrictLoadingMixin:
    """Put before ``ModelMixin`` in a model's bases: its ``from_pretrained`` refuses weights that
    do not fit the config.

    diffusers only warns about missing or unexpected weights; here any such key raises
    ``ValueError``, and a local folder without ``config.json``, with a missing or truncated
    safetensors file raises ``FileNotFoundError`` / ``ValueError`` before anything is read.
    """

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path: str | os.PathLike, **kwargs: Any):
        folder = local_folder(pretrained_model_name_or_path, kwargs.get("subfolder"))
        if folder is not None:
            check_model_folder(folder)
            pretrained_model_name_or_path = Path(pretrained_model_name_or_path).expanduser()
        kwargs.setdefault("use_safetensors", True)
        wants_info = kwargs.pop("output_loading_info", False)
        model, info = super().from_pretrained(
            pretrained_model_name_or_path, output_loading_info=True, **kwargs
        )
        problems = {key: value for key, value in info.items() if value}
        if problems:
            raise ValueError(
                f"{cls.__name__}: the weights in {pretrained_model_name_or_path} do not match its "
                f"config {dict(model.config)}: {problems}"
            )
        return (model, info) if wants_info else model
