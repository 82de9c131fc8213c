"""Shards: Parquet files holding some of the dataset's rows in the ``FEATURES`` schema.

A build's ``render/`` folder holds one shard per finished model, ``<model_id>.parquet``; the Hub
folder's ``data/`` holds the published shards, split by size (``datasets``' own shards).
"""

from __future__ import annotations

import os
from pathlib import Path

import pyarrow.parquet as pq

from animeceleb.sampling import SPLITS, identity_split

from .features import encode_rows
from .files import atomic_path


def write_shard(rows: list[dict], path: str | os.PathLike) -> None:
    """Write plain rows (PNG bytes, label names) as one shard, atomically: to ``<path>.tmp``,
    renamed once complete, so a failed or killed write leaves no shard."""
    table = encode_rows(rows)
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp, compression="none")


def shard_files_by_split(shards_dir: str | os.PathLike) -> dict[str, list[Path]]:
    """A ``render/`` folder's shards grouped by their model's identity split (every row of a
    shard is one model's)."""
    by_split: dict[str, list[Path]] = {split: [] for split in SPLITS}
    for path in sorted(Path(shards_dir).glob("*.parquet")):
        by_split[identity_split(path.stem)].append(path)
    return by_split
