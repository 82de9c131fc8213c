"""Installs that fit each user: the import graph, the pipeline without Blender or Ray, and the
requirements of the installed package's metadata."""

import ast
import importlib.metadata
import subprocess
import sys
import textwrap
from pathlib import Path

from packaging.requirements import Requirement

PROJECT_ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("animeceleb", "animo_hf", "dataset_builder")
BLENDER = {"bpy", "mathutils", "addon_utils", "bmesh"}
NOT_FOR_ANIMO = BLENDER | {"ray", "datasets", "dataset_builder"}


def _module_name(path: Path) -> str:
    parts = path.relative_to(PROJECT_ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, module: str, *, top_level_only: bool) -> set[str]:
    """Absolute names of the modules ``path`` imports (relative imports resolved)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    nodes = tree.body if top_level_only else ast.walk(tree)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    names = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                target = f"{base}.{node.module}" if node.module else base
                names.add(target)
                names.update(f"{target}.{alias.name}" for alias in node.names)
            else:
                names.add(node.module)
    return names


def _graph(*, top_level_only: bool) -> dict[str, set[str]]:
    graph = {}
    for package in PACKAGES:
        for path in sorted((PROJECT_ROOT / package).rglob("*.py")):
            module = _module_name(path)
            graph[module] = _imports(path, module, top_level_only=top_level_only)
    return graph


def _reachable(graph: dict[str, set[str]], start: str) -> set[str]:
    """Every module ``start`` imports, directly or through project modules (and their parent
    packages, which Python imports first)."""
    seen, stack = set(), [start]
    while stack:
        module = stack.pop()
        parts = module.split(".")
        for i in range(1, len(parts) + 1):
            name = ".".join(parts[:i])
            if name not in seen:
                seen.add(name)
                stack.extend(graph.get(name, ()))
    return seen - {start}


def _top_names(modules: set[str]) -> set[str]:
    return {m.split(".")[0] for m in modules}


def test_nothing_in_animo_hf_reaches_blender_ray_datasets_or_the_builder():
    graph = _graph(top_level_only=False)  # imports inside functions count too
    for module in (m for m in graph if m.split(".")[0] == "animo_hf"):
        bad = _top_names(_reachable(graph, module)) & NOT_FOR_ANIMO
        assert not bad, f"{module} imports {sorted(bad)}"


def test_animeceleb_imports_only_the_standard_library_and_numpy():
    graph = _graph(top_level_only=False)
    for module in (m for m in graph if m.split(".")[0] == "animeceleb"):
        outside = _top_names(_reachable(graph, module)) - {"animeceleb", "numpy"}
        assert outside <= sys.stdlib_module_names, f"{module} imports {outside}"


def test_every_builder_module_that_imports_bpy_is_in_the_blender_subpackage():
    direct = _graph(top_level_only=False)
    importers = {m for m, names in direct.items() if _top_names(names) & BLENDER}
    assert importers, "no module imports bpy: the check below would pass vacuously"
    outside = sorted(m for m in importers if not m.startswith("dataset_builder.blender"))
    assert not outside, f"modules outside dataset_builder/blender import bpy: {outside}"
    # Importing any other builder module never brings bpy in (function-level imports may).
    top_level = _graph(top_level_only=True)
    for module in top_level:
        if module.startswith("dataset_builder") and not module.startswith(
            "dataset_builder.blender"
        ):
            reached = _reachable(top_level, module)
            assert not _top_names(reached) & BLENDER, f"importing {module} imports bpy"


BLOCKED_IMPORTS = textwrap.dedent(
    """
    import importlib.abc, sys

    class Block(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in {"bpy", "ray"}:
                raise ImportError(f"{name} is blocked in this test")
            return None

    sys.meta_path.insert(0, Block())
    import tempfile
    import numpy as np, PIL.Image, torch
    import animo_hf
    from animo_hf import (AniMoPipeline, EditingNetwork, MotionNetwork, PoseMapping,
                          WarpingNetwork, sample_poses)

    folder = tempfile.mkdtemp()
    parts = PoseMapping(), MotionNetwork(), WarpingNetwork(), EditingNetwork()
    AniMoPipeline(*parts).save_pretrained(folder)
    pipe = AniMoPipeline.from_pretrained(folder)
    pipe.set_progress_bar_config(disable=True)
    image = PIL.Image.new("RGBA", (64, 64), (200, 120, 90, 255))
    out = pipe(image, pose=sample_poses(2, torch.Generator().manual_seed(0)), height=64, width=64)
    out2 = pipe(image, blendshapes={"jawOpen": 0.8, "yaw": 10.0}, height=64, width=64)
    assert len(out.frames) == 2 and len(out2.frames) == 1
    unwanted = {"bpy", "ray", "datasets", "dataset_builder"}
    loaded = sorted({m.split(".")[0] for m in sys.modules} & unwanted)
    print("OK", loaded)
    """
)


def test_the_pipeline_runs_where_bpy_and_ray_cannot_be_imported():
    result = subprocess.run(
        [sys.executable, "-c", BLOCKED_IMPORTS],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=PROJECT_ROOT,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().splitlines()[-1] == "OK []"


def _requirements() -> tuple[set[str], dict[str, set[str]]]:
    """The installed package's base requirement names and, per extra, its requirement names."""
    base: set[str] = set()
    extras: dict[str, set[str]] = {}
    for text in importlib.metadata.requires("animeceleb-hf") or []:
        requirement = Requirement(text)
        marker = str(requirement.marker or "")
        if "extra" not in marker:
            base.add(requirement.name.lower())
            continue
        for extra in importlib.metadata.metadata("animeceleb-hf").get_all("Provides-Extra"):
            if requirement.marker.evaluate({"extra": extra}):
                extras.setdefault(extra, set()).add(requirement.name.lower())
    return base, extras


def test_the_base_install_names_no_blender_ray_gradio_or_training_only_packages():
    base, extras = _requirements()
    assert {"torch", "datasets", "diffusers", "accelerate", "mediapipe", "safetensors"} <= base
    assert not base & {"bpy", "ray", "gradio", "evaluate", "transformers"}
    assert {"bpy", "ray"} <= extras["render"]
    assert {"evaluate", "transformers"} <= extras["train"]
    assert "gradio" in extras["space"]
    assert extras["all"] == {"animeceleb-hf"} and extras["dev"] >= {"animeceleb-hf", "pytest"}


def test_all_and_dev_bring_every_extra():
    chained = {}
    for text in importlib.metadata.requires("animeceleb-hf"):
        requirement = Requirement(text)
        if requirement.name == "animeceleb-hf":
            for extra in ("all", "dev"):
                if requirement.marker.evaluate({"extra": extra}):
                    chained[extra] = requirement.extras
    assert chained == {"all": {"render", "train", "space"}, "dev": {"all"}}
