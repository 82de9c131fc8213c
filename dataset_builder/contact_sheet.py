"""A contact sheet of a dataset: identities (rows) x styles x expressions (columns)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import datasets
from PIL import Image, ImageDraw

BACKGROUND = (206, 212, 222, 255)
LABEL_HEIGHT = 18
COLUMNS = (("basis", 0), ("frontal", 0), ("frontal", 1), ("rotated", 0), ("rotated", 1))


def contact_sheet(ds: datasets.Dataset, *, n_identities: int = 6, tile: int = 128) -> Image.Image:
    """Lay out ``ds`` (AnimeCeleb features) as identities x (styles x expressions) tiles.

    Columns per style: the neutral basis, two frontal expressions and two rotated ones (the
    first pairs of each identity). Transparent backgrounds are shown on a light grey.
    """
    meta = ds.select_columns(["model_id", "style", "group", "pair_id"]).to_dict()
    style_names = ds.features["style"].names
    group_names = ds.features["group"].names
    models = sorted(set(meta["model_id"]))[:n_identities]
    styles = [s for s in style_names if style_names.index(s) in set(meta["style"])]
    pair_rank: dict[tuple[str, str], int] = {}
    for model in models:
        pairs = sorted(
            {p for m, p in zip(meta["model_id"], meta["pair_id"], strict=True) if m == model}
        )
        pairs = [p for p in pairs if not p.endswith("-basis")]
        pair_rank.update({(model, p): i for i, p in enumerate(pairs)})
    index: dict[tuple[str, str, str, int], int] = {}
    for i, (model, style, group, pair) in enumerate(
        zip(meta["model_id"], meta["style"], meta["group"], meta["pair_id"], strict=True)
    ):
        rank = 0 if group_names[group] == "basis" else pair_rank.get((model, pair), -1)
        index[(model, style_names[style], group_names[group], rank)] = i

    width = tile * len(COLUMNS) * len(styles)
    sheet = Image.new("RGBA", (width, LABEL_HEIGHT + tile * len(models)), BACKGROUND)
    draw = ImageDraw.Draw(sheet)
    for s, style in enumerate(styles):
        draw.text((s * tile * len(COLUMNS) + 4, 3), style, fill=(20, 20, 30, 255))
    for r, model in enumerate(models):
        for s, style in enumerate(styles):
            for c, (group, rank) in enumerate(COLUMNS):
                i = index.get((model, style, group, rank))
                if i is None:
                    continue
                image = ds[i]["image"].convert("RGBA").resize((tile, tile), Image.LANCZOS)
                x = (s * len(COLUMNS) + c) * tile
                sheet.alpha_composite(image, (x, LABEL_HEIGHT + r * tile))
    return sheet


def contact_sheet_from_parquet(files: Sequence[str | Path], **kwargs) -> Image.Image:
    ds = datasets.Dataset.from_parquet([str(f) for f in files], keep_in_memory=True)
    return contact_sheet(ds, **kwargs)
