"""Shards: Parquet files holding some of the dataset's rows in the ``FEATURES`` schema.

A build's ``render/`` folder holds one shard per finished model, ``<model_id>.parquet``; the Hub
folder's ``data/`` holds the published shards, split by size (``datasets``' own shards).
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterable
from pathlib import Path

import pyarrow.compute as pc
import pyarrow.parquet as pq

from animeceleb.sampling import SPLITS, identity_split

from .features import encode_rows
from .files import atomic_path
from .png import SIGNATURE


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


def shards_resolution(paths: Iterable[str | os.PathLike]) -> int:
    """The side in pixels of the square images in the shards at ``paths``, read from each PNG's
    header (the images are not decoded); ``ValueError`` naming the shard when an image is not a
    square PNG or not the same size as the others (a build renders one resolution)."""
    sizes: dict[tuple[int, int], Path] = {}
    for path in map(Path, paths):
        column = pq.read_table(path, columns=["image"]).column("image")
        headers = pc.binary_slice(pc.struct_field(column, "bytes"), 0, 24)
        for header in set(headers.to_pylist()):
            if len(header) < 24 or not header.startswith(SIGNATURE) or header[12:16] != b"IHDR":
                raise ValueError(f"{path}: an image that is not a PNG")
            sizes.setdefault(struct.unpack(">II", header[16:24]), path)
    if not sizes:
        raise ValueError("no shards: expected at least one rendered model")
    if len(sizes) > 1:
        found = ", ".join(f"{w} x {h} in {path.name}" for (w, h), path in sorted(sizes.items()))
        raise ValueError(f"images of more than one size ({found}); expected one resolution")
    ((width, height),) = sizes
    if width != height:
        raise ValueError(f"{sizes[width, height]}: {width} x {height} images; expected square ones")
    return width
