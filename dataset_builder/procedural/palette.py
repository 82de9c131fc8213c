"""Colour palettes for procedural characters (sRGB hex in, linear RGB out).

Each palette maps a bucket name to a few sRGB base colours; a character draws one bucket, one
base colour and a small jitter, so colours vary within a bucket while the bucket stays
meaningful for diversity statistics.
"""

from __future__ import annotations

import colorsys
import random

RGB = tuple[float, float, float]

HAIR_COLOURS: dict[str, tuple[str, ...]] = {
    "black": ("#2a2630", "#1f2233", "#302a2a"),
    "dark_brown": ("#4a3428", "#553a2e", "#3f2e2a"),
    "brown": ("#8a5a3c", "#9b6a45", "#7a4e36"),
    "chestnut": ("#a4502e", "#b3613a"),
    "blonde": ("#f0d58c", "#e8c66e", "#f5e0a0"),
    "orange": ("#f08a3c", "#e9733a"),
    "red": ("#c8363c", "#d9484a", "#a82c3a"),
    "pink": ("#f4a0c0", "#ee86b0", "#f7b8cf"),
    "purple": ("#8a5cc8", "#7048b0", "#9a70d0"),
    "lavender": ("#c4b0ee", "#b8a4e4"),
    "blue": ("#4a7ce0", "#3a64c8", "#5a90ea"),
    "navy": ("#2e3a78", "#283468"),
    "teal": ("#3ab0b0", "#2e9aa4"),
    "mint": ("#8ee0c0", "#7ad4b4"),
    "silver": ("#d0d4e0", "#c4c8d8", "#e0e2ea"),
    "white": ("#f4f2f4", "#eeeef6"),
}

EYE_COLOURS: dict[str, tuple[str, ...]] = {
    "blue": ("#3a78e0", "#4a90f0", "#2a5cc0"),
    "sky": ("#60b8f0", "#70c8f4"),
    "green": ("#3aa060", "#4ab070", "#2e8a50"),
    "teal": ("#2aa8a8", "#38b8b0"),
    "brown": ("#8a5030", "#a0603a", "#6e4028"),
    "amber": ("#e0a030", "#f0b840", "#d08a20"),
    "red": ("#d03040", "#e04850", "#b02030"),
    "purple": ("#8a48d0", "#7038b8", "#a060e0"),
    "pink": ("#e870b0", "#f088c0"),
    "grey": ("#7a8494", "#8c94a4"),
}

SKIN_TONES: dict[str, tuple[str, ...]] = {
    "porcelain": ("#fff0ea", "#fdeee8"),
    "fair": ("#fde3d4", "#fcdccb", "#fbe0d0"),
    "warm": ("#f6d0b4", "#f3c8aa"),
    "tan": ("#dca880", "#d49c74"),
    "brown": ("#a8704c", "#9a6444"),
}
SKIN_WEIGHTS = {"porcelain": 3, "fair": 5, "warm": 3, "tan": 2, "brown": 1}

ACCESSORY_COLOURS: tuple[str, ...] = (
    "#e03050",
    "#f0f0f0",
    "#3050c0",
    "#f0c040",
    "#202028",
    "#f080b0",
    "#40a070",
    "#8050c0",
)
CLOTH_COLOURS: tuple[str, ...] = (
    "#f4f4f4",
    "#2a2e48",
    "#3a4a8a",
    "#8a2a3a",
    "#2a2a2a",
    "#e8d8b8",
    "#5a7a5a",
    "#c8a0c8",
    "#6a8ab8",
)
LINE_COLOUR = "#24181c"
MOUTH_COLOUR = "#8a2a34"
EYE_WHITE = "#fcfcff"
HIGHLIGHT = "#ffffff"


def srgb_to_linear(value: float) -> float:
    """One sRGB channel in [0, 1] to linear."""
    if value <= 0.04045:
        return value / 12.92
    return ((value + 0.055) / 1.055) ** 2.4


def hex_to_srgb(code: str) -> RGB:
    """'#rrggbb' to an sRGB tuple in [0, 1]."""
    code = code.lstrip("#")
    r, g, b = (int(code[i : i + 2], 16) / 255.0 for i in (0, 2, 4))
    return (r, g, b)


def hex_to_linear(code: str) -> RGB:
    """'#rrggbb' (sRGB) to a linear RGB tuple."""
    r, g, b = hex_to_srgb(code)
    return (srgb_to_linear(r), srgb_to_linear(g), srgb_to_linear(b))


def jitter_hex(code: str, rng: random.Random, hue: float, sat: float, val: float) -> RGB:
    """A sRGB colour jittered in HSV by at most (hue, sat, val), returned in linear RGB."""
    h, s, v = colorsys.rgb_to_hsv(*hex_to_srgb(code))
    h = (h + rng.uniform(-hue, hue)) % 1.0
    s = min(1.0, max(0.0, s * (1.0 + rng.uniform(-sat, sat))))
    v = min(1.0, max(0.0, v * (1.0 + rng.uniform(-val, val))))
    r, g, b = colorsys.hsv_to_rgb(h, s, v)
    return (srgb_to_linear(r), srgb_to_linear(g), srgb_to_linear(b))


def scale(colour: RGB, factor: float) -> RGB:
    """A linear colour multiplied by ``factor`` (clamped to [0, 1])."""
    return tuple(min(1.0, max(0.0, c * factor)) for c in colour)  # type: ignore[return-value]


def mix(a: RGB, b: RGB, t: float) -> RGB:
    """Linear interpolation between two linear colours."""
    return tuple(x + (y - x) * t for x, y in zip(a, b, strict=True))  # type: ignore[return-value]


def contrasting(
    rng: random.Random, codes: tuple[str, ...], against: RGB, min_distance: float = 0.35
) -> RGB:
    """A jittered colour from ``codes`` that stands out against ``against`` (distance measured
    on gamma-encoded values); the last candidate when none does."""
    colour = against
    for code in rng.sample(codes, len(codes)):
        colour = jitter_hex(code, rng, 0.01, 0.05, 0.05)
        gap = sum(
            (a ** (1 / 2.2) - b ** (1 / 2.2)) ** 2 for a, b in zip(colour, against, strict=True)
        )
        if gap**0.5 >= min_distance:
            break
    return colour
