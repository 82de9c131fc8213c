"""One helper for building shader node trees, used by the procedural characters' materials and by
the render styles alike.

Sockets and constants mix freely: wherever a method takes a value, a number, an RGB(A) tuple or an
output socket is accepted.
"""

from __future__ import annotations

import bpy

from .scene import light_direction

RGB = tuple[float, float, float]


class Graph:
    """A material's node tree, emptied, with one material output node."""

    def __init__(self, material: bpy.types.Material) -> None:
        material.use_nodes = True
        self.material = material
        self.tree = material.node_tree
        self.tree.nodes.clear()
        self.out = self.tree.nodes.new("ShaderNodeOutputMaterial")

    def node(self, kind: str, **settings) -> bpy.types.Node:
        node = self.tree.nodes.new(kind)
        for key, value in settings.items():
            setattr(node, key, value)
        return node

    def link(self, source, target) -> None:
        self.tree.links.new(source, target)

    def set_input(self, socket, value) -> None:
        """Link a socket into ``socket``, or set its default to a number or an RGB(A) colour."""
        if isinstance(value, int | float):
            socket.default_value = value
        elif isinstance(value, tuple):
            socket.default_value = (*value[:3], 1.0) if len(socket.default_value) == 4 else value
        else:
            self.link(value, socket)

    def surface(self, shader, alpha=None) -> None:
        """``shader`` as the material's surface, through a transparency mix when there is alpha."""
        if alpha is not None:
            mix = self.node("ShaderNodeMixShader")
            self.link(alpha, mix.inputs["Fac"])
            self.link(self.node("ShaderNodeBsdfTransparent").outputs[0], mix.inputs[1])
            self.link(shader, mix.inputs[2])
            shader = mix.outputs[0]
        self.link(shader, self.out.inputs["Surface"])

    def emission(self, colour, strength: float = 1.0):
        """An emission shader of ``colour`` (unlit)."""
        emission = self.node("ShaderNodeEmission")
        self.set_input(emission.inputs["Color"], colour)
        emission.inputs["Strength"].default_value = strength
        return emission.outputs["Emission"]

    def emit(self, colour, alpha=None) -> None:
        """Emission of ``colour`` as the surface."""
        self.surface(self.emission(colour), alpha)

    def mix(self, factor, a, b, blend: str = "MIX"):
        """Colour mix (``blend``: MIX, MULTIPLY ...) of ``a`` and ``b`` by ``factor``."""
        node = self.node("ShaderNodeMix", data_type="RGBA", blend_type=blend)
        # By index: the float, vector and colour variants of "A", "B" and "Result" share names.
        self.set_input(node.inputs[0], factor)
        self.set_input(node.inputs[6], a)
        self.set_input(node.inputs[7], b)
        return node.outputs[2]

    def multiply(self, a, b):
        """The colour product ``a * b``."""
        return self.mix(1.0, a, b, blend="MULTIPLY")

    def math(self, operation: str, a, b=0.0, c=0.0):
        """Scalar math node output."""
        node = self.node("ShaderNodeMath", operation=operation)
        for socket, value in zip(node.inputs, (a, b, c), strict=True):
            self.set_input(socket, value)
        return node.outputs["Value"]

    def uv(self):
        """(u, v) scalar outputs of the UV map."""
        sep = self.node("ShaderNodeSeparateXYZ")
        self.link(self.node("ShaderNodeUVMap").outputs["UV"], sep.inputs["Vector"])
        return sep.outputs["X"], sep.outputs["Y"]

    def ramp(self, factor, stops: list[tuple[float, RGB]], interpolation: str = "LINEAR"):
        """Colour ramp output for ``factor`` with (position, colour) stops."""
        node = self.node("ShaderNodeValToRGB")
        node.color_ramp.interpolation = interpolation
        elements = node.color_ramp.elements
        while len(elements) < len(stops):
            elements.new(0.5)
        for element, (position, colour) in zip(elements, stops, strict=True):
            element.position = position
            element.color = (*colour[:3], 1.0)
        self.link(factor, node.inputs["Fac"])
        return node.outputs["Color"]

    def step(self, factor, position: float, below: RGB, above: RGB):
        """A constant ramp: ``below`` under ``position``, ``above`` from it on."""
        return self.ramp(factor, [(0.0, below), (position, above)], "CONSTANT")

    def smoothstep(self, edge0: float, edge1: float, value):
        """0 below ``edge0``, 1 above ``edge1``, smooth in between."""
        node = self.node("ShaderNodeMapRange", interpolation_type="SMOOTHSTEP")
        node.inputs["From Min"].default_value = edge0
        node.inputs["From Max"].default_value = edge1
        self.link(value, node.inputs["Value"])
        return node.outputs["Result"]

    def light_dot(self):
        """N·L for the scene's one light direction (``scene.light_direction``)."""
        dot = self.node("ShaderNodeVectorMath", operation="DOT_PRODUCT")
        self.link(self.node("ShaderNodeNewGeometry").outputs["Normal"], dot.inputs[0])
        dot.inputs[1].default_value = tuple(light_direction())
        return dot.outputs["Value"]

    def cel(self, lit, shade):
        """Two-tone shading: ``lit`` where the normal faces the light, else ``shade``."""
        return self.mix(self.smoothstep(-0.12, -0.02, self.light_dot()), shade, lit)

    def facing(self):
        """The facing ratio ``1 - |N·I|`` (0 facing the camera, 1 at silhouettes), linear."""
        layer = self.node("ShaderNodeLayerWeight")
        layer.inputs["Blend"].default_value = 0.5
        return layer.outputs["Facing"]

    def image(self, image: bpy.types.Image):
        """(colour, alpha) outputs of an image texture on the active UV map."""
        texture = self.node("ShaderNodeTexImage")
        texture.image = image
        return texture.outputs["Color"], texture.outputs["Alpha"]
