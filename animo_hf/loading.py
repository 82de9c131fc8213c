"""Checks that turn broken weight folders into clear errors before diffusers reads them."""

from __future__ import annotations

import json
import struct
from pathlib import Path

from diffusers.utils import CONFIG_NAME, SAFETENSORS_WEIGHTS_NAME


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
