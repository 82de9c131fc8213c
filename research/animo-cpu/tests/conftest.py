"""Fixtures for the research scripts' tests: the product's test settings and shared fixtures
(``tests/conftest.py``: no network, a fresh Hugging Face home, the tiny real build), loaded from
the product, which never loads anything from here. CI does not run these tests (``pyproject.toml``
collects ``tests/`` only); run them with
``python -m pytest -p no:cacheprovider research/animo-cpu/tests``."""

import importlib.util
from pathlib import Path

import pytest
import torch

PROJECT_ROOT = Path(__file__).resolve().parents[3]
SCRIPTS = Path(__file__).resolve().parents[1] / "scripts"

_spec = importlib.util.spec_from_file_location(
    "animeceleb_product_conftest", PROJECT_ROOT / "tests" / "conftest.py"
)
_product = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_product)
tiny_dataset = _product.tiny_dataset


@pytest.fixture(scope="session")
def script_path():
    """``script_path(name)``: ``research/animo-cpu/scripts/<name>.py``."""
    return lambda name: SCRIPTS / f"{name}.py"


@pytest.fixture(scope="session")
def load_script(script_path):
    """``load_script(name)``: the module of ``research/animo-cpu/scripts/<name>.py``."""

    def load(name: str):
        spec = importlib.util.spec_from_file_location(name, script_path(name))
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module

    return load


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    """A randomly initialised AniMo pipeline in the Hub layout."""
    from animo_hf import AniMoPipeline, EditingNetwork, MotionNetwork, PoseMapping, WarpingNetwork

    folder = tmp_path_factory.mktemp("weights")
    torch.manual_seed(0)
    AniMoPipeline(
        PoseMapping(), MotionNetwork(), WarpingNetwork(), EditingNetwork()
    ).save_pretrained(folder)
    return folder
