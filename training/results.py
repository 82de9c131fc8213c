"""An evaluation's results as Markdown: the headline table (:func:`summary`) and every section's
table, for ``results.md`` and the model cards."""

from __future__ import annotations


def markdown_table(rows: dict[str, dict[str, float]], first: str) -> list[str]:
    columns = sorted({column for scores in rows.values() for column in scores})
    lines = [f"| {first} | " + " | ".join(columns) + " |", "|---" * (len(columns) + 1) + "|"]
    for label, scores in rows.items():
        cells = [f"{scores[c]:.4g}" if c in scores else "–" for c in columns]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return [*lines, ""]


SUMMARY_COLUMNS = (
    "ssim",
    "ssim_face",
    "l1",
    "l1_face",
    "sharpness",
    "expression_l1",
    "head_angle_error",
    "expression_error",
)


HUMAN_TRUTH = "human -> anime, true render"
SECTIONS = {  # the driven sections, and what each measures
    "cross-identity": "pose accuracy",
    "human -> anime": "pose accuracy",
    HUMAN_TRUTH: "image metrics against Blender's render of the driven poses",
}


def summary(results: dict) -> dict[str, dict[str, float]]:
    """One row per method and group (frontal, rotated) with the headline figures."""
    rows = {}
    for name, groups in results["self-reenactment"].items():
        for group in ("frontal", "rotated"):
            scores = groups.get(group, {})
            rows[f"{name}, {group}"] = {c: scores[c] for c in SUMMARY_COLUMNS if c in scores}
    return rows


EXPRESSIONS = "expressions"  # results[EXPRESSIONS]: characters -> method -> kind/group -> score


def expression_table(scores: dict[str, dict[str, float]]) -> list[str]:
    """An expression suite's scores as a table: a row per kind and group (the changed-pixel
    ratio, 0 exact, 1 no better than not animating the expression), a column per method."""
    rows: dict[str, dict[str, float]] = {}
    for method, named in scores.items():
        for name, value in named.items():
            if not name.endswith(" ssim"):
                rows.setdefault(name, {})[method] = value
    return markdown_table(rows, "kind/group")


def markdown(results: dict) -> str:
    """The results as Markdown: the setup, a summary, then a table per method and section."""
    lines = ["## setup", "", *(f"- {k}: {v}" for k, v in results["setup"].items()), ""]
    if "self-reenactment" in results:
        lines += [
            "## summary (self-reenactment)",
            "",
            *markdown_table(summary(results), "method, group"),
        ]
        for name, groups in results["self-reenactment"].items():
            lines += [f"## self-reenactment: {name}", "", *markdown_table(groups, "group/style")]
    for section, measured in SECTIONS.items():
        if section in results:
            lines += [
                f"## {section} ({measured})",
                "",
                *markdown_table(results[section], "method"),
            ]
    for characters, scores in results.get(EXPRESSIONS, {}).items():
        lines += [
            f"## expressions: {characters} (changed-pixel ratio: 0 exact, 1 not animated)",
            "",
            *expression_table(scores),
        ]
    return "\n".join(lines)
