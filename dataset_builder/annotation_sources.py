"""A model's annotation from its sources in order, and group annotation over a collection (no bpy).

Per source morph (``annotate``): a name mapped for the whole collection (``group_mapping``) is
used as mapped, unless the morph is one of the format's expression presets (VRM's ``blink``,
``aa`` ...) that the dictionary knows; else the dictionary's target for the preset or the name,
checked by inspection: the measurement wins over a target it contradicts, one inspection cannot
check (no part measured) is kept; else inspection alone. When two morphs claim one target, the
first by source ("preset", "name", "group", "inspection"), then model order, wins: a preset
ranks ahead of shape-key names. Every morph driving no target is kept in ``declined`` with its
reason.
A saved file (a person's edit, or this build's earlier result) wins over all of this: the build
only annotates models without one.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence

from .annotation import Annotation, normalize_name, target_for_name
from .inspection import Finding

PRECEDENCE = ("preset", "name", "group", "inspection")
DEFAULT_GROUP_MIN_MODELS = 50


def group_mapping(
    names_by_model: Mapping[str, Iterable[str]], findings: Iterable[Finding], min_models: int
) -> dict[str, Finding]:
    """Normalised name -> one decision for every model, for names seen in ``min_models`` models
    or more: the dictionary's target, else the majority of the inspections of that name
    (``findings`` over the collection; a tie or a majority of declines maps it to nothing)."""
    counts = Counter(
        key for names in names_by_model.values() for key in {normalize_name(n) for n in names}
    )
    votes: dict[str, Counter] = defaultdict(Counter)
    for finding in findings:
        votes[normalize_name(finding.name)][finding.target] += 1
    mapping = {}
    for key, n_models in counts.items():
        if n_models < min_models:
            continue
        seen = f"name seen in {n_models} models (group annotation, at least {min_models})"
        named = target_for_name(key)
        if named is not None:
            mapping[key] = Finding(key, named, f"{seen}: the dictionary's {named}")
            continue
        ranked = votes[key].most_common(2)
        if not ranked:
            mapping[key] = Finding(key, None, f"{seen}: unknown to the dictionary, not inspected")
            continue
        (target, n), runner_up = ranked[0], ranked[1:]
        total = sum(votes[key].values())
        if target is None or (runner_up and runner_up[0][1] == n):
            why = f"{seen}: no majority target in {total} inspections ({_tally(votes[key])})"
            mapping[key] = Finding(key, None, why)
        else:
            why = f"{seen}: {target} by {n} of {total} inspections ({_tally(votes[key])})"
            mapping[key] = Finding(key, target, why)
    return mapping


def _tally(votes: Counter) -> str:
    return ", ".join(f"{target or 'declined'} {n}" for target, n in votes.most_common())


def decide(finding: Finding, group: Mapping[str, Finding]) -> tuple[str | None, str, str]:
    """(target or None, source, reason) for one source morph from its name and inspection."""
    named = target_for_name(finding.name)
    mapped = group.get(normalize_name(finding.name))
    if mapped is not None and not (finding.preset and named is not None):
        return mapped.target, "group", mapped.reason
    if named is None:
        return finding.target, "inspection", finding.reason
    method = "preset" if finding.preset else "name"
    if finding.target == named:
        return named, method, finding.reason
    if finding.target is not None or finding.measured is not None:
        return finding.target, "inspection", finding.reason
    return (
        named,
        method,
        f"the dictionary's {named}; inspection could not check it: {finding.reason}",
    )


def annotate(
    model_id: str, findings: Sequence[Finding], group: Mapping[str, Finding] | None = None
) -> Annotation:
    """The model's annotation from each morph's finding (model order) and the group mapping."""
    decided = [(f.name, *decide(f, group or {})) for f in findings]
    ranked = sorted(
        (i for i, (_, target, _, _) in enumerate(decided) if target is not None),
        key=lambda i: PRECEDENCE.index(decided[i][2]),
    )
    targets, methods, reasons, declined = {}, {}, {}, {}
    for i in ranked:
        name, target, method, reason = decided[i]
        if target in targets:
            declined[name] = (
                f"{target} is already driven by {targets[target]!r} ({methods[target]})"
            )
            continue
        targets[target], methods[target], reasons[target] = name, method, f"{name!r}: {reason}"
    for name, target, method, reason in decided:
        if target is None:
            declined[name] = f"{method}: {reason}"
    order = {f.name: i for i, f in enumerate(findings)}
    declined = dict(sorted(declined.items(), key=lambda item: order[item[0]]))
    return Annotation(
        model_id=model_id,
        targets=targets,
        unmatched=list(declined),
        method="build",
        methods=methods,
        reasons=reasons,
        declined=declined,
    )
