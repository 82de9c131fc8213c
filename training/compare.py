"""One table from several ``animeceleb-eval`` runs (an ablation): the headline figures of one
method per run and group, and the copy-source rows of the first run for scale.

    python -m training.compare control=outputs/eval/ft-control adversarial=outputs/eval/ft-adv
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .results import markdown_table, summary


def comparison(runs: dict[str, dict], method: str = "AniMo") -> dict[str, dict[str, float]]:
    """Rows ``label, group`` of ``method`` for each run's results (``results.json``), then the
    copy-source rows of the first run."""
    rows: dict[str, dict[str, float]] = {}
    for label, results in runs.items():
        table = summary(results)
        for group in ("frontal", "rotated"):
            key = f"{method}, {group}"
            if key not in table:
                raise ValueError(f"{label}: no {key!r} row in its results")
            rows[f"{label}, {group}"] = table[key]
    first = summary(next(iter(runs.values())))
    for group in ("frontal", "rotated"):
        rows[f"copy-source, {group}"] = first[f"copy-source, {group}"]
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.compare", description=__doc__)
    parser.add_argument("runs", nargs="+", help="label=folder of an animeceleb-eval output")
    parser.add_argument("--method", default="AniMo", help="the method to compare")
    args = parser.parse_args(argv)
    runs = {}
    try:
        for item in args.runs:
            label, _, folder = item.partition("=")
            path = Path(folder) / "results.json"
            if not folder or not path.is_file():
                raise ValueError(f"{item}: expected label=folder holding results.json")
            runs[label] = json.loads(path.read_text(encoding="utf-8"))
        rows = comparison(runs, args.method)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print("\n".join(markdown_table(rows, "run, group")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
