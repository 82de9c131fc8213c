"""CharacterSpec: every identity parameter of a procedural character, drawn from its seed.

Pure Python (no numpy, no bpy): the same seed always gives the same spec.
Lengths are in metres; the head spans z = 1.375 .. 1.625 (height 0.25, centre z = 1.5).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from . import palette
from .naming import draw_names, draw_present_targets

RGB = palette.RGB

HAIR_STYLES = ("short", "bob", "long", "twintails", "ponytail", "spiky")
BANG_STYLES = ("blunt", "jagged", "parted", "swept")
ACCESSORIES = ("none", "hairband", "ribbon", "glasses", "hairclip")
ACCESSORY_WEIGHTS = (4, 1, 1.2, 1, 1.2)
FACE_SHAPES = ("round", "oval", "sharp", "long")
BODIES = ("shoulders", "posed")  # what is below the head; see ``character_spec``
ARM_POSES = ("down", "t-pose", "a-pose")
ARM_POSE_WEIGHTS = (1, 2, 1)
COLLAR_Z = 1.316  # height of the collar of a "shoulders" body
UPPER_LID_SHARE = 0.6  # of the eye height above the eye centre


@dataclass(frozen=True)
class CharacterSpec:
    """All identity parameters of one procedural character."""

    seed: int
    # face
    face_shape: str
    face_width: float  # half-width of the head at the cheeks
    jaw_taper: float  # 0 = wide jaw, 1 = pointed chin
    chin_forward: float  # how far the chin sits in front of the head centre (fraction of depth)
    cheek: float  # cheek fullness (bulge of the lower face)
    skin_bucket: str
    skin: RGB
    # eyes
    eye_shape: str
    eye_width: float
    eye_height: float
    eye_tilt: float  # radians, outer corner up
    eye_roundness: float  # lid curve exponent (small = boxy, large = round)
    eye_spacing: float  # x of the eye centres
    eye_z: float
    iris_size: float  # iris half-width as a fraction of the eye half-width
    eye_bucket: str
    iris: RGB
    highlights: int
    lower_lash: bool
    eyelid_crease: bool
    lash_thickness: float
    # brows
    brow_thickness: float
    brow_arch: float
    brow_gap: float  # height of the brow above the eye top
    brow: RGB
    # mouth and nose
    mouth_width: float
    mouth_z: float
    smile: float
    # hair
    hair_style: str
    hair_bucket: str
    hair: RGB
    bangs: int  # number of bang strands
    bang_length: float  # how far the bangs reach toward the brows (0..1)
    parting: float  # x offset of the bang parting
    bang_style: str  # one of BANG_STYLES
    hair_volume: float
    ahoge: bool  # a single strand springing up from the crown
    # accessories and clothes
    accessory: str
    accessory_colour: RGB
    cloth: RGB
    ears: bool
    # morphs
    naming_scheme: str
    present_targets: tuple[str, ...]
    target_names: tuple[tuple[str, str], ...]  # (target morph, shape-key name), model order
    extra_morphs: tuple[tuple[str, str], ...]  # (shape-key name, effect) of non-target morphs
    # body (a "shoulders" body keeps these defaults)
    body: str = "shoulders"
    collar_z: float = COLLAR_Z  # the collar's height; the neck's pivot moves with it
    body_scale: float = 1.0  # shoulders, collar and arms scaled about the collar (1 = adult)
    arms: str = "down"  # one of ARM_POSES; "down" arms are out of frame (no geometry)
    arm_drop: float = 0.0  # radians below horizontal of "t-pose" and "a-pose" arms

    @property
    def eye_top(self) -> float:
        """Height of the upper lid's peak (the upper lid takes ``UPPER_LID_SHARE`` of the eye)."""
        return self.eye_z + UPPER_LID_SHARE * self.eye_height

    @property
    def brow_z(self) -> float:
        """Height of the brows' centre line at rest (before their arch)."""
        return self.eye_top + self.brow_gap

    @property
    def shape_key_names(self) -> tuple[str, ...]:
        """Shape-key names in model order (targets first, then the non-target extras)."""
        return tuple(name for _, name in self.target_names) + tuple(n for n, _ in self.extra_morphs)

    @property
    def diversity_key(self) -> tuple[str, ...]:
        """Coarse identity buckets, for diversity statistics."""
        return (
            self.hair_style,
            self.hair_bucket,
            self.eye_bucket,
            self.skin_bucket,
            self.face_shape,
            self.eye_shape,
            self.accessory,
        )


def procedural_model_id(seed: int, body: str = "shoulders") -> str:
    """The model id of the procedural character with this seed and body (one of ``BODIES``)."""
    check_body(body)
    return f"procedural-{seed:06d}" if body == "shoulders" else f"procedural-{body}-{seed:06d}"


def check_body(body: str) -> None:
    """Raise a one-line error unless ``body`` is one of ``BODIES``."""
    if body not in BODIES:
        raise ValueError(f"procedural body {body!r}: expected one of {BODIES}")


def _face(rng: random.Random) -> dict:
    shape = rng.choice(FACE_SHAPES)
    width, taper, chin = {
        "round": (0.102, 0.35, 0.45),
        "oval": (0.098, 0.5, 0.55),
        "sharp": (0.096, 0.68, 0.62),
        "long": (0.092, 0.55, 0.6),
    }[shape]
    return {
        "face_shape": shape,
        "face_width": width * rng.uniform(0.97, 1.03),
        "jaw_taper": min(0.85, max(0.2, taper + rng.uniform(-0.08, 0.08))),
        "chin_forward": chin + rng.uniform(-0.05, 0.05),
        "cheek": rng.uniform(0.0, 1.0) * (1.0 if shape == "round" else 0.5),
    }


def _eyes(rng: random.Random) -> dict:
    shape = rng.choice(("round", "almond", "droopy", "sharp"))
    tilt, roundness = {
        "round": (0.02, 0.75),
        "almond": (0.08, 0.55),
        "droopy": (-0.08, 0.6),
        "sharp": (0.16, 0.42),
    }[shape]
    width = rng.uniform(0.046, 0.056)
    height = width * rng.uniform(0.98, 1.2) * (1.06 if shape == "round" else 1.0)
    bucket = rng.choice(tuple(palette.EYE_COLOURS))
    return {
        "eye_shape": shape,
        "eye_width": width,
        "eye_height": height,
        "eye_tilt": tilt + rng.uniform(-0.04, 0.04),
        "eye_roundness": roundness + rng.uniform(-0.08, 0.08),
        "eye_spacing": width * 0.5 + rng.uniform(0.016, 0.021),
        "eye_z": 1.463 + rng.uniform(-0.004, 0.004),
        "iris_size": rng.uniform(0.66, 0.8),
        "eye_bucket": bucket,
        "iris": palette.jitter_hex(rng.choice(palette.EYE_COLOURS[bucket]), rng, 0.02, 0.1, 0.1),
        "highlights": rng.choice((1, 2, 2)),
        "lower_lash": rng.random() < 0.6,
        "eyelid_crease": rng.random() < 0.5,
        "lash_thickness": height * rng.uniform(0.08, 0.11),
    }


def _posed_body(rng: random.Random) -> dict:
    """A body that shows in the frame, as in real models: shoulders up to the chin on a short
    neck, a small (chibi) to adult torso, and arms held out in a T- or A-pose (VRM and MMD
    models' rest poses) or down by the sides."""
    arms = rng.choices(ARM_POSES, ARM_POSE_WEIGHTS)[0]
    drop = {"down": 0.0, "t-pose": rng.uniform(0.0, 0.12), "a-pose": rng.uniform(0.45, 0.8)}
    return {
        "body": "posed",
        "collar_z": rng.uniform(COLLAR_Z, 1.35),
        "body_scale": rng.uniform(0.55, 1.0),
        "arms": arms,
        "arm_drop": drop[arms],
    }


def character_spec(seed: int, body: str = "shoulders") -> CharacterSpec:
    """The identity of procedural character ``seed`` (deterministic).

    ``body="shoulders"``: a neck and adult shoulders below the frame's bottom edge; ``"posed"``:
    the same head (every head parameter is drawn first) on a body drawn by ``_posed_body``.
    """
    check_body(body)
    rng = random.Random(seed)
    face = _face(rng)
    skin_bucket = rng.choices(tuple(palette.SKIN_WEIGHTS), tuple(palette.SKIN_WEIGHTS.values()))[0]
    skin = palette.jitter_hex(rng.choice(palette.SKIN_TONES[skin_bucket]), rng, 0.005, 0.05, 0.02)
    eyes = _eyes(rng)
    hair_bucket = rng.choice(tuple(palette.HAIR_COLOURS))
    hair = palette.jitter_hex(rng.choice(palette.HAIR_COLOURS[hair_bucket]), rng, 0.015, 0.1, 0.08)
    hair_style = rng.choice(HAIR_STYLES)
    accessory = rng.choices(ACCESSORIES, ACCESSORY_WEIGHTS)[0]
    present = draw_present_targets(rng)
    scheme, target_names, extras = draw_names(rng, present)
    return CharacterSpec(
        seed=seed,
        **face,
        skin_bucket=skin_bucket,
        skin=skin,
        **eyes,
        brow_thickness=rng.uniform(0.003, 0.0052),
        brow_arch=rng.uniform(0.0, 0.006),
        brow_gap=rng.uniform(0.009, 0.016),
        brow=palette.mix(
            palette.scale(hair, 0.55), palette.hex_to_linear(palette.LINE_COLOUR), 0.3
        ),
        mouth_width=rng.uniform(0.008, 0.0115),
        mouth_z=1.408 + rng.uniform(-0.004, 0.004),
        smile=rng.uniform(-0.0005, 0.0025),
        hair_style=hair_style,
        hair_bucket=hair_bucket,
        hair=hair,
        bangs=rng.randint(8, 12) if hair_style != "spiky" else rng.randint(5, 7),
        bang_length=rng.uniform(0.55, 1.0),
        parting=rng.uniform(-0.02, 0.02) if rng.random() < 0.5 else 0.0,
        bang_style=rng.choice(BANG_STYLES),
        hair_volume=rng.uniform(0.006, 0.014),
        ahoge=rng.random() < 0.25,
        accessory=accessory,
        accessory_colour=palette.contrasting(rng, palette.ACCESSORY_COLOURS, hair),
        cloth=palette.jitter_hex(rng.choice(palette.CLOTH_COLOURS), rng, 0.01, 0.05, 0.05),
        ears=rng.random() < 0.5,
        naming_scheme=scheme,
        present_targets=present,
        target_names=target_names,
        extra_morphs=extras,
        **(_posed_body(rng) if body == "posed" else {}),
    )
