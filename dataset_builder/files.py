"""Writing files so that a reader never sees half of one (no bpy)."""

from __future__ import annotations

import json
import os
import shutil
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


def changed_settings(path: str | os.PathLike, wanted: dict) -> list[str] | None:
    """The keys whose values differ between ``wanted`` and the JSON settings saved at ``path``
    (sorted; empty when they agree), or ``None`` when nothing is saved there yet."""
    path = Path(path)
    if not path.exists():
        return None
    return differing_keys(json.loads(path.read_text(encoding="utf-8")), wanted)


def differing_keys(saved: dict, wanted: dict) -> list[str]:
    """The keys (sorted) whose values differ between two settings mappings."""
    return sorted(k for k in wanted.keys() | saved.keys() if saved.get(k) != wanted.get(k))


def replace_dir(new: str | os.PathLike, target: str | os.PathLike) -> None:
    """Put the complete folder ``new`` at ``target``, replacing an older folder there only once
    ``new`` is complete: a reader sees the old folder or the new one, never half of either."""
    new, target = Path(new), Path(target)
    old = target.with_name(f".{target.name}.old")
    if target.exists():
        shutil.rmtree(old, ignore_errors=True)
        os.replace(target, old)
    os.replace(new, target)
    shutil.rmtree(old, ignore_errors=True)
