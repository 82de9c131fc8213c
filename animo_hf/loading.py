"""Checks that turn broken weight folders into clear errors before diffusers reads them."""

from __future__ import annotations

import json
import os
import struct
from pathlib import Path

from diffusers.utils import CONFIG_NAME, SAFETENSORS_WEIGHTS_NAME
from huggingface_hub.utils import HFValidationError, validate_repo_id


def local_folder(path: str | os.PathLike, subfolder: str | None = None) -> Path | None:
    """``path / subfolder`` (``~`` expanded) if ``path`` is meant as a local folder, ``None`` if it
    is a Hub repo id.

    ``path`` is local when it exists, is absolute, starts with ``.`` or ``~``, or is not a valid
    repo id (``name`` or ``org/name``), so a mistyped local folder such as ``weights/animo/v1``
    raises ``FileNotFoundError`` here rather than a network error from the Hub.
    """
    text = os.fsdecode(os.fspath(path))
    root = Path(text).expanduser()
    try:
        validate_repo_id(text)
        repo_id = True
    except HFValidationError:
        repo_id = False
    if not (root.exists() or root.is_absolute() or text.startswith((".", "~")) or not repo_id):
        return None
    folder = root / subfolder if subfolder else root
    if not folder.is_dir():
        hint = "" if repo_id else " (and it is not a Hub repo id either: 'name' or 'org/name')"
        raise FileNotFoundError(f"model folder not found: {folder}{hint}")
    return folder


def check_safetensors_file(path: Path) -> None:
    """Raise ``FileNotFoundError`` if ``path`` is missing, ``ValueError`` if it is truncated or not
    a safetensors file (the header or the data it announces runs past the end of the file)."""
    if not path.is_file():
        raise FileNotFoundError(f"weights file not found: {path}")
    size = path.stat().st_size
    with path.open("rb") as f:
        prefix = f.read(8)
        if len(prefix) < 8:
            raise ValueError(f"{path}: expected a safetensors file, got {size} bytes")
        (header_len,) = struct.unpack("<Q", prefix)
        if 8 + header_len > size:
            raise ValueError(
                f"{path} is truncated: its header needs {8 + header_len} bytes, the file has {size}"
            )
        try:
            header = json.loads(f.read(header_len))
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise ValueError(f"{path}: expected a safetensors JSON header ({error})") from error
    data_end = max(
        (entry["data_offsets"][1] for key, entry in header.items() if key != "__metadata__"),
        default=0,
    )
    if 8 + header_len + data_end > size:
        raise ValueError(
            f"{path} is truncated: expected {8 + header_len + data_end} bytes, the file has {size}"
        )


def check_model_folder(folder: Path) -> None:
    """Check a local diffusers model folder: ``config.json`` and a complete safetensors file."""
    if not folder.is_dir():
        raise FileNotFoundError(f"model folder not found: {folder}")
    if not (folder / CONFIG_NAME).is_file():
        raise FileNotFoundError(f"{folder}: expected {CONFIG_NAME}, not found")
    check_safetensors_file(folder / SAFETENSORS_WEIGHTS_NAME)
