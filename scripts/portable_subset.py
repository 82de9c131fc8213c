"""A small, portable slice of an AnimeCeleb build, to train where the full build cannot be copied.

    python scripts/portable_subset.py --dataset outputs/animeceleb-500/hub --first 22 --models 48 \
        --samples 5 --out outputs/animeceleb-500-slices

Takes characters ``first .. first+models`` (in model-id order) of one split and, per character and
style, the basis image and the first ``samples`` frontal/rotated pairs (in pair-id order); the
images are re-encoded as lossless WebP (the 500-character build's PNGs shrink 2.6x: 48 characters,
5 pairs, 41 MiB; every pixel with any alpha decodes to the same RGBA). Writes
``data/{split}-{first:05d}-{end:05d}.parquet`` with the build's ``Features``, so slices written
into one folder load together with ``load_dataset`` (and train with ``animeceleb-train
--dataset``). Nothing is half-written: the file appears by rename.
"""

from __future__ import annotations

import argparse
import io
from pathlib import Path

import datasets
import PIL.Image

from dataset_builder.files import atomic_path
from training.data import load_split


def webp_lossless(png: bytes) -> bytes:
    """``png`` re-encoded as lossless WebP."""
    out = io.BytesIO()
    PIL.Image.open(io.BytesIO(png)).save(out, "WEBP", lossless=True, quality=50, method=1)
    return out.getvalue()


def slice_rows(
    rows: datasets.Dataset, first: int, models: int, samples: int
) -> tuple[list[int], list[str]]:
    """The rows of characters ``first .. first+models`` (model-id order) kept by the slice (the
    basis, and the first ``samples`` pair ids per character and style), and those characters' ids;
    ``ValueError`` when the range holds no character or the rows have no ``pair_id``."""
    if "pair_id" not in rows.column_names:
        raise ValueError(f"no pair_id column (columns: {rows.column_names}); expected a build's")
    columns = rows.select_columns(["model_id", "style", "group", "pair_id"]).to_dict()
    keys = list(zip(columns["model_id"], columns["style"], strict=True))
    basis = [rows.features["group"].names[group] == "basis" for group in columns["group"]]
    characters = sorted(set(columns["model_id"]))
    chosen = set(characters[first : first + models])
    if not chosen:
        raise ValueError(f"--first {first}: the split has only {len(characters)} characters")
    pair_ids: dict[tuple[str, int], set[str]] = {}
    for key, is_basis, pair_id in zip(keys, basis, columns["pair_id"], strict=True):
        if key[0] in chosen and not is_basis:
            pair_ids.setdefault(key, set()).add(pair_id)
    kept_pairs = {key: set(sorted(ids)[:samples]) for key, ids in pair_ids.items()}
    kept = [
        row
        for row, (key, is_basis, pair_id) in enumerate(
            zip(keys, basis, columns["pair_id"], strict=True)
        )
        if key[0] in chosen and (is_basis or pair_id in kept_pairs[key])
    ]
    return kept, sorted(chosen)


def write_slice(
    dataset: str, split: str, first: int, models: int, samples: int, out: Path, num_proc: int
) -> Path:
    """Write one slice (module docstring) under ``out``; return its file."""
    rows = load_split(dataset, split)
    kept, chosen = slice_rows(rows, first, models, samples)
    subset = rows.select(kept).map(
        lambda image: {"image": {"bytes": webp_lossless(image["bytes"]), "path": None}},
        input_columns="image",
        num_proc=num_proc if num_proc > 1 else None,
        desc="lossless WebP",
    )
    path = out / "data" / f"{split}-{first:05d}-{first + len(chosen):05d}.parquet"
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        subset.to_parquet(str(tmp))
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", required=True, help="a build's Hub folder or a repo id")
    parser.add_argument("--split", default="train")
    parser.add_argument("--first", type=int, default=0, help="index of the first character")
    parser.add_argument("--models", type=int, required=True, help="how many characters")
    parser.add_argument("--samples", type=int, default=5, help="pairs per character and style")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--num-proc", type=int, default=1)
    args = parser.parse_args()
    for name, least in (("first", 0), ("models", 1), ("samples", 1)):
        if getattr(args, name) < least:
            parser.error(f"--{name} {getattr(args, name)}: expected a count >= {least}")
    try:
        path = write_slice(
            args.dataset, args.split, args.first, args.models, args.samples, args.out, args.num_proc
        )
    except ValueError as error:
        raise SystemExit(f"error: {error}") from None
    print(f"wrote {path} ({path.stat().st_size / 2**20:.1f} MiB)")


if __name__ == "__main__":
    main()
