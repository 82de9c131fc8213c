"""Precision and recall of annotation by inspection on a labelled set of lying morph names.

Procedural characters (the generator knows each morph's target) and the shared VRM character
(its own names are honest; whole-face and look morphs are non-targets) get their morph names
kept, scrambled, misleading or swapped (``dataset_builder.labelled_morphs``); inspection then
proposes a target per morph from what it moves. Precision: right proposals over all proposals;
recall: right proposals over all morphs that are targets. Overall and per part (eye, brow, mouth).

    python benchmarks/annotation_accuracy.py --characters 20
"""

from __future__ import annotations

import argparse
import multiprocessing
import random
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from pathlib import Path

from machine import describe_machine  # benchmarks/machine.py

from dataset_builder.inspection import inspect_model
from dataset_builder.labelled_morphs import mislabel, named_truth, procedural_truth
from dataset_builder.sources import file_sources, procedural_sources
from dataset_builder.worker import run_job

SHARED_VRM = Path(__file__).resolve().parents[2] / "shared" / "models" / "Godette_vrm_v4.vrm"


def part(target: str | None) -> str:
    return target.partition("_")[0] if target else "-"


def score(rows: list[tuple[str | None, str | None]]) -> dict[str, tuple[int, int, int, int]]:
    """part -> (right, proposed, targets, wrong) over (truth, proposal) rows, and "all"."""
    counts: Counter = Counter()
    for truth, proposal in rows:
        for key in {"all", part(truth), part(proposal)} - {"-"}:
            if truth and key in ("all", part(truth)):
                counts[key, "targets"] += 1
            if proposal and key in ("all", part(proposal)):
                counts[key, "proposed"] += 1
                counts[key, "right"] += proposal == truth
                counts[key, "wrong"] += proposal != truth
    keys = sorted({k for k, _ in counts}, key=("all", "eye", "brow", "mouth").index)
    return {k: tuple(counts[k, f] for f in ("right", "proposed", "targets", "wrong")) for k in keys}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--characters", type=int, default=20)
    parser.add_argument("--first-seed", type=int, default=100)
    parser.add_argument("--vrm-variants", type=int, default=3, help="renamings of the shared VRM")
    parser.add_argument("--show-errors", action="store_true")
    args = parser.parse_args()
    print(describe_machine())
    start = time.perf_counter()
    rng = random.Random(0)
    labelled = []  # (model label, source, truth by original name, rename)
    for source in procedural_sources(args.characters, args.first_seed):
        truth = procedural_truth(source.seed)
        labelled.append((source.model_id, source, truth, mislabel(truth, rng)[0]))
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        if SHARED_VRM.exists() and args.vrm_variants:
            vrm = file_sources([SHARED_VRM])[0]
            names = [m.name for m in pool.submit(run_job, "measure_morphs", vrm).result().morphs]
            truth = named_truth(names)
            for i in range(args.vrm_variants):
                labelled.append((f"godette-{i}", vrm, truth, mislabel(truth, rng)[0]))
        rows, errors = [], []
        for label, source, truth, rename in labelled:
            renamed = replace(source, rename=tuple(rename.items()))
            motion = pool.submit(run_job, "measure_morphs", renamed, 128).result()
            by_new = {new: truth[old] for old, new in rename.items()}
            for finding in inspect_model(motion):
                rows.append((by_new[finding.name], finding.target))
                if finding.target != by_new[finding.name]:
                    errors.append((label, finding, by_new[finding.name]))
    n_models = len(labelled)
    print(f"{n_models} models, {len(rows)} morphs, {time.perf_counter() - start:.1f} s")
    for key, (right, proposed, targets, wrong) in score(rows).items():
        precision = right / proposed if proposed else float("nan")
        recall = right / targets if targets else float("nan")
        print(
            f"{key:6s} precision {precision:.3f} ({right}/{proposed}, {wrong} wrong)  "
            f"recall {recall:.3f} ({right}/{targets})"
        )
    if args.show_errors:
        for label, finding, truth in errors:
            print(
                f"{label} {finding.name!r}: truth {truth}, got {finding.target}: {finding.reason}"
            )


if __name__ == "__main__":
    main()
