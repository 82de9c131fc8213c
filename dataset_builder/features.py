"""The dataset's columns, defined once as ``datasets.Features``: the render shards, the
builder's tables and the published Parquet all use this schema."""

from __future__ import annotations

from collections.abc import Iterable

import datasets
import pyarrow as pa

from animeceleb.pose import POSE_DIM
from animeceleb.sampling import GROUPS

from .styles import STYLE_NAMES

FEATURES = datasets.Features(
    {
        "image": datasets.Image(),
        "pose": datasets.List(datasets.Value("float32"), length=POSE_DIM),
        "model_id": datasets.Value("string"),
        "source": datasets.Value("string"),
        "style": datasets.ClassLabel(names=list(STYLE_NAMES)),
        "group": datasets.ClassLabel(names=list(GROUPS)),
        "pair_id": datasets.Value("string"),
        "license": datasets.Value("string"),
        "attribution": datasets.Value("string"),
    }
)
LABEL_COLUMNS = ("style", "group")


def example_key(row: dict) -> str:
    """The deterministic key of one example (label names): model, style, group and pair."""
    return f"{row['model_id']}/{row['style']}/{row['group']}/{row['pair_id']}"


def encode_rows(rows: Iterable[dict]) -> pa.Table:
    """Plain rows (PNG bytes, label names) as an Arrow table in the ``FEATURES`` schema."""
    encoded = [FEATURES.encode_example(row) for row in rows]
    return pa.Table.from_pylist(encoded, schema=FEATURES.arrow_schema)


def decode_rows(table: pa.Table) -> list[dict]:
    """An Arrow table in the ``FEATURES`` schema (or some of its columns) as plain rows: label
    names instead of class ids, PNG bytes instead of the image struct."""
    rows = table.to_pylist()
    for row in rows:
        for column in LABEL_COLUMNS:
            if column in row:
                row[column] = FEATURES[column].int2str(row[column])
        if "image" in row:
            row["image"] = row["image"]["bytes"]
    return rows
