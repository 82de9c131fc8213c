"""Writing files so that a reader never sees half of one (no bpy)."""

from __future__ import annotations

import os
from pathlib import Path


def write_atomic(path: str | os.PathLike, data: bytes | str) -> None:
    """Write ``data`` to ``<path>.tmp`` and rename it to ``path`` once complete."""
    path = Path(path)
    tmp = path.with_name(f"{path.name}.tmp")
    if isinstance(data, str):
        tmp.write_text(data, encoding="utf-8")
    else:
        tmp.write_bytes(data)
    os.replace(tmp, path)
