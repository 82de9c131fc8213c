"""The house's shape, read from the code's imports (``ast``, nothing run): data flows one way
(3D models -> dataset_builder -> Parquet -> training -> weights -> pipeline -> Space), so each
product package imports only the packages below it; no module imports itself round a circle; the
product never imports ``research/``; and no product module outgrows about 500 lines."""

import ast
from collections import defaultdict
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
# package -> the project packages it may import (besides itself)
ALLOWED = {
    "animeceleb": set(),
    "dataset_builder": {"animeceleb"},
    "animo_hf": {"animeceleb"},
    "training": {"animeceleb", "dataset_builder", "animo_hf"},
    "spaces": {"animeceleb", "animo_hf", "dataset_builder"},
}
PROJECT = {*ALLOWED, "research", "tests", "benchmarks", "scripts"}
MAX_LINES = 510


def product_modules() -> dict[str, Path]:
    """Dotted module name -> file, for every Python file of the product packages."""
    modules = {}
    for package in ALLOWED:
        for path in sorted((REPO / package).rglob("*.py")):
            parts = path.relative_to(REPO).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            modules[".".join(parts)] = path
    return modules


def imported(module: str, path: Path) -> set[str]:
    """The absolute names ``module`` imports (relative imports resolved), function-level
    imports included."""
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            stem = ".".join([*base, node.module] if node.module else base)
            names.add(stem)
            names.update(f"{stem}.{alias.name}" for alias in node.names)
    return names


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    modules = product_modules()
    edges = defaultdict(set)
    for module, path in modules.items():
        for name in imported(module, path):
            if (name in modules and name != module) or name.split(".")[0] in PROJECT:
                edges[module].add(name)
    return edges


def test_packages_import_only_what_is_below_them_in_the_data_flow(graph):
    wrong = sorted(
        f"{module} imports {name}"
        for module, names in graph.items()
        for name in names
        if name.split(".")[0] != module.split(".")[0]
        and name.split(".")[0] not in ALLOWED[module.split(".")[0]]
    )
    assert not wrong, wrong


def test_no_module_imports_itself_round_a_circle(graph):
    modules = set(product_modules())
    edges = {m: {n for n in graph.get(m, ()) if n in modules} for m in modules}
    # a module's package __init__ runs before it: importing a package is no circle back to it
    circles, state = [], {}

    def visit(module: str, trail: list[str]) -> None:
        state[module] = "open"
        for name in sorted(edges[module]):
            if module.startswith(f"{name}."):
                continue
            if state.get(name) == "open":
                circles.append(" -> ".join([*trail[trail.index(name) :], name]))
            elif name not in state:
                visit(name, [*trail, name])
        state[module] = "done"

    for module in sorted(modules):
        if module not in state:
            visit(module, [module])
    assert not circles, circles


def test_no_product_module_is_over_about_500_lines():
    long = {
        str(path.relative_to(REPO)): count
        for path in product_modules().values()
        if (count := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert not long, long
