"""Materials of a procedural character: one per role, an unlit anime look (bpy side).

Every material stores its role in ``mat["animeceleb_role"]`` and its flat base colour in
``mat.diffuse_color``; its node tree is the character's own look: emission-only shading (fast in
Cycles at few samples) with a two-tone cel step on the scene's one light direction, plus
procedural detail (hair strand stripes, an "angel ring" highlight and darker ends; an iris
gradient with streaks, a dark rim and a darker top; a cheek blush and shadow bands under the bangs
and the chin; a shadowed top of the eye white).
"""

from __future__ import annotations

import bpy

from ..procedural import palette
from ..procedural.hair import bang_tip_z
from ..procedural.spec import CharacterSpec
from ..procedural.surface import face_uv_v
from .shader_nodes import RGB, Graph

ROLES = (
    "skin",
    "eye_white",
    "iris",
    "pupil",
    "highlight",
    "line",
    "mouth",
    "brow",
    "hair",
    "accessory",
    "cloth",
)


def _skin(graph: Graph, colour: RGB, bang_tip: float) -> None:
    """Skin: cheek blush, a shadow band under the bangs and under the chin, a cel step.

    The UVs are face coordinates (``surface.face_uv``); ``bang_tip`` is the lowest bang tip's v.
    """
    u, v = graph.uv()
    side = graph.math("ABSOLUTE", graph.math("SUBTRACT", u, 0.5))
    du = graph.math("DIVIDE", graph.math("SUBTRACT", side, 0.205), 0.075)
    dv = graph.math("DIVIDE", graph.math("SUBTRACT", v, 0.19), 0.045)
    dist = graph.math(
        "SQRT", graph.math("ADD", graph.math("MULTIPLY", du, du), graph.math("MULTIPLY", dv, dv))
    )
    blush = graph.math(
        "MULTIPLY", graph.math("SUBTRACT", 1.0, graph.smoothstep(0.2, 1.0, dist)), 0.45
    )
    base = graph.mix(blush, colour, palette.hex_to_linear("#ff8a9a"))
    shade_colour = palette.mix(colour, palette.hex_to_linear("#c05868"), 0.3)
    forehead = graph.smoothstep(bang_tip - 0.04, bang_tip - 0.01, v)
    chin = graph.math(
        "SUBTRACT",
        graph.smoothstep(-0.1, -0.07, v),
        graph.smoothstep(-0.004, 0.0, v),
    )
    shadow = graph.math("MULTIPLY", graph.math("MAXIMUM", forehead, chin), 0.75)
    lit = graph.mix(shadow, base, shade_colour)
    graph.emit(graph.cel(lit, graph.mix(0.5, base, shade_colour)))


def _hair(graph: Graph, colour: RGB) -> None:
    u, v = graph.uv()
    normal = graph.node("ShaderNodeSeparateXYZ")
    graph.link(graph.node("ShaderNodeNewGeometry").outputs["Normal"], normal.inputs["Vector"])
    up = normal.outputs["Z"]
    # strand stripes around the head, faded out at the crown (v > 0.9) where they converge
    coords = graph.node("ShaderNodeCombineXYZ")
    graph.link(u, coords.inputs["X"])
    graph.link(v, coords.inputs["Y"])
    wave = graph.node("ShaderNodeTexWave", wave_type="BANDS", bands_direction="X")
    wave.inputs["Scale"].default_value = 38.0
    wave.inputs["Distortion"].default_value = 2.0
    wave.inputs["Detail"].default_value = 1.0
    graph.link(coords.outputs["Vector"], wave.inputs["Vector"])
    fade = graph.math("SUBTRACT", 0.2, graph.math("MULTIPLY", graph.smoothstep(0.86, 0.93, v), 0.2))
    dark = palette.scale(colour, 0.62)
    base = graph.mix(graph.math("MULTIPLY", wave.outputs["Fac"], fade), colour, dark)
    ends = graph.math(
        "SUBTRACT", 0.35, graph.math("MULTIPLY", graph.smoothstep(0.1, 0.45, v), 0.35)
    )
    base = graph.mix(ends, base, dark)  # long hair darkens toward its ends
    # the "angel ring": a light band around the crown (where the normal tilts ~40 degrees up)
    # with a jagged lower edge
    jag = graph.math(
        "MULTIPLY", graph.math("ABSOLUTE", graph.math("SINE", graph.math("MULTIPLY", u, 70.0))), 0.1
    )
    ring = graph.math(
        "SUBTRACT",
        graph.smoothstep(0.52, 0.55, graph.math("ADD", up, jag)),
        graph.smoothstep(0.64, 0.68, up),
    )
    lit = graph.mix(graph.math("MULTIPLY", ring, 0.6), base, palette.mix(colour, (1, 1, 1), 0.4))
    graph.emit(graph.cel(lit, palette.mix(dark, palette.hex_to_linear("#503070"), 0.15)))


def _iris(graph: Graph, colour: RGB) -> None:
    u, v = graph.uv()
    du, dv = graph.math("SUBTRACT", u, 0.5), graph.math("SUBTRACT", v, 0.5)
    radius = graph.math(
        "MULTIPLY",
        graph.math(
            "SQRT",
            graph.math("ADD", graph.math("MULTIPLY", du, du), graph.math("MULTIPLY", dv, dv)),
        ),
        2.0,
    )
    bright = palette.mix(colour, (1.0, 1.0, 1.0), 0.35)
    rim = palette.scale(colour, 0.25)
    radial = graph.ramp(
        radius, [(0.0, bright), (0.55, colour), (0.82, palette.scale(colour, 0.7)), (0.92, rim)]
    )
    # fine radial streaks between pupil and rim
    angle = graph.math("ARCTAN2", dv, du)
    streaks = graph.math(
        "MULTIPLY",
        graph.math("ABSOLUTE", graph.math("SINE", graph.math("MULTIPLY", angle, 14.0))),
        graph.math("MULTIPLY", graph.smoothstep(0.35, 0.6, radius), 0.14),
    )
    radial = graph.mix(streaks, radial, palette.mix(colour, (1.0, 1.0, 1.0), 0.3))
    top = graph.smoothstep(0.55, 0.95, v)
    shaded = graph.mix(graph.math("MULTIPLY", top, 0.65), radial, rim)
    glow = graph.math("MULTIPLY", graph.math("SUBTRACT", 1.0, graph.smoothstep(0.1, 0.4, v)), 0.35)
    graph.emit(graph.mix(glow, shaded, palette.mix(colour, (1.0, 1.0, 1.0), 0.6)))


def _eye_white(graph: Graph, colour: RGB) -> None:
    _, v = graph.uv()
    top = graph.smoothstep(0.55, 1.0, v)
    graph.emit(
        graph.mix(graph.math("MULTIPLY", top, 0.7), colour, palette.hex_to_linear("#b8bcd8"))
    )


def _mouth(graph: Graph, colour: RGB) -> None:
    _, v = graph.uv()
    tongue = graph.math("SUBTRACT", 1.0, graph.smoothstep(0.15, 0.45, v))
    graph.emit(graph.mix(tongue, colour, palette.hex_to_linear("#e07080")))


def _solid_cel(graph: Graph, colour: RGB) -> None:
    graph.emit(graph.cel(colour, palette.scale(colour, 0.72)))


def _flat(graph: Graph, colour: RGB) -> None:
    graph.emit(colour)


LOOKS = {
    "hair": _hair,
    "iris": _iris,
    "eye_white": _eye_white,
    "mouth": _mouth,
    "accessory": _solid_cel,
    "cloth": _solid_cel,
}


def role_colours(spec: CharacterSpec) -> dict[str, RGB]:
    """The flat base colour of each role."""
    return {
        "skin": spec.skin,
        "eye_white": palette.hex_to_linear(palette.EYE_WHITE),
        "iris": spec.iris,
        "pupil": palette.mix(palette.scale(spec.iris, 0.2), palette.hex_to_linear("#100810"), 0.5),
        "highlight": palette.hex_to_linear(palette.HIGHLIGHT),
        "line": palette.mix(
            palette.hex_to_linear(palette.LINE_COLOUR), palette.scale(spec.hair, 0.3), 0.25
        ),
        "mouth": palette.hex_to_linear(palette.MOUTH_COLOUR),
        "brow": spec.brow,
        "hair": spec.hair,
        "accessory": spec.accessory_colour,
        "cloth": spec.cloth,
    }


def make_materials(spec: CharacterSpec, roles: set[str]) -> dict[str, bpy.types.Material]:
    """One material per role in ``roles``, named ``<role>``, with its role, colour and look."""
    colours = role_colours(spec)
    materials = {}
    for role in ROLES:
        if role not in roles:
            continue
        material = bpy.data.materials.new(role)
        material["animeceleb_role"] = role
        material.diffuse_color = (*colours[role], 1.0)
        if role == "skin":
            _skin(Graph(material), colours[role], face_uv_v(bang_tip_z(spec)))
        else:
            LOOKS.get(role, _flat)(Graph(material), colours[role])
        materials[role] = material
    return materials
