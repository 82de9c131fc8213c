"""AnimeCeleb dataset builder: 3D models -> Blender renders -> Parquet in Hub layout.

Importing this package imports neither ``bpy`` nor ``torch``; Blender runs only in worker
processes started with ``spawn`` (see ``dataset_builder.worker``), and every module that imports
``bpy`` lives in ``dataset_builder.blender``. The pose vector and the sampler are ``animeceleb``'s.
"""

from .annotation import Annotation, annotate_by_name

__all__ = ["Annotation", "annotate_by_name"]
