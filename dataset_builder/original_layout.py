"""The original AnimeCeleb release layout, both ways: anyone holding the original files can publish
them as a Parquet Hub folder, and a build of ours can be written in that layout (no bpy).

The layout::

    combined_pose.csv                      org_id, folder_name, png_name, then the 20 pose values
    rotation/<folder_name>/<png_name>      the expression images (angles 0) and the rotated ones
    basis/<folder_name>/basis.png          the neutral image

Ours to it: one folder per character and style, ``<model_id>_<style>``; ``org_id`` is the model
id and ``png_name`` ``<pair_id>_<group>.png``. It to ours: the model id is ``org_id``; the style
comes from a folder named ``<org_id>_<style>`` (else ``original``: the release's own shading);
an image whose angles are all 0 is ``frontal``, any other ``rotated``; the pair id is the file
name's stem (without a ``_<group>`` suffix); licence and attribution are given by the person
converting (the release's own terms).
"""

from __future__ import annotations

import csv
import os
import shutil
import tempfile
from collections import defaultdict
from pathlib import Path

import pyarrow.parquet as pq

from animeceleb.pose import ANGLE_SLICE, POSE_DIM, POSE_NAMES

from .features import decode_rows
from .publisher import write_hub_folder
from .sampling import basis_pair_id
from .shards import write_shard
from .sources import ORIGINAL_RELEASE
from .styles import STYLE_NAMES

POSE_CSV = "combined_pose.csv"
CSV_COLUMNS = ("org_id", "folder_name", "png_name", *POSE_NAMES)
BASIS_PNG = "basis.png"


def export_original_layout(hub_dir: str | os.PathLike, out_dir: str | os.PathLike) -> Path:
    """Write the AnimeCeleb Hub folder ``hub_dir`` (every split) in the original layout at
    ``out_dir`` (a new folder, written under a temporary name and renamed when complete).
    PNG bytes are copied as they are."""
    hub_dir, out_dir = Path(hub_dir), Path(out_dir)
    files = sorted((hub_dir / "data").glob("*.parquet"))
    if not files:
        raise ValueError(f"{hub_dir}: no data/*.parquet; expected an AnimeCeleb Hub folder")
    if out_dir.exists():
        raise ValueError(f"{out_dir}: exists; expected a new folder for the original layout")
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    try:
        lines = []
        for path in files:
            for row in decode_rows(pq.read_table(path)):
                folder = f"{row['model_id']}_{row['style']}"
                if row["group"] == "basis":
                    target = staging / "basis" / folder / BASIS_PNG
                else:
                    png = f"{row['pair_id']}_{row['group']}.png"
                    target = staging / "rotation" / folder / png
                    lines.append([row["model_id"], folder, png, *row["pose"]])
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(row["image"])
        with open(staging / POSE_CSV, "w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(CSV_COLUMNS)
            writer.writerows(sorted(lines, key=lambda line: (line[1], line[2])))
        os.replace(staging, out_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return out_dir


def read_pose_csv(path: Path) -> list[tuple[str, str, str, list[float]]]:
    """(org_id, folder_name, png_name, pose) per line; ``ValueError`` naming the file and line."""
    if not path.is_file():
        raise ValueError(f"{path}: not found; expected the release's {POSE_CSV}")
    entries = []
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if header is None or tuple(h.strip() for h in header[:3]) != CSV_COLUMNS[:3]:
            raise ValueError(f"{path}: expected the columns {', '.join(CSV_COLUMNS[:3])}, pose")
        for number, line in enumerate(reader, start=2):
            if len(line) != 3 + POSE_DIM:
                raise ValueError(
                    f"{path}, line {number}: {len(line)} values; expected 3 names and "
                    f"{POSE_DIM} pose values"
                )
            try:
                pose = [float(value) for value in line[3:]]
            except ValueError:
                raise ValueError(f"{path}, line {number}: a pose value is not a number") from None
            entries.append((line[0], line[1], line[2], pose))
    if not entries:
        raise ValueError(f"{path}: lists no images")
    return entries


def _style_of(org_id: str, folder: str) -> str:
    prefix = f"{org_id}_"
    style = folder[len(prefix) :] if folder.startswith(prefix) else ""
    return style if style in STYLE_NAMES else "original"


def _pair_id(png_name: str, group: str) -> str:
    stem = Path(png_name).stem
    return stem.removesuffix(f"_{group}")


def import_original_layout(
    original_dir: str | os.PathLike,
    out_dir: str | os.PathLike,
    *,
    license: str,
    attribution: str,
) -> Path:
    """Convert a folder in the original layout into an AnimeCeleb Hub folder at
    ``out_dir/hub`` (one shard per character in ``out_dir/render`` first); returns the Hub
    folder. Every image listed must exist; ``ValueError`` names the first that does not."""
    original_dir, out_dir = Path(original_dir), Path(out_dir)
    if out_dir.exists() and any(out_dir.iterdir()):
        raise ValueError(f"{out_dir}: not empty; expected a new folder for the converted build")
    entries = read_pose_csv(original_dir / POSE_CSV)
    credit = {"source": ORIGINAL_RELEASE, "license": license, "attribution": attribution}
    rows: dict[str, list[dict]] = defaultdict(list)
    basis_folders: dict[str, str] = {}
    for org_id, folder, png_name, pose in entries:
        image = original_dir / "rotation" / folder / png_name
        if not image.is_file():
            raise ValueError(f"{original_dir / POSE_CSV}: lists {image}, which does not exist")
        group = "rotated" if any(pose[ANGLE_SLICE]) else "frontal"
        pair_id = _pair_id(png_name, group)
        rows[org_id].append(_row(org_id, folder, group, pair_id, pose, image) | credit)
        basis_folders[folder] = org_id
    for folder, org_id in sorted(basis_folders.items()):
        image = original_dir / "basis" / folder / BASIS_PNG
        if image.is_file():
            neutral = [0.0] * POSE_DIM
            pair_id = basis_pair_id(org_id)
            rows[org_id].append(_row(org_id, folder, "basis", pair_id, neutral, image) | credit)
    render = out_dir / "render"
    render.mkdir(parents=True, exist_ok=True)
    for org_id, model_rows in sorted(rows.items()):
        write_shard(model_rows, render / f"{org_id}.parquet")
    return write_hub_folder(render, out_dir / "hub")


def _row(
    org_id: str, folder: str, group: str, pair_id: str, pose: list[float], image: Path
) -> dict:
    """One example (without source, licence and attribution)."""
    return {
        "image": image.read_bytes(),
        "pose": pose,
        "model_id": org_id,
        "style": _style_of(org_id, folder),
        "group": group,
        "pair_id": pair_id,
    }
