"""A build's ``render/`` folder: one Parquet part per finished model, ``<model_id>.parquet``, in the
dataset's ``FEATURES`` schema."""

from __future__ import annotations

import os
from pathlib import Path

import pyarrow.parquet as pq

from animeceleb.sampling import SPLITS, identity_split

from .features import encode_rows
from .files import atomic_path


def write_part(rows: list[dict], path: str | os.PathLike) -> None:
    """Write plain rows (PNG bytes, label names) as one Parquet part, atomically: to
    ``<path>.tmp``, renamed once complete, so a failed or killed write leaves no part."""
    table = encode_rows(rows)
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp, compression="none")


def part_files_by_split(parts_dir: str | os.PathLike) -> dict[str, list[Path]]:
    """Part files grouped by their model's identity split (every row of a part is one model's)."""
    by_split: dict[str, list[Path]] = {split: [] for split in SPLITS}
    for path in sorted(Path(parts_dir).glob("*.parquet")):
        by_split[identity_split(path.stem)].append(path)
    return by_split
