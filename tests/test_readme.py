"""The README runs as written: every Python code block, in a folder laid out as after the main
command (``outputs/demo/hub`` a real build; the shipped weights and the Space's examples), and
the two commands at its top are the setup-and-run commands this project documents."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
PYTHON_BLOCKS = re.findall(r"```python\n(.*?)```", README, flags=re.DOTALL)


def test_the_readme_opens_with_the_two_commands():
    first = re.search(r"```bash\n(.*?)```", README, flags=re.DOTALL)
    assert README.index(first.group(0)) < README.index("\n## ")
    main, tests = first.group(1).strip().splitlines()
    assert (
        main == "bash scripts/setup.sh && .venv/bin/python scripts/quickstart.py --out outputs/demo"
    )
    assert tests == 'bash scripts/setup.sh && .venv/bin/python -m pytest -m "not slow"'


@pytest.mark.parametrize("index", range(len(PYTHON_BLOCKS)))
def test_each_python_block_runs(index, tiny_dataset, tmp_path):
    (tmp_path / "outputs" / "demo").mkdir(parents=True)
    (tmp_path / "outputs" / "demo" / "hub").symlink_to(tiny_dataset)
    for folder in ("weights", "spaces"):
        (tmp_path / folder).symlink_to(ROOT / folder)
    result = subprocess.run(
        [sys.executable, "-c", PYTHON_BLOCKS[index]],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, (
        f"README block {index}:\n{PYTHON_BLOCKS[index]}\n{result.stderr[-3000:]}"
    )


def test_the_readme_has_python_blocks_for_each_entry_point():
    code = "\n".join(PYTHON_BLOCKS)
    for entry in ("load_dataset(", "AniMoPipeline.from_pretrained(", "pose_from_morphs("):
        assert entry in code


def test_the_main_command_runs_the_whole_path(tmp_path, carphone_path):
    """`python scripts/quickstart.py`: Blender renders, load_dataset, the shipped weights
    animate a held-out character driven by the carphone clip; the MP4, figure and sheet."""
    from animo_hf.video import read_video

    out = tmp_path / "demo"
    command = [sys.executable, "scripts/quickstart.py", "--out", str(out), "--workers", "2"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=900, cwd=ROOT)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "load_dataset: test:" in result.stdout and "(cel, held out)" in result.stdout
    assert "Start the Space: .venv/bin/python spaces/animo/app.py" in result.stdout
    adapter = ROOT / "weights" / "animo-lora"  # the shipped adapter, fused, when present
    assert f"weights: {ROOT / 'weights' / 'animo'}" in result.stdout
    assert (f"+ LoRA adapter {adapter}" in result.stdout) == adapter.is_dir()
    frames, _ = read_video(out / "animo_carphone.mp4")
    assert len(frames) == len(read_video(carphone_path)[0])
    for name in ("animo_carphone.png", "contact_sheet.png", "hub/README.md"):
        assert (out / name).is_file(), name
