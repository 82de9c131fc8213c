"""Where a model comes from, its id, licence and attribution (no bpy)."""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass
from pathlib import Path

from .vrm import gltf_json

SOURCE_KINDS = ("procedural", "vrm", "gltf", "fbx", "blend")
PROCEDURAL_LICENSE = "cc-by-4.0"
UNKNOWN_LICENSE = "unknown"  # a model file with no licence in it and none given
ORIGINAL_RELEASE = "animeceleb"  # the source of examples imported from the original release


@dataclass(frozen=True)
class ModelSource:
    """One 3D model to render.

    ``seed`` and ``procedural_body`` identify a procedural character; ``path`` a model file
    (VRM, glTF, FBX, .blend).
    ``rename`` gives source morphs other names on loading, as (old, new) pairs: a labelled set's
    scrambled or lying names, to test annotation.
    """

    model_id: str
    kind: str
    license: str
    attribution: str
    seed: int | None = None
    path: str | None = None
    procedural_body: str = "shoulders"
    rename: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        if self.kind not in SOURCE_KINDS:
            raise ValueError(
                f"{self.model_id}: unknown source kind {self.kind!r}; expected {SOURCE_KINDS}"
            )


def procedural_sources(
    count: int, first_seed: int = 0, body: str = "shoulders"
) -> list[ModelSource]:
    """``count`` procedural characters with seeds ``first_seed ..`` and this body (one of
    ``dataset_builder.procedural.spec.BODIES``)."""
    from .procedural import procedural_model_id

    if count <= 0:
        raise ValueError(f"number of procedural models must be > 0, got {count}")
    body_note = "" if body == "shoulders" else f", {body} body"
    return [
        ModelSource(
            model_id=procedural_model_id(seed, body),
            kind="procedural",
            license=PROCEDURAL_LICENSE,
            attribution=f"AnimeCeleb-HF procedural character, seed {seed}{body_note}",
            seed=seed,
            procedural_body=body,
        )
        for seed in range(first_seed, first_seed + count)
    ]


def procedural_source(model_id: str) -> ModelSource | None:
    """The procedural character whose id is ``model_id`` (rebuilt from its seed and body: the
    inverse of :func:`procedural_sources`), or None for the id of a character from a model file."""
    from .procedural.spec import BODIES, procedural_model_id

    prefix, _, digits = model_id.rpartition("-")
    body = prefix.removeprefix("procedural").removeprefix("-") or "shoulders"
    if not digits.isdigit() or body not in BODIES:
        return None
    if procedural_model_id(int(digits), body) != model_id:
        return None
    return procedural_sources(1, int(digits), body)[0]


MODEL_SUFFIXES = {
    ".vrm": "vrm",
    ".glb": "gltf",
    ".gltf": "gltf",
    ".fbx": "fbx",
    ".blend": "blend",
}


def file_sources(
    paths: list[str | Path], *, license: str | None = None, attribution: str | None = None
) -> list[ModelSource]:
    """Model files (or folders of them) as sources.

    The model id is the kind plus a hash of the file's bytes, never the file name. Licence and
    attribution come from the arguments, else from a VRM file's own meta, else "unknown".
    """
    files: list[Path] = []
    for path in map(Path, paths):
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.suffix.lower() in MODEL_SUFFIXES)
            if not found:
                raise ValueError(
                    f"{path}: no model file found in this folder; the formats read are "
                    f"{', '.join(sorted(MODEL_SUFFIXES))}"
                )
            files.extend(found)
        elif not path.is_file():
            raise FileNotFoundError(f"model file {path} does not exist")
        elif path.suffix.lower() not in MODEL_SUFFIXES:
            raise ValueError(f"{path}: unsupported model format; expected {sorted(MODEL_SUFFIXES)}")
        else:
            files.append(path)
    sources = []
    for path in files:
        kind = MODEL_SUFFIXES[path.suffix.lower()]
        meta = _readable_vrm_meta(path) if kind == "vrm" else {}
        digest = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
        sources.append(
            ModelSource(
                model_id=f"{kind}-{digest}",
                kind=kind,
                license=license or meta.get("license") or UNKNOWN_LICENSE,
                attribution=attribution or meta.get("attribution") or "unknown",
                path=str(path.resolve()),
            )
        )
    return sources


def _readable_vrm_meta(path: Path) -> dict[str, str]:
    """``vrm_meta``, or nothing for a file it cannot read (the loader then skips that model with
    its reason, like any unreadable model, instead of stopping the whole build)."""
    try:
        return vrm_meta(path)
    except ValueError:
        return {}


def _credit(title: str, authors: str) -> str:
    if not (title or authors):
        return ""
    return f'"{title}" by {authors}' if title else f"by {authors}"


def check_binary_gltf(path: str | Path) -> None:
    """``ValueError`` (one line) when a .vrm/.glb file is not a whole binary glTF: a bad header,
    or fewer bytes than its header declares (a truncated download)."""
    with open(path, "rb") as handle:
        header = handle.read(12)
    if len(header) < 12 or header[:4] != b"glTF":
        raise ValueError(f"{path}: not a binary glTF/VRM file (bad header)")
    declared, size = struct.unpack("<I", header[8:12])[0], Path(path).stat().st_size
    if size < declared:
        raise ValueError(
            f"{path}: truncated: {size} bytes where its header declares {declared}; "
            "download or export it again"
        )


FBX_BINARY_MAGIC = b"Kaydara FBX Binary  \x00"
FBX_FOOTER_MAGIC = bytes.fromhex("f85a8c6adef5d97eece90ce3758f290b")  # a binary FBX's last bytes


def fbx_problem(path: str | Path) -> str | None:
    """Why Blender's importer may have refused an FBX file, when its bytes tell (one line):
    an ASCII FBX (Blender reads binary FBX only), or a binary FBX cut short (its footer
    missing); None when neither."""
    with open(path, "rb") as handle:
        head = handle.read(len(FBX_BINARY_MAGIC))
        handle.seek(max(0, Path(path).stat().st_size - len(FBX_FOOTER_MAGIC)))
        tail = handle.read()
    if head.lstrip().startswith(b"; FBX"):
        return f"{path}: an ASCII FBX; Blender reads binary FBX only: export it as binary FBX 7.x"
    if head == FBX_BINARY_MAGIC and tail != FBX_FOOTER_MAGIC:
        return (
            f"{path}: truncated or corrupt (a binary FBX ends with its footer, this one does "
            "not); download or export it again"
        )
    return None


def vrm_meta(path: str | Path) -> dict[str, str]:
    """Licence and attribution from a VRM (binary glTF) file's meta, without Blender."""
    document = gltf_json(path)
    extensions = document.get("extensions", {})
    if "VRMC_vrm" in extensions:  # VRM 1.0
        meta = extensions["VRMC_vrm"].get("meta", {})
        authors = ", ".join(meta.get("authors", []))
        return {
            "license": meta.get("licenseUrl", ""),
            "attribution": _credit(meta.get("name", ""), authors),
        }
    meta = extensions.get("VRM", {}).get("meta", {})  # VRM 0.x
    license_name = meta.get("licenseName", "")
    if license_name == "Other":
        license_name = meta.get("otherLicenseUrl", "") or "other"
    return {
        "license": license_name.lower().replace("_", "-"),
        "attribution": _credit(meta.get("title", ""), meta.get("author", "")),
    }
