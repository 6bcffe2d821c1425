"""Assemble the face-model asset: neutral mesh, calibration, rig, render topology."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from tdmm_lm.face import topology as tp
from tdmm_lm.face.authoring.fields import Mesh
from tdmm_lm.face.authoring.mesh import (
    detect_portrait,
    interior_triangles,
    orient_toward_viewer,
    photo_ring,
    skin_triangles,
)
from tdmm_lm.face.authoring.shapes import build_blendshapes
from tdmm_lm.face.spaces import ARKIT_BLENDSHAPES

__all__ = ["ASSET_FORMAT_VERSION", "build_face_asset"]

log = logging.getLogger(__name__)

ASSET_FORMAT_VERSION = 1
SMILE_CORNER_LIFT_MM = 8.0  # must match mouthSmile's corner lift in shapes.py
MAX_SMILE_REMOVED = 1.5  # never remove more than this much of the smile shape
NECK_PIVOT_BELOW_SUBNASALE_MM = 15.0  # the atlanto-occipital joint, behind the face
NECK_PIVOT_DEPTH_MM = 95.0
JAW_PIVOT_BELOW_EAR_MM = 8.0
EYEBALL_RADIUS_MM = 12.0


def _calibration(m: Mesh, shapes: np.ndarray) -> tuple[np.ndarray, dict[str, float]]:
    """Offset that takes the portrait's smiling, parted-lips face to a neutral one.

    The smile is measured by how far the mouth corners sit above the line where the lips
    meet, and removed with the rig's own smile shapes; the parted lips are closed by moving
    both lips halfway toward each other.
    """
    v = m.vertices
    stomion_y = 0.5 * (v[13, 1] + v[14, 1])
    corner_lift = v[[61, 291], 1].mean() - stomion_y
    smile_weight = float(np.clip(corner_lift / SMILE_CORNER_LIFT_MM, 0.0, MAX_SMILE_REMOVED))
    names = list(ARKIT_BLENDSHAPES)
    offset = -smile_weight * (
        shapes[names.index("mouthSmileLeft")] + shapes[names.index("mouthSmileRight")]
    )
    desmiled = v + offset
    handles = {}
    upper, lower = tp.LIP_INNER_UPPER[1:-1], tp.LIP_INNER_LOWER[1:-1]
    for u in upper:
        partner = min(lower, key=lambda j, u=u: abs(desmiled[j, 0] - desmiled[u, 0]))
        gap = desmiled[u, 1] - desmiled[partner, 1]
        handles[u] = np.array([0.0, -0.5 * gap, 0.0])
        handles[partner] = np.array([0.0, 0.5 * gap, 0.0])
    offset = offset + m.harmonic(handles, radius=25.0)
    return offset, {"smile_weight": smile_weight, "lip_gap_mm": float(v[13, 1] - v[14, 1])}


def build_face_asset(path: Path) -> dict[str, np.ndarray]:
    """Build the asset and write it to ``path`` (an ``.npz``); return its arrays."""
    portrait = detect_portrait()
    detected = portrait.vertices_mm
    skin = orient_toward_viewer(skin_triangles(), detected)
    interiors = interior_triangles(detected)
    ring_xy, ring_tris = photo_ring(portrait.pixels)

    ear = 0.5 * (detected[tp.CHEEK_EDGE_LEFT] + detected[tp.CHEEK_EDGE_RIGHT])
    jaw_pivot = np.array([0.0, ear[1] - JAW_PIVOT_BELOW_EAR_MM, ear[2]])

    first = Mesh(detected, skin)
    calibration, calib_info = _calibration(first, build_blendshapes(first, jaw_pivot))
    neutral = detected + calibration
    log.info("calibration: %s", calib_info)
    m = Mesh(neutral, skin)
    shapes = build_blendshapes(m, jaw_pivot)

    neck_pivot = np.array(
        [
            0.0,
            neutral[tp.SUBNASALE, 1] - NECK_PIVOT_BELOW_SUBNASALE_MM,
            neutral[tp.NOSE_TIP, 2] - NECK_PIVOT_DEPTH_MM,
        ]
    )
    eye_centres = np.stack([neutral[tp.IRIS_LEFT[0]], neutral[tp.IRIS_RIGHT[0]]]) - np.array(
        [0.0, 0.0, EYEBALL_RADIUS_MM]
    )

    arrays = {
        "format_version": np.array(ASSET_FORMAT_VERSION),
        "neutral": neutral.astype(np.float32),
        "blendshapes": shapes,
        "blendshape_names": np.array(ARKIT_BLENDSHAPES),
        "calibration_offset": calibration.astype(np.float32),
        "calibration_smile_weight": np.array(calib_info["smile_weight"], dtype=np.float32),
        "skin_triangles": skin,
        "eye_left_triangles": interiors["eyeLeft"],
        "eye_right_triangles": interiors["eyeRight"],
        "mouth_triangles": interiors["mouth"],
        "neck_pivot": neck_pivot.astype(np.float32),
        "jaw_pivot": jaw_pivot.astype(np.float32),
        "eye_centres": eye_centres.astype(np.float32),  # left, right
        "portrait_pixels": portrait.pixels[:, :2].astype(np.float32),
        "portrait_mm_per_pixel": np.array(portrait.mm_per_pixel, dtype=np.float32),
        "portrait_origin_pixels": portrait.origin_pixels.astype(np.float32),
        "photo_ring_pixels": ring_xy,
        "photo_ring_triangles": ring_tris,
        "source": np.array("scikit-image data.astronaut (public domain), MediaPipe Face Mesh"),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp.npz")
    np.savez_compressed(tmp, **arrays)
    tmp.replace(path)
    return arrays
