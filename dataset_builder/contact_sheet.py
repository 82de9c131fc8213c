"""A contact sheet of a dataset: identities (rows) x styles x expressions (columns)."""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence
from pathlib import Path

import datasets
import pyarrow.parquet as pq
from PIL import Image, ImageDraw

from .features import decode_rows
from .styles import STYLE_NAMES

BACKGROUND = (206, 212, 222, 255)
LABEL_HEIGHT = 18
SHEET_COLUMNS = ("model_id", "style", "group", "pair_id", "image")
COLUMNS = (("basis", 0), ("frontal", 0), ("frontal", 1), ("rotated", 0), ("rotated", 1))


def contact_sheet(rows: Iterable[dict], *, n_identities: int = 6, tile: int = 128) -> Image.Image:
    """Lay out examples as identities x (styles x expressions) tiles.

    ``rows`` are examples with ``model_id``, ``style`` and ``group`` names, ``pair_id`` and
    ``image`` (PNG bytes or a PIL image). Columns per style: the neutral basis, two frontal
    expressions and two rotated ones (the first pairs of each identity). Transparent backgrounds
    are shown on a light grey.
    """
    rows = list(rows)
    models = sorted({r["model_id"] for r in rows})[:n_identities]
    styles = [s for s in STYLE_NAMES if any(r["style"] == s for r in rows)]
    pairs = {
        m: sorted({r["pair_id"] for r in rows if r["model_id"] == m and r["group"] != "basis"})
        for m in models
    }
    tiles = {}
    for r in rows:
        if r["model_id"] in pairs:
            rank = 0 if r["group"] == "basis" else pairs[r["model_id"]].index(r["pair_id"])
            tiles[(r["model_id"], r["style"], r["group"], rank)] = r["image"]

    width = tile * len(COLUMNS) * len(styles)
    sheet = Image.new("RGBA", (width, LABEL_HEIGHT + tile * len(models)), BACKGROUND)
    draw = ImageDraw.Draw(sheet)
    for s, style in enumerate(styles):
        draw.text((s * tile * len(COLUMNS) + 4, 3), style, fill=(20, 20, 30, 255))
    for r, model in enumerate(models):
        for s, style in enumerate(styles):
            for c, (group, rank) in enumerate(COLUMNS):
                image = tiles.get((model, style, group, rank))
                if image is None:
                    continue
                if isinstance(image, bytes):
                    image = Image.open(io.BytesIO(image))
                image = image.convert("RGBA").resize((tile, tile), Image.LANCZOS)
                sheet.alpha_composite(
                    image, ((s * len(COLUMNS) + c) * tile, LABEL_HEIGHT + r * tile)
                )
    return sheet


def rows_from_shards(shard_files: Sequence[str | Path], n_identities: int = 6) -> list[dict]:
    """The examples of the first ``n_identities`` render shards (one shard per model)."""
    files = sorted(map(str, shard_files))[:n_identities]
    return decode_rows(pq.read_table(files, columns=list(SHEET_COLUMNS))) if files else []


def rows_from_dataset(ds: datasets.Dataset) -> list[dict]:
    """A loaded AnimeCeleb split as plain rows (label names, undecoded PNG bytes)."""
    return decode_rows(ds.select_columns(list(SHEET_COLUMNS)).with_format("arrow")[:])
