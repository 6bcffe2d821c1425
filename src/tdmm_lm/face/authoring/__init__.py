"""Authoring of the built-in face model: from a portrait to a rigged mesh asset.

Run ``python scripts/build_face_asset.py`` to rebuild ``tdmm_lm/assets/face_model.npz``.
Nothing here runs when the package is used; :class:`tdmm_lm.face.FaceModel` only reads the
asset.
"""
