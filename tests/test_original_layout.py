"""The original AnimeCeleb release layout, both ways, on a build of ours: the round trip keeps
every image (byte for byte) and pose; bad folders are one line."""

import csv

import pyarrow.parquet as pq
import pytest

from animeceleb.pose import POSE_NAMES
from dataset_builder.cli import main
from dataset_builder.features import decode_rows


def rows_of(hub):
    rows = []
    for path in sorted((hub / "data").glob("*.parquet")):
        rows += decode_rows(pq.read_table(path))
    return rows


def test_round_trip_through_the_original_layout(tiny_dataset, tmp_path, capsys):
    original = tmp_path / "AnimeCeleb"
    assert main(["export-original", "--hub-dir", str(tiny_dataset), "--out", str(original)]) == 0
    with open(original / "combined_pose.csv", newline="") as handle:
        lines = list(csv.reader(handle))
    assert lines[0] == ["org_id", "folder_name", "png_name", *POSE_NAMES]
    ours = rows_of(tiny_dataset)
    assert len(lines) - 1 == sum(r["group"] != "basis" for r in ours)
    org_id, folder, png = lines[1][:3]
    assert (original / "rotation" / folder / png).is_file()
    assert (original / "basis" / folder / "basis.png").is_file()

    build = tmp_path / "back"
    command = ["import-original", "--original", str(original), "--out", str(build)]
    assert main([*command, "--license", "cc-by-4.0", "--attribution", "AnimeCeleb-HF"]) == 0
    back = rows_of(build / "hub")

    def keyed(rows):
        return {
            (r["model_id"], r["style"], r["group"], r["pair_id"]): (
                r["image"],
                [round(v, 5) for v in r["pose"]],
            )
            for r in rows
        }

    assert keyed(back) == keyed(ours)  # same images, byte for byte, and the same poses
    assert {r["license"] for r in back} == {"cc-by-4.0"}


def test_bad_original_folders_are_one_line(tmp_path, capsys):
    out = tmp_path / "never"
    command = ["import-original", "--out", str(out), "--license", "x", "--attribution", "y"]
    assert main([*command, "--original", str(tmp_path)]) == 2
    assert "combined_pose.csv: not found" in capsys.readouterr().err
    (tmp_path / "combined_pose.csv").write_text(
        "org_id,folder_name,png_name," + ",".join(POSE_NAMES) + "\na,b,c.png," + "0," * 19 + "0\n"
    )
    assert main([*command, "--original", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.endswith("c.png, which does not exist") and len(err.splitlines()) == 1
    assert not (out / "hub").exists()
    with pytest.raises(SystemExit):
        main(["export-original", "--out", str(out)])  # --hub-dir is required
