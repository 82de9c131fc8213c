"""Finding a rig's head and neck bones from its bone names and hierarchy (no bpy).

Real rigs name them many ways: ``Head``, ``J_Bip_C_Head`` (VRoid), ``mixamorig:Head`` (Mixamo),
``head_Armature`` (a VRM exported to glTF), ``Head.001`` (a duplicate), ``頭``/``首`` (MMD),
``DEF-head``/``ORG-head`` and ``spine.006`` (Rigify). A name is matched after taking off the
prefixes and suffixes those tools add (case-insensitive). (Finding them from the skeleton's
structure when no name matches is not done yet: such a model is skipped with the bone names it
has.)
"""

from __future__ import annotations

import re
from collections.abc import Mapping

HEAD_NAMES = ("head", "頭", "atama", "kopf", "tete")
NECK_NAMES = ("neck", "首", "kubi", "hals", "cou")
RIGIFY = {"spine.006": "head", "spine.004": "neck"}  # Rigify's metarig / DEF- names

# Taken off (repeatedly) before matching: tool prefixes, side-less suffixes, Blender's ".001".
PREFIX = re.compile(
    r"^(?:[\w.-]*:|j_bip_c_|j_|bip0?1[ _]|def[-_]|org[-_]|mch[-_]|armature[|_]|c_|cf_j_|b_)",
    re.IGNORECASE,
)
SUFFIX = re.compile(r"(?:\.\d{3}|_armature|_jnt|_joint|_bone|_bind|_end|_c)$", re.IGNORECASE)


def normalised(name: str) -> str:
    """``name`` without the prefixes and suffixes rigging tools add, lower case."""
    text = name.strip()
    while True:
        stripped = SUFFIX.sub("", PREFIX.sub("", text))
        if stripped == text or not stripped:
            return text.lower()
        text = stripped


def _by_name(bones: Mapping[str, str | None], names: tuple[str, ...]) -> str | None:
    for bone in bones:
        rigify = RIGIFY.get(PREFIX.sub("", bone).lower())  # spine.006: its number is its name
        if normalised(bone) in names or rigify == names[0]:
            return bone
    return None


def find_head_and_neck(bones: Mapping[str, str | None]) -> tuple[str, str] | None:
    """The (head, neck) bones of a rig given as ``{bone: parent or None}``, by name; the neck is
    the head's parent when no bone is named so (or the head itself for a root head).
    ``None`` when no bone is named as a head."""
    head = _by_name(bones, HEAD_NAMES)
    if head is None:
        return None
    neck = _by_name(bones, NECK_NAMES)
    if neck is None or neck == head:
        neck = bones.get(head) or head
    return head, neck
