"""Procedural characters: determinism, variety, naming, morph regions, rig and file round trips.

Blender runs only in subprocesses; this process never imports bpy.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from animeceleb.pose import TARGET_MORPH_NAMES
from dataset_builder.annotation import NON_TARGET_NAMES, annotate_by_name
from dataset_builder.procedural import body, character_spec, hair, procedural_model_id
from dataset_builder.procedural.accessories import accessory_parts
from dataset_builder.procedural.face import FaceBuilder, FaceState
from dataset_builder.procedural.model import NECK_BONE, bones, character_objects
from dataset_builder.procedural.naming import NON_TARGET_EFFECT
from dataset_builder.procedural.surface import HeadShape

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def _run_python(code: str, *args: str, timeout: float = 120) -> str:
    env = dict(os.environ, PYTHONPATH=str(PROJECT_ROOT))
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        cwd=PROJECT_ROOT,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def test_import_does_not_import_bpy():
    out = _run_python(
        """
        import sys
        import dataset_builder.procedural
        print("bpy" in sys.modules)
        """
    )
    assert out.strip() == "False"


def test_spec_and_geometry_are_deterministic():
    assert character_spec(123) == character_spec(123)
    assert character_spec(123) != character_spec(124)
    assert procedural_model_id(42) == "procedural-000042"
    first, again = character_objects(character_spec(123)), character_objects(character_spec(123))
    for a, b in zip(first, again, strict=True):
        np.testing.assert_array_equal(a.mesh.verts, b.mesh.verts)
        for (name_a, keys_a), (name_b, keys_b) in zip(a.shape_keys, b.shape_keys, strict=True):
            assert name_a == name_b
            np.testing.assert_array_equal(keys_a, keys_b)
    other = character_objects(character_spec(124))[0].mesh.verts
    assert other.shape != first[0].mesh.verts.shape or not np.allclose(other, first[0].mesh.verts)


def test_thousands_of_distinct_identities():
    keys = {character_spec(seed).diversity_key for seed in range(2000)}
    assert len(keys) >= 1900
    styles = Counter(character_spec(seed).hair_style for seed in range(300))
    assert len(styles) >= 4


def test_a_posed_body_keeps_the_head_and_varies_what_is_below_it():
    import dataclasses

    assert procedural_model_id(42, "posed") == "procedural-posed-000042"
    with pytest.raises(ValueError, match="procedural body 'winged': expected one of"):
        character_spec(42, "winged")
    specs = [character_spec(seed, "posed") for seed in range(200)]
    body_fields = {"body", "collar_z", "body_scale", "arms", "arm_drop"}
    for seed in (0, 1, 2):  # the same head: every head parameter is drawn before the body's
        plain = dataclasses.asdict(character_spec(seed))
        posed = dataclasses.asdict(specs[seed])
        assert {k: v for k, v in posed.items() if k not in body_fields} == {
            k: v for k, v in plain.items() if k not in body_fields
        }
        shoulders, lifted = character_objects(character_spec(seed)), character_objects(specs[seed])
        for a, b in zip(shoulders[:-1], lifted[:-1], strict=True):  # face, hair, accessory
            np.testing.assert_array_equal(a.mesh.verts, b.mesh.verts)
    assert Counter(s.arms for s in specs).keys() == {"down", "t-pose", "a-pose"}
    assert min(s.body_scale for s in specs) < 0.6 and max(s.body_scale for s in specs) > 0.95
    for spec in specs[:20]:
        objects = character_objects(spec)
        body_mesh, weights = objects[-1].mesh, objects[-1].weights
        chest = body_mesh.verts[weights["chest"]]
        # the collar's top sits at collar_z; arms reach out past the frame's sides (> 0.3 m)
        assert chest[:, 2].max() == pytest.approx(spec.collar_z + 0.006 * spec.body_scale, abs=2e-3)
        reach = np.abs(chest[:, 0]).max()
        assert (reach > 0.3) == (spec.arms != "down"), (spec.seed, spec.arms, reach)
        # the head turns about the neck's pivot, which rises with the collar
        pivot = bones(spec)[NECK_BONE][0][2]
        assert pivot == pytest.approx(1.28 + spec.collar_z - 1.316)
        assert chest[:, 2].min() < pivot < spec.collar_z


def test_every_non_target_name_has_an_effect():
    named = {name for names in NON_TARGET_NAMES.values() for name in names}
    assert set(NON_TARGET_EFFECT) == named


def test_shape_key_names_annotate_back_to_present_targets():
    counts = []
    schemes = set()
    for seed in range(300):
        spec = character_spec(seed)
        annotation = annotate_by_name(procedural_model_id(seed), spec.shape_key_names)
        assert set(annotation.targets) == set(spec.present_targets), seed
        assert dict(spec.target_names) == annotation.targets
        assert len(annotation.unmatched) == len(spec.extra_morphs) >= 2
        assert len(set(spec.shape_key_names)) == len(spec.shape_key_names)
        counts.append(len(spec.present_targets))
        schemes.add(spec.naming_scheme)
    counts = np.array(counts)
    assert schemes == {"vrm", "vroid", "mmd", "arkit"}
    assert 0.5 < np.mean(counts == len(TARGET_MORPH_NAMES)) < 0.8
    assert 0.01 < np.mean(counts <= 5) < 0.12


def _vertex_roles(mesh) -> np.ndarray:
    """The material role of each vertex (from the polygons that use it)."""
    roles = np.empty(len(mesh.verts), dtype=object)
    per_loop = np.repeat(mesh.material_index, mesh.sizes)
    roles[mesh.loops] = np.array(mesh.roles, dtype=object)[per_loop]
    return roles


@pytest.mark.parametrize("seed", [0, 5, 17])
def test_each_morph_moves_only_its_own_region(seed):
    spec = character_spec(seed)
    face = character_objects(spec)[0]
    base = face.mesh.verts
    roles = _vertex_roles(face.mesh)
    eye_top = spec.eye_z + spec.eye_height
    brow_low = spec.eye_z + 0.2 * spec.eye_height
    keys = dict(face.shape_keys)
    for target, name in spec.target_names:
        moved = np.linalg.norm(keys[name] - base, axis=1) > 1e-7
        assert moved.any(), target
        x, z = base[moved, 0], base[moved, 2]
        part = target.split("_")[0]
        if target.endswith("_L"):
            assert (x > 0).all(), target
        if target.endswith("_R"):
            assert (x < 0).all(), target
        if part == "eye":
            assert set(roles[moved]) <= {"eye_white", "iris", "pupil", "highlight", "line"}, target
            assert z.max() < eye_top + 0.01 and z.min() > spec.eye_z - spec.eye_height, target
        elif part == "brow":
            assert set(roles[moved]) == {"brow"}, target
            assert z.min() > brow_low, target
        else:
            assert set(roles[moved]) <= {"mouth", "line"}, target
            assert np.abs(x).max() < 0.03 and np.abs(z - spec.mouth_z).max() < 0.03, target


def test_closed_eye_hides_the_iris():
    spec = character_spec(5)
    face = character_objects(spec)[0]
    roles = _vertex_roles(face.mesh)
    closed = {t: dict(face.shape_keys)[n] for t, n in spec.target_names}["eye_close"]
    iris = (roles == "iris") | (roles == "eye_white") | (roles == "pupil")
    for side in (1, -1):
        mask = iris & (np.sign(face.mesh.verts[:, 0]) == side)
        rest_span = np.ptp(face.mesh.verts[mask, 2])
        closed_span = np.ptp(closed[mask, 2])
        assert closed_span < 0.25 * rest_span
        # every closed-eye layer vertex lies within the lash line's height band
        lash = (roles == "line") & (np.sign(face.mesh.verts[:, 0]) == side)
        lash &= np.abs(face.mesh.verts[:, 2] - spec.eye_z) < spec.eye_height
        assert closed[mask, 2].min() >= closed[lash, 2].min() - 1e-6


def _outward_fraction(mesh, centre: np.ndarray) -> float:
    """Share of non-degenerate polygons whose normal points away from ``centre``."""
    starts = np.cumsum(mesh.sizes) - mesh.sizes
    a, b, c = (mesh.verts[mesh.loops[starts + k]] for k in range(3))
    normal = np.cross(b - a, c - a)
    solid = np.linalg.norm(normal, axis=1) > 1e-12
    away = np.einsum("ij,ij->i", normal, (a + b + c) / 3 - centre) > 0
    return float(np.mean(away[solid]))


@pytest.mark.parametrize("seed", [2, 9])
def test_normals_point_outward(seed):
    spec = character_spec(seed)
    head = HeadShape(spec)
    centre = np.array([0.0, 0.01, 1.48])
    # ears are flattened tubes and clamped iris layers fold at the lids: not all outward
    assert _outward_fraction(FaceBuilder(spec, head).mesh(FaceState()), centre) > 0.97
    for part in (hair.cap(spec, head), hair.bangs(spec, head), hair.side_locks(spec, head, 1.4)):
        assert _outward_fraction(part, centre) > 0.9
    assert _outward_fraction(body.neck(), np.array([0.0, 0.014, 1.37])) == 1.0
    assert _outward_fraction(body.shoulders(), np.array([0.0, 0.014, 1.2])) == 1.0


def test_hair_never_covers_the_eyes():
    for seed in range(0, 240, 4):
        spec = character_spec(seed)
        head = HeadShape(spec)
        face = FaceBuilder(spec, head).mesh(FaceState())
        roles = _vertex_roles(face)
        eye = face.verts[(roles == "eye_white") | (roles == "iris")]
        hair_parts, ties = hair.hair_parts(spec, head)
        covering = hair_parts + ties
        if spec.accessory != "glasses":
            covering += accessory_parts(spec, head)
        for side in (1, -1):
            e = eye[np.sign(eye[:, 0]) == side]
            for part in covering:
                v = part.verts
                inside = (
                    (v[:, 0] > e[:, 0].min())
                    & (v[:, 0] < e[:, 0].max())
                    & (v[:, 2] > e[:, 2].min())
                    & (v[:, 2] < e[:, 2].max())
                    & (v[:, 1] < e[:, 1].max() + 0.01)
                )
                assert not inside.any(), (seed, side)


BLENDER_CHECKS = """
import json, sys
import bpy
import numpy as np
from dataset_builder.procedural import character_spec
from dataset_builder.blender.procedural import build_character
from dataset_builder.blender.export import save_character

out_dir = sys.argv[1]
seed = int(sys.argv[2])
result = {}

def coords(obj, evaluated=False):
    mesh = obj.data
    if evaluated:
        mesh = obj.evaluated_get(bpy.context.evaluated_depsgraph_get()).to_mesh()
    array = np.empty(len(mesh.vertices) * 3, np.float32)
    mesh.vertices.foreach_get("co", array)
    return array.reshape(-1, 3)

bpy.ops.wm.read_factory_settings(use_empty=True)
spec = character_spec(seed)
built = build_character(spec)
face = bpy.data.objects[built.face_mesh_name]
np.save(f"{out_dir}/face.npy", coords(face))
result["built"] = {k: getattr(built, k) for k in ("armature_name", "neck_bone", "head_bone",
                   "face_mesh_name", "mesh_names", "shape_key_names")}
result["key_values"] = [k.value for k in face.data.shape_keys.key_blocks]
result["roles"] = sorted({m["animeceleb_role"] for m in bpy.data.materials})
arm = bpy.data.objects[built.armature_name]
head = arm.data.bones[built.head_bone]
result["head_parent"] = head.parent.name
result["head_axes"] = [list(head.matrix_local.col[i][:3]) for i in range(3)]
groups = {o.name: sorted(g.name for g in o.vertex_groups) for o in bpy.data.objects
          if o.type == "MESH"}
result["groups"] = groups

rest = coords(face, evaluated=True)
pose = arm.pose.bones[built.neck_bone]
pose.rotation_mode = "XYZ"
pose.rotation_euler = (0.0, 0.3, 0.0)  # about the bone's Y axis (up): a yaw
bpy.context.view_layer.update()
turned = coords(face, evaluated=True)
result["neck_turn_moves_head"] = float(np.abs(turned - rest).max())
pose.rotation_euler = (0.0, 0.0, 0.0)
bpy.context.view_layer.update()

camera = bpy.data.objects.new("Camera", bpy.data.cameras.new("Camera"))
bpy.context.scene.collection.objects.link(camera)
save_character(built, f"{out_dir}/c.glb")
save_character(built, f"{out_dir}/c.blend")
bpy.ops.wm.read_factory_settings(use_empty=True)
bpy.ops.import_scene.gltf(filepath=f"{out_dir}/c.glb")
meshes = [o for o in bpy.data.objects if o.type == "MESH" and o.data.shape_keys]
result["glb_keys"] = [k.name for k in meshes[0].data.shape_keys.key_blocks[1:]] if meshes else []
result["glb_bones"] = sorted(b.name for o in bpy.data.objects if o.type == "ARMATURE"
                             for b in o.data.bones)
result["glb_objects"] = sorted(o.type for o in bpy.data.objects if o.type != "MESH")
result["glb_materials"] = {m["animeceleb_role"]: list(m.diffuse_color)[:3]
                           for m in bpy.data.materials if "animeceleb_role" in m}
bpy.ops.wm.open_mainfile(filepath=f"{out_dir}/c.blend")
face = bpy.data.objects[built.face_mesh_name]
result["blend_keys"] = [k.name for k in face.data.shape_keys.key_blocks[1:]]
hair = bpy.data.materials["hair"]
output = next(n for n in hair.node_tree.nodes if n.type == "OUTPUT_MATERIAL")
result["blend_hair_surface"] = output.inputs["Surface"].links[0].from_node.type
result["blend_colours"] = {m["animeceleb_role"]: list(m.diffuse_color)[:3]
                           for m in bpy.data.materials if "animeceleb_role" in m}
print("RESULT" + json.dumps(result))
"""


@pytest.fixture(scope="module")
def blender_result(tmp_path_factory):
    out = tmp_path_factory.mktemp("procedural")
    stdout = _run_python(BLENDER_CHECKS, str(out), "5")
    line = next(x for x in stdout.splitlines() if x.startswith("RESULT"))
    return json.loads(line.removeprefix("RESULT")), out


def test_blender_build_matches_numpy_and_spec(blender_result):
    result, out = blender_result
    spec = character_spec(5)
    built = result["built"]
    assert built["shape_key_names"] == list(spec.shape_key_names)
    annotation = annotate_by_name(procedural_model_id(5), built["shape_key_names"])
    assert set(annotation.targets) == set(spec.present_targets)
    assert built["neck_bone"] == "neck" and built["head_bone"] == "head"
    assert built["face_mesh_name"] in built["mesh_names"]
    assert all(v == 0.0 for v in result["key_values"][1:])
    face = np.load(out / "face.npy")
    np.testing.assert_allclose(face, character_objects(spec)[0].mesh.verts, atol=1e-6)
    assert {
        "skin",
        "eye_white",
        "iris",
        "pupil",
        "highlight",
        "line",
        "mouth",
        "brow",
        "hair",
        "cloth",
    } <= set(result["roles"])


def test_rig_head_follows_neck(blender_result):
    result, _ = blender_result
    assert result["head_parent"] == "neck"
    x_axis, y_axis, z_axis = (np.array(a) for a in result["head_axes"])
    np.testing.assert_allclose(x_axis, [1, 0, 0], atol=1e-6)  # character's left
    np.testing.assert_allclose(y_axis, [0, 0, 1], atol=1e-6)  # along the bone, up
    np.testing.assert_allclose(z_axis, [0, -1, 0], atol=1e-6)  # the front
    assert result["neck_turn_moves_head"] > 0.02
    assert result["groups"]["Face"] == ["head"]
    assert result["groups"]["Body"] == ["chest", "neck"]


def test_glb_and_blend_round_trip(blender_result):
    result, out = blender_result
    assert (out / "c.glb").is_file() and (out / "c.blend").is_file()
    assert not list(out.glob(".*tmp*"))  # written under a temporary name, then renamed
    names = result["built"]["shape_key_names"]
    assert result["glb_keys"] == names
    assert result["blend_keys"] == names
    assert {"chest", "neck", "head"} <= set(result["glb_bones"])
    assert result["glb_objects"] == ["ARMATURE"]  # the character only, not the camera
    # the glb keeps each role and its flat colour; the .blend keeps the procedural look
    assert result["glb_materials"].keys() == result["blend_colours"].keys()
    for role, colour in result["blend_colours"].items():
        np.testing.assert_allclose(result["glb_materials"][role], colour, atol=1e-4)
    assert result["blend_hair_surface"] == "EMISSION"
