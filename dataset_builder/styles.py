"""The four shader styles' names and render settings (no bpy)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Style:
    name: str
    description: str
    samples: int  # Cycles samples per pixel


STYLES: dict[str, Style] = {
    s.name: s
    for s in (
        Style("cel", "flat two-tone cel shading", 2),
        Style("cel_outline", "cel shading with ink outlines", 2),
        Style("soft", "soft diffuse shading under the frontal light", 4),
        Style("original", "the model's own materials (textured)", 2),
    )
}
STYLE_NAMES: tuple[str, ...] = tuple(STYLES)


def parse_styles(text: str) -> tuple[str, ...]:
    """``"all"`` or a comma-separated list of style names -> validated style names, in order."""
    if text.strip() == "all":
        return STYLE_NAMES
    names = tuple(part.strip() for part in text.split(",") if part.strip())
    if not names:
        raise ValueError(f"no style given in {text!r}; expected 'all' or some of {STYLE_NAMES}")
    return tuple(dict.fromkeys(check_style(name) for name in names))


def check_style(name: str) -> str:
    """``name`` if it is one of the four styles, else ``ValueError``."""
    if name not in STYLES:
        raise ValueError(f"unknown style {name!r}; expected one of {STYLE_NAMES}")
    return name


MAX_RESOLUTION = 8192


def check_resolution(resolution: int) -> int:
    """``resolution`` if it is a usable image size in pixels, else ``ValueError``."""
    if not isinstance(resolution, int) or not 0 < resolution <= MAX_RESOLUTION:
        raise ValueError(
            f"resolution must be an integer in 1..{MAX_RESOLUTION}, got {resolution!r}"
        )
    return resolution
