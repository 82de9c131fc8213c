"""The research scripts (``research/animo-cpu/scripts/``) on a tiny real build and random weights:
the parts of the composition, the sub-pixel ceiling and the error per band of rows. Moved here
from ``tests/test_evaluate.py`` with the scripts; not run by CI."""

import subprocess
import sys

import PIL.Image
import pytest
import torch


def test_the_mouth_figure_shows_each_part_of_the_most_open_mouths(
    tiny_dataset, weights, tmp_path, script_path
):
    figure = tmp_path / "mouths.png"
    command = [sys.executable, str(script_path("composition_parts")), "--weights", str(weights)]
    command += ["--dataset", str(tiny_dataset), "--resolution", "64", "--figure", str(figure)]
    result = subprocess.run(command + ["--figure-rows", "2"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "| frontal | output |" in result.stdout
    assert "| frontal | target resampled |" in result.stdout
    with PIL.Image.open(figure) as image:
        # two targets, each a row of six 64² parts and a row of their lower faces (2x 19 rows)
        assert image.size == (6 * 64, 2 * (64 + 2 * 19))


def test_subpixel_shift_flow_moves_each_image_by_less_than_a_pixel(load_script):
    flow = load_script("composition_parts").subpixel_shift_flow(
        64, 8, 32, torch.Generator().manual_seed(0)
    )
    assert flow.shape == (64, 2, 1, 1)
    pixels = flow[:, :, 0, 0] * torch.tensor([32 / 2, 8 / 2])  # back to pixels (x, y)
    assert pixels.min() >= 0 and pixels.max() < 1 and pixels.std(dim=0).min() > 0.2


def test_error_by_rows_puts_a_difference_in_its_band(load_script):
    module = load_script("error_by_rows")
    targets = torch.zeros(2, 3, 8, 4)
    outputs = targets.clone()
    outputs[:, :, 6:] = 1.0  # the bottom quarter off by 1 in [-1, 1]: 0.5 in [0, 1]
    assert module.band_errors(outputs, targets, 4) == [0.0, 0.0, 0.0, 0.5]
    assert module.band_errors(outputs, targets, 2) == [0.0, 0.25]
    with pytest.raises(SystemExit, match="--bands: 3; expected a divisor of the image height 8"):
        module.band_errors(outputs, targets, 3)


def test_error_by_rows_runs_on_a_build_and_its_bands_make_the_whole(
    tiny_dataset, weights, script_path
):
    command = [sys.executable, str(script_path("error_by_rows")), "--weights", str(weights)]
    command += ["--dataset", str(tiny_dataset), "--resolution", "64", "--bands", "4"]
    result = subprocess.run(command, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    rows = [line.split("|")[1:-1] for line in result.stdout.splitlines() if line.startswith("| ")]
    table = {(r[0].strip(), r[1].strip()): [float(x) for x in r[2:]] for r in rows[1:]}
    assert set(table) == {(g, m) for g in ("frontal", "rotated") for m in ("AniMo", "copy-source")}
    for whole, *bands in table.values():
        assert len(bands) == 4 and whole == pytest.approx(sum(bands) / 4, abs=2e-4)
    assert table[("rotated", "AniMo")] != table[("rotated", "copy-source")]
