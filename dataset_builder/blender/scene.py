"""Blender scene setup: render settings, camera framing, the frontal light and head rotation."""

from __future__ import annotations

import math

import bpy
import numpy as np
from mathutils import Matrix, Vector

FRONT = Vector((0.0, -1.0, 0.0))  # the character's frontal direction (Blender's front view)
LIGHT_ELEVATION_DEG = 15.0  # the sun sits a little above the frontal axis
FRAME_MARGIN = 1.55  # head extent -> orthographic scale; leaves room for +-20 degree turns


def reset_scene() -> bpy.types.Scene:
    """An empty scene (no world, no light, factory render settings); scripts never auto-run."""
    bpy.ops.wm.read_factory_settings(use_empty=True)
    bpy.context.preferences.filepaths.use_scripts_auto_execute = False
    return bpy.context.scene


def configure_render(scene: bpy.types.Scene, resolution: int) -> None:
    """Cycles on the CPU, RGBA PNG with a transparent background, no denoising.

    Every worker lets Cycles use all cores: with 2 workers on 2 cores one worker's serial scene
    sync overlaps the other's render (cel, 256²: 36 images/s, against 30 with one thread each).
    """
    render = scene.render
    render.engine = "CYCLES"
    render.resolution_x = render.resolution_y = resolution
    render.resolution_percentage = 100
    render.film_transparent = True
    render.use_compositing = False
    render.use_sequencer = False
    render.use_persistent_data = True
    render.image_settings.file_format = "PNG"
    render.image_settings.color_mode = "RGBA"
    render.image_settings.color_depth = "8"
    render.image_settings.compression = 15
    for name in dir(render):  # no date, time, render time or host name in the PNG metadata
        if name.startswith("use_stamp"):
            setattr(render, name, False)
    cycles = scene.cycles
    cycles.device = "CPU"
    cycles.use_denoising = False
    cycles.use_adaptive_sampling = False
    cycles.max_bounces = 0  # direct light only: the styles are unlit or lit by the sun alone
    cycles.transparent_max_bounces = 8  # alpha-clipped textures (lashes, hair cards)
    cycles.caustics_reflective = cycles.caustics_refractive = False
    scene.view_settings.view_transform = "Standard"
    scene.view_settings.look = "None"
    if scene.world is None:
        scene.world = bpy.data.worlds.new("World")
    scene.world.color = (0.0, 0.0, 0.0)


def add_front_light(scene: bpy.types.Scene, strength: float = 2.0) -> bpy.types.Object:
    """A sun shining along the character's frontal axis (from the front, slightly above)."""
    light = bpy.data.lights.new("FrontSun", type="SUN")
    light.energy = strength
    light.angle = math.radians(2.0)
    sun = bpy.data.objects.new("FrontSun", light)
    scene.collection.objects.link(sun)
    toward_light = light_direction()
    # A sun emits along its local -Z: point -Z from the light toward the character.
    sun.rotation_euler = (-toward_light).to_track_quat("-Z", "Y").to_euler()
    return sun


def light_direction() -> Vector:
    """Unit vector from the character toward the light (world space)."""
    elevation = math.radians(LIGHT_ELEVATION_DEG)
    return Vector((0.0, -math.cos(elevation), math.sin(elevation)))


def bone_and_descendants(armature: bpy.types.Object, bone_name: str) -> list[str]:
    bone = armature.data.bones[bone_name]
    return [bone.name, *(child.name for child in bone.children_recursive)]


def weighted_vertices(
    meshes: list[bpy.types.Object], group_names: list[str], min_weight: float = 0.5
) -> np.ndarray:
    """World positions (evaluated: current pose and shape keys) of vertices weighted to the groups,
    and of every vertex of a mesh parented to one of those bones (no weights: a low-poly head,
    a glTF export's rigid part).

    Returns an array of shape (V, 3).
    """
    depsgraph = bpy.context.evaluated_depsgraph_get()
    wanted = set(group_names)
    points = []
    for obj in meshes:
        if obj.parent_type == "BONE" and obj.parent_bone in wanted:
            selected = list(range(len(obj.data.vertices)))
        else:
            indices = {g.index for g in obj.vertex_groups if g.name in wanted}
            selected = [
                v.index
                for v in obj.data.vertices
                if any(g.group in indices and g.weight >= min_weight for g in v.groups)
            ]
        if not selected:
            continue
        evaluated = obj.evaluated_get(depsgraph)
        mesh = evaluated.to_mesh()
        if len(mesh.vertices) != len(obj.data.vertices):  # a modifier changed the topology
            evaluated.to_mesh_clear()
            mesh = obj.data
        co = np.empty(len(mesh.vertices) * 3, dtype=np.float64)
        mesh.vertices.foreach_get("co", co)
        evaluated.to_mesh_clear()
        co = co.reshape(-1, 3)[selected]
        matrix = np.array(obj.matrix_world)
        points.append(co @ matrix[:3, :3].T + matrix[:3, 3])
    if not points:
        raise ValueError(
            f"no vertices are weighted to bones {sorted(wanted)}, and no mesh is parented to them"
        )
    return np.concatenate(points)


def frame_camera(scene: bpy.types.Scene, points: np.ndarray) -> bpy.types.Object:
    """An orthographic camera on the frontal axis, framing ``points`` (V, 3) with a margin."""
    low, high = points.min(axis=0), points.max(axis=0)
    centre = (low + high) / 2
    extent = max(high[0] - low[0], high[2] - low[2])
    camera_data = bpy.data.cameras.new("FrameCamera")
    camera_data.type = "ORTHO"
    camera_data.ortho_scale = float(extent * FRAME_MARGIN)
    depth = float(high[1] - low[1])
    camera_data.clip_start = 0.01
    camera_data.clip_end = 10.0 * max(depth, extent) + 10.0
    camera = bpy.data.objects.new("FrameCamera", camera_data)
    distance = 3.0 * max(depth, extent) + 1.0
    camera.location = Vector(centre) + FRONT * distance
    camera.rotation_euler = (-FRONT).to_track_quat("-Z", "Y").to_euler()
    scene.collection.objects.link(camera)
    scene.camera = camera
    return camera


def world_rotation(yaw: float, pitch: float, roll: float) -> Matrix:
    """Head rotation in world space from the pose vector's angles (``animeceleb.pose``) (degrees).

    yaw > 0 turns the face (-Y) toward +X (image right): +yaw about +Z.
    pitch > 0 tilts the face up: -pitch about +X.
    roll > 0 tilts the top of the head toward +X: +roll about +Y.
    """
    return (
        Matrix.Rotation(math.radians(yaw), 3, "Z")
        @ Matrix.Rotation(math.radians(-pitch), 3, "X")
        @ Matrix.Rotation(math.radians(roll), 3, "Y")
    )


class HeadRotator:
    """Turns the head at one pose bone, composed onto the bone's existing pose.

    Imported rigs may keep their node transforms in the pose bones, so the rotation is applied in
    armature space about the bone's posed head point rather than overwriting ``rotation_*``.
    """

    def __init__(self, armature: bpy.types.Object, bone_name: str) -> None:
        self.armature = armature
        self.pose_bone = armature.pose.bones[bone_name]
        bpy.context.view_layer.update()
        self.base = self.pose_bone.matrix.copy()
        to_world = armature.matrix_world.to_3x3().normalized()
        self.to_armature = to_world.inverted()
        self.to_world = to_world
        self.pivot = self.base.to_translation()

    def set_angles(self, yaw: float, pitch: float, roll: float) -> None:
        rotation = self.to_armature @ world_rotation(yaw, pitch, roll) @ self.to_world
        pivot = Matrix.Translation(self.pivot)
        self.pose_bone.matrix = pivot @ rotation.to_4x4() @ pivot.inverted() @ self.base
