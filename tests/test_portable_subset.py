"""scripts/portable_subset.py: slices of a build written into one folder load together, keep the
build's schema and the chosen rows, and decode to the same visible pixels."""

import io
import subprocess
import sys
from pathlib import Path

import numpy as np
import PIL.Image
import pytest

from training.animo.configuration_animo import TrainConfig
from training.data import load_split, training_pairs

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "portable_subset.py"


def run_script(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args], capture_output=True, text=True, check=False
    )


def rgba(data: bytes) -> np.ndarray:
    return np.asarray(PIL.Image.open(io.BytesIO(data)).convert("RGBA"))


def test_slices_load_together_with_the_same_pixels(tiny_dataset, tmp_path, load_script):
    subset = load_script("portable_subset")
    out = tmp_path / "slices"
    first = subset.write_slice(str(tiny_dataset), "train", 0, 1, 2, out, num_proc=1)
    second = subset.write_slice(str(tiny_dataset), "train", 1, 5, 2, out, num_proc=1)
    assert (first.name, second.name) == ("train-00000-00001.parquet", "train-00001-00002.parquet")
    assert not list(out.rglob("*.tmp"))

    full, sliced = load_split(str(tiny_dataset), "train"), load_split(str(out), "train")
    assert sliced.features == full.features
    # two training characters, each: its basis and 2 of its 3 frontal/rotated pairs
    assert sorted(set(sliced["model_id"])) == sorted(set(full["model_id"]))
    assert len(sliced) == 2 * (1 + 2 * 2)
    groups = sliced.features["group"].names
    for model_id in set(sliced["model_id"]):
        rows = [r for r in sliced if r["model_id"] == model_id]
        assert [groups[r["group"]] for r in rows].count("basis") == 1
        assert len({r["pair_id"] for r in rows if groups[r["group"]] != "basis"}) == 2

    by_key = {(r["model_id"], r["group"], r["pair_id"]): r for r in full}
    for row in sliced:
        original = by_key[(row["model_id"], row["group"], row["pair_id"])]
        assert PIL.Image.open(io.BytesIO(row["image"]["bytes"])).format == "WEBP"
        assert row["pose"] == original["pose"]
        new, old = rgba(row["image"]["bytes"]), rgba(original["image"]["bytes"])
        visible = old[..., 3] > 0
        assert np.array_equal(new[visible], old[visible])
        assert np.array_equal(new[..., 3], old[..., 3])

    config = TrainConfig.from_dict(
        {"data": {"dataset": str(out)}, "checkpoints": {"output_dir": str(tmp_path / "run")}}
    )
    pairs = training_pairs(
        sliced, config.data, config.pairs.source_groups, config.pairs.target_groups, config.seed
    )
    assert len(pairs) == 2 * 2 * 2  # every frontal and rotated target, with its basis


def test_a_range_past_the_split_is_one_line(tiny_dataset, tmp_path):
    out = str(tmp_path / "slices")
    result = run_script(
        "--dataset", str(tiny_dataset), "--first", "5", "--models", "2", "--out", out
    )
    assert result.returncode != 0
    last_line = result.stderr.strip().splitlines()[-1]  # after datasets' progress bars
    assert last_line == "error: --first 5: the split has only 2 characters"
    assert not (tmp_path / "slices" / "data").exists() or not any(
        (tmp_path / "slices" / "data").iterdir()
    )


@pytest.mark.parametrize("flag", ["--models", "--samples"])
def test_counts_below_one_are_refused(tmp_path, flag):
    result = run_script("--dataset", "x", "--models", "1", "--out", str(tmp_path), flag, "0")
    assert result.returncode == 2
    assert f"{flag} 0: expected a count >= 1" in result.stderr


def test_rows_without_pair_ids_are_one_line(tiny_dataset, tmp_path):
    rows = load_split(str(tiny_dataset), "train").remove_columns("pair_id")
    (tmp_path / "bare" / "data").mkdir(parents=True)
    rows.to_parquet(str(tmp_path / "bare" / "data" / "train-00000.parquet"))
    result = run_script(
        "--dataset", str(tmp_path / "bare"), "--models", "1", "--out", str(tmp_path / "slices")
    )
    assert result.returncode == 1
    last_line = result.stderr.strip().splitlines()[-1]  # after datasets' progress bars
    assert last_line.startswith("error: no pair_id column (columns: [")
    assert not (tmp_path / "slices").exists()
