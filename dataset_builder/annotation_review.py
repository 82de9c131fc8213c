"""A person's review of one model's annotation: per source morph, accept the proposed target,
change it to another target or drop it (no bpy).

``apply_decisions`` turns those decisions into the annotation a build then uses as the person's
override (``method`` "person"): accepted mappings keep their method and reason, a changed one is
``methods[target] = "person"`` with a reason naming what was proposed, a dropped morph moves to
``declined`` saying so.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import replace

from animeceleb.pose import TARGET_MORPH_NAMES

from .annotation import Annotation

NO_TARGET = "none"
TARGET_CHOICES = (*TARGET_MORPH_NAMES, NO_TARGET)
PERSON = "person"


class ReviewError(ValueError):
    """A decision or a choice that cannot be applied; the one-line message says why."""


def proposed_targets(annotation: Annotation) -> dict[str, str]:
    """Source morph -> the target it drives in ``annotation`` (the first, for a morph driving
    several); morphs driving none are left out."""
    proposed: dict[str, str] = {}
    for target, morph in annotation.targets.items():
        proposed.setdefault(morph, target)
    return proposed


def apply_decisions(
    annotation: Annotation, decisions: Mapping[str, str], morphs: Sequence[str]
) -> Annotation:
    """``annotation`` with each decided morph (of the model's ``morphs``) driving its chosen
    target, or none (``NO_TARGET``); undecided morphs keep their mappings. Raises
    ``ReviewError`` for an unknown morph or target, or a target chosen for two morphs."""
    unknown = sorted(set(decisions) - set(morphs))
    if unknown:
        raise ReviewError(f"{annotation.model_id} has no source morph {unknown[0]!r}")
    bad = sorted({t for t in decisions.values() if t not in TARGET_CHOICES})
    if bad:
        raise ReviewError(f"unknown target {bad[0]!r}; expected one of {', '.join(TARGET_CHOICES)}")
    targets = {t: m for t, m in annotation.targets.items() if m not in decisions}
    chosen = [t for t in decisions.values() if t != NO_TARGET]
    twice = [t for t, n in Counter([*targets, *chosen]).items() if n > 1]
    if twice:
        holders = [m for m, t in decisions.items() if t == twice[0]]
        holders += [targets[twice[0]]] if twice[0] in targets else []
        raise ReviewError(
            f"{twice[0]} is chosen for {' and '.join(sorted(holders))}; a target takes one morph"
        )
    targets |= {t: m for m, t in decisions.items() if t != NO_TARGET}
    proposed = proposed_targets(annotation)
    methods, reasons = {}, {}
    for target, morph in targets.items():
        if annotation.targets.get(target) == morph:
            methods[target] = annotation.methods.get(target, annotation.method)
            if target in annotation.reasons:
                reasons[target] = annotation.reasons[target]
        else:
            methods[target] = PERSON
            reasons[target] = f"{PERSON}: changed from {_was(annotation, morph, proposed)}"
    declined = {m: why for m, why in annotation.declined.items() if m not in targets.values()}
    for morph, target in decisions.items():
        if target == NO_TARGET and morph in proposed:
            declined[morph] = f"{PERSON}: dropped from {_was(annotation, morph, proposed)}"
    return replace(
        annotation,
        targets=dict(sorted(targets.items())),
        unmatched=[m for m in annotation.unmatched if m not in targets.values()],
        method=PERSON,
        methods=methods,
        reasons=reasons,
        declined=declined,
    )


def _was(annotation: Annotation, morph: str, proposed: Mapping[str, str]) -> str:
    """What was proposed for ``morph``, and why."""
    target = proposed.get(morph)
    why = annotation.reasons.get(target) if target else annotation.declined.get(morph)
    return f"{target or NO_TARGET}" + (f" ({why})" if why else "")
