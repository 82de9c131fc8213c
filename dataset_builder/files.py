"""Writing files so that a reader never sees half of one (no bpy)."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def atomic_path(path: str | os.PathLike, keep_suffix: bool = False) -> Iterator[Path]:
    """Yield ``<path>.tmp`` to write; rename it to ``path`` once the block completes, remove
    it if the block fails: ``path`` is the old file or the whole new one, never half of one.
    With ``keep_suffix`` the temporary name ends in the file's suffix (``.<stem>.tmp<suffix>``),
    for writers that choose the format by it."""
    path = Path(path)
    name = f".{path.stem}.tmp{path.suffix}" if keep_suffix else f"{path.name}.tmp"
    tmp = path.with_name(name)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_atomic(path: str | os.PathLike, data: bytes | str) -> None:
    """Write ``data`` to ``path`` through :func:`atomic_path`."""
    with atomic_path(path) as tmp:
        if isinstance(data, str):
            tmp.write_text(data, encoding="utf-8")
        else:
            tmp.write_bytes(data)


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
