"""Strict loading of a pipeline folder: every component present before diffusers reads it, and
published folders kept loadable when modules move."""

from __future__ import annotations

import inspect
import os
import types
import typing
from collections.abc import Collection
from pathlib import Path
from typing import Any

from ..loading import local_folder


class StrictPipelineLoadingMixin:
    """Put before ``DiffusionPipeline`` in a pipeline's bases: its ``from_pretrained`` checks a
    local folder first (:meth:`check_folder`), reads safetensors only, and reads a
    ``model_index.json`` whose components were saved under module paths that have moved."""

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path: str | os.PathLike, **kwargs: Any):
        """diffusers' loader (safetensors only), after :meth:`check_folder` for a local folder.

        A path that exists, is absolute, starts with ``.`` or ``~``, or is not a valid Hub repo id
        is a local folder (``FileNotFoundError`` if missing); anything else is a Hub repo id.
        Components passed in ``kwargs`` replace the saved ones.
        """
        folder = local_folder(pretrained_model_name_or_path)
        if folder is not None:
            cls.check_folder(folder, passed=kwargs.keys())
            pretrained_model_name_or_path = folder
        kwargs.setdefault("use_safetensors", True)
        return super().from_pretrained(pretrained_model_name_or_path, **kwargs)

    @classmethod
    def component_classes(cls) -> dict[str, type]:
        """Each component's class, from the ``__init__`` signature (``X`` for an optional
        component annotated ``X | None``)."""
        hints = typing.get_type_hints(cls.__init__)
        classes = {}
        for name in inspect.signature(cls.__init__).parameters:
            if name == "self":
                continue
            hint = hints[name]
            if typing.get_origin(hint) in (typing.Union, types.UnionType):
                (hint,) = [arg for arg in typing.get_args(hint) if arg is not type(None)]
            classes[name] = hint
        return classes

    @classmethod
    def load_config(cls, *args: Any, **kwargs: Any):
        """diffusers' ``model_index.json`` reader, tolerant of moved modules: a component saved
        as ``[old.module.path, ClassName]`` is read from the module that defines ``ClassName``
        now, so published checkpoints keep loading when the package is reorganised."""
        loaded = super().load_config(*args, **kwargs)
        index = loaded[0] if isinstance(loaded, tuple) else loaded
        for name, component in cls.component_classes().items():
            entry = index.get(name)
            if (
                isinstance(entry, list | tuple)
                and len(entry) == 2
                and entry[1] == component.__name__
            ):
                index[name] = [component.__module__, component.__name__]
        return loaded

    @classmethod
    def check_folder(cls, folder: Path, passed: Collection[str] = ()) -> None:
        """Check a local pipeline folder: it has ``model_index.json`` and a folder for every
        component not in ``passed`` (each component's own ``from_pretrained`` then checks its
        config and weights). An optional component (``_optional_components``) the index does
        not name, or names as ``null``, is not loaded; one it names needs its folder."""
        if not (folder / cls.config_name).is_file():
            raise FileNotFoundError(f"{folder}: expected {cls.config_name}, not found")
        index = cls.load_config(folder)
        for name in cls.component_classes():
            absent = name not in index or index[name][0] is None
            if name in passed or (absent and name in cls._optional_components):
                continue
            if absent:
                raise ValueError(f"{folder}: {cls.config_name} has no component {name!r}")
            if not (folder / name).is_dir():
                raise FileNotFoundError(f"{folder}: component folder {name!r} not found")
