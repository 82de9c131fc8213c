"""Run one benchmark on a baseline revision's code and on the working tree's, interleaved, and
report each measured figure of both with its ratio (current / baseline), all from the same run.

The baseline is checked out with ``git worktree`` into a temporary folder. The benchmark script is
the working tree's for both sides (the same instrument); only the code it imports differs
(``PYTHONPATH`` set to each tree), so the script must use APIs both revisions have. Rounds
alternate baseline, current, baseline, current ..., and each side's median is reported.

    python benchmarks/compare_revisions.py --baseline HEAD~3 --rounds 2 render_throughput -- \\
        --models 4 --samples 10 --styles cel,original
    python benchmarks/compare_revisions.py --baseline HEAD~3 animate_fps -- --rounds 2

The benchmark must accept ``--json PATH``. Figures are matched by their place in that JSON (list
items by their ``style``/``workers``/``variant``/``size``/``batch`` fields).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from machine import describe_machine  # benchmarks/machine.py

PROJECT_ROOT = Path(__file__).resolve().parents[1]
ID_FIELDS = ("models", "style", "workers", "variant", "size", "batch", "frame_size")


def flatten(value, prefix: str = "") -> dict[str, float]:
    """Numeric leaves of a benchmark's JSON as {path: number}; a list of numbers (repeated
    samples) counts by its best (largest) value."""
    if isinstance(value, bool):
        return {}
    if isinstance(value, int | float):
        return {prefix: float(value)}
    if isinstance(value, dict):
        out: dict[str, float] = {}
        for key, item in value.items():
            if key not in ID_FIELDS:
                out.update(flatten(item, f"{prefix}.{key}" if prefix else key))
        return out
    if isinstance(value, list) and value and all(isinstance(v, int | float) for v in value):
        return {f"{prefix}.best": float(max(value))}  # repeated samples of one figure
    if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        out = {}
        for item in value:
            label = ",".join(f"{k}={item[k]}" for k in ID_FIELDS if k in item)
            out.update(flatten(item, f"{prefix}[{label}]"))
        return out
    return {}


def run_once(code: Path, benchmark: str, args: list[str]) -> dict[str, float]:
    """Run ``benchmarks/<benchmark>.py`` of the working tree importing the code in ``code``."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "result.json"
        env = {**os.environ, "PYTHONPATH": str(code)}
        script = PROJECT_ROOT / "benchmarks" / f"{benchmark}.py"
        subprocess.run(
            [sys.executable, str(script), *args, "--json", str(out)], cwd=tmp, env=env, check=True
        )
        return flatten(json.loads(out.read_text()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--baseline", default="HEAD", help="git revision to compare against")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--json", type=Path, help="write every sample and ratio here")
    parser.add_argument("benchmark", help="a script in benchmarks/, without .py")
    parser.add_argument("args", nargs=argparse.REMAINDER, help="-- then the benchmark's arguments")
    options = parser.parse_args()
    args = options.args[1:] if options.args[:1] == ["--"] else options.args

    with tempfile.TemporaryDirectory(prefix="baseline-") as tmp:
        baseline = Path(tmp) / "tree"
        subprocess.run(
            ["git", "worktree", "add", "--detach", str(baseline), options.baseline],
            cwd=PROJECT_ROOT,
            check=True,
            capture_output=True,
        )
        try:
            samples: dict[str, list[dict[str, float]]] = {"baseline": [], "current": []}
            for _ in range(options.rounds):
                samples["baseline"].append(run_once(baseline, options.benchmark, args))
                samples["current"].append(run_once(PROJECT_ROOT, options.benchmark, args))
        finally:
            subprocess.run(
                ["git", "worktree", "remove", "--force", str(baseline)], cwd=PROJECT_ROOT
            )
    rows = []
    for key in samples["current"][0]:
        if not all(key in s for side in samples.values() for s in side):
            continue
        before = statistics.median(s[key] for s in samples["baseline"])
        after = statistics.median(s[key] for s in samples["current"])
        ratio = after / before if before else float("nan")
        rows.append({"figure": key, "baseline": before, "current": after, "ratio": ratio})
    machine = describe_machine()
    print(
        f"\n{options.benchmark}: baseline {options.baseline} vs working tree; {machine}; "
        f"median of {options.rounds} interleaved rounds"
    )
    print("| figure | baseline | current | current / baseline |\n|---|---|---|---|")
    for row in rows:
        print(
            f"| {row['figure']} | {row['baseline']:.4g} | {row['current']:.4g} | "
            f"{row['ratio']:.3f} |"
        )
    if options.json:
        record = {"machine": machine, "rows": rows, "samples": samples}
        options.json.write_text(json.dumps(record, indent=1))


if __name__ == "__main__":
    main()
