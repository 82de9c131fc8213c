"""Training, evaluation and the pose regressor for AniMo (``pip install "animeceleb-hf[train]"``).

Reads AnimeCeleb data with ``datasets`` (a local Hub folder or a repo id) and writes weights in the
Hub layout that ``animo_hf.AniMoPipeline.from_pretrained`` loads. Nothing here imports Blender.
"""
