"""From the astronaut portrait to a metric, triangulated neutral mesh.

Steps: MediaPipe Face Mesh (refined, 478 points) on scikit-image's public-domain
``astronaut`` portrait; conversion from pixels to millimetres (the face is 140 mm wide);
triangulation of the tessellation; and the extra triangles a renderer needs: the eye
interiors (with the iris points, so moving them moves the iris), the mouth opening, and a
fixed ring around the face outline that blends the warped face back into the photograph.
"""

from __future__ import annotations

import itertools
from collections import Counter, defaultdict
from dataclasses import dataclass

import cv2
import numpy as np
from scipy.spatial import Delaunay

from tdmm_lm.face import topology as tp

__all__ = ["FACE_WIDTH_MM", "PortraitLandmarks", "detect_portrait", "interior_triangles"]

FACE_WIDTH_MM = 140.0  # distance between the two widest outline points (234 and 454)
PHOTO_RING_SCALE = 1.55  # the fixed blending ring, relative to the face outline
PHOTO_RING_POINTS = 48


@dataclass
class PortraitLandmarks:
    """Landmarks of the portrait and the map between model millimetres and its pixels.

    Attributes:
        image: (H, W, 3) uint8 RGB portrait.
        pixels: (478, 3) landmark positions in pixels (x right, y down, z MediaPipe depth).
        vertices_mm: (478, 3) the same in model space: mm, x to the subject's left, y up,
            z toward the viewer, origin at the nose bridge.
        mm_per_pixel: Scale of the portrait.
        origin_pixels: (2,) pixel position of the model origin.
    """

    image: np.ndarray
    pixels: np.ndarray
    vertices_mm: np.ndarray
    mm_per_pixel: float
    origin_pixels: np.ndarray


def detect_portrait() -> PortraitLandmarks:
    """Run MediaPipe Face Mesh on scikit-image's ``astronaut`` and convert to millimetres."""
    import mediapipe as mp  # only needed to rebuild the asset
    from skimage import data

    image = data.astronaut()
    h, w = image.shape[:2]
    with mp.solutions.face_mesh.FaceMesh(
        static_image_mode=True, refine_landmarks=True, max_num_faces=1
    ) as face_mesh:
        result = face_mesh.process(image)
    if not result.multi_face_landmarks:
        raise RuntimeError("MediaPipe found no face in the astronaut portrait")
    lm = result.multi_face_landmarks[0].landmark
    # MediaPipe's z is in the same normalised units as x (image width), negative = closer.
    pixels = np.array([[p.x * w, p.y * h, p.z * w] for p in lm], dtype=np.float64)
    width_px = np.linalg.norm(pixels[tp.CHEEK_EDGE_LEFT, :2] - pixels[tp.CHEEK_EDGE_RIGHT, :2])
    scale = FACE_WIDTH_MM / width_px
    origin = pixels[tp.NOSE_BRIDGE]
    mm = np.stack(
        [
            (pixels[:, 0] - origin[0]) * scale,
            -(pixels[:, 1] - origin[1]) * scale,
            -(pixels[:, 2] - origin[2]) * scale,
        ],
        axis=1,
    )
    return PortraitLandmarks(image, pixels, mm, float(scale), origin[:2].copy())


def skin_triangles() -> np.ndarray:
    """(F, 3) triangles of the Face Mesh tessellation, recovered from its edge list.

    MediaPipe publishes the tessellation as edges. Every face is a 3-cycle of edges, but a
    few 3-cycles are not faces: they are recognised because each of their edges is already
    shared by two other triangles.
    """
    from mediapipe.python.solutions.face_mesh_connections import FACEMESH_TESSELATION

    neighbours: dict[int, set[int]] = defaultdict(set)
    for a, b in FACEMESH_TESSELATION:
        neighbours[a].add(b)
        neighbours[b].add(a)
    cycles = {
        tuple(sorted((a, b, c)))
        for a, b in FACEMESH_TESSELATION
        for c in neighbours[a] & neighbours[b]
    }
    edge_use = Counter(e for t in cycles for e in itertools.combinations(t, 2))
    faces = [t for t in cycles if not all(edge_use[e] > 2 for e in itertools.combinations(t, 2))]
    return np.array(sorted(faces), dtype=np.int32)


def orient_toward_viewer(triangles: np.ndarray, vertices: np.ndarray) -> np.ndarray:
    """Reorder each triangle so that its normal points toward +z.

    That is counter-clockwise as seen from the viewer, with y up.
    """
    a, b, c = (vertices[triangles[:, k], :2] for k in range(3))
    cross = (b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (b[:, 1] - a[:, 1]) * (c[:, 0] - a[:, 0])
    out = triangles.copy()
    flip = cross < 0
    out[flip] = out[flip][:, [0, 2, 1]]
    return out


def _fill_loop(loop: list[int], extra: list[int], points: np.ndarray) -> np.ndarray:
    """Triangulate the inside of a closed contour (plus interior points) in 2-D."""
    ids = np.array(loop + extra)
    tri = Delaunay(points[ids, :2])
    polygon = points[loop, :2].astype(np.float32).reshape(-1, 1, 2)
    keep = []
    for simplex in tri.simplices:
        centre = points[ids[simplex], :2].mean(axis=0)
        if cv2.pointPolygonTest(polygon, (float(centre[0]), float(centre[1])), False) > 0:
            keep.append(ids[simplex])
    return np.array(keep, dtype=np.int32)


def interior_triangles(vertices: np.ndarray) -> dict[str, np.ndarray]:
    """Triangles filling the eye openings (with the iris points) and the mouth opening.

    Args:
        vertices: (478, 3) landmark positions where eyes and mouth are open (the portrait).
    """
    out = {}
    for side in ("Left", "Right"):
        loop = list(tp.EYE_UPPER[side]) + list(tp.EYE_LOWER[side][-2:0:-1])
        polygon = vertices[loop, :2].astype(np.float32).reshape(-1, 1, 2)
        inside = [
            i
            for i in tp.IRIS[side]
            if cv2.pointPolygonTest(polygon, tuple(map(float, vertices[i, :2])), True) > 0.3
        ]
        out[f"eye{side}"] = _fill_loop(loop, inside, vertices)
    mouth_loop = list(tp.LIP_INNER_UPPER) + list(tp.LIP_INNER_LOWER[-2:0:-1])
    out["mouth"] = _fill_loop(mouth_loop, [], vertices)
    return {k: orient_toward_viewer(t, vertices) for k, t in out.items()}


def photo_ring(pixels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A fixed ring of points around the face outline, and the triangles that join them.

    Returns:
        ring_xy: (R, 2) pixel positions of the ring (they never move).
        triangles: (K, 3) triangles over the outline vertices (indices < 478) and the ring
            points (index 478 + r), covering the band between outline and ring.
    """
    oval = pixels[list(tp.FACE_OVAL), :2]
    centre = oval.mean(axis=0)
    angles = np.linspace(0, 2 * np.pi, PHOTO_RING_POINTS, endpoint=False)
    # The ring follows the outline's radius in each direction, scaled outward.
    rel = oval - centre
    oval_angle = np.arctan2(rel[:, 1], rel[:, 0])
    oval_radius = np.linalg.norm(rel, axis=1)
    order = np.argsort(oval_angle)
    radius = np.interp(angles, oval_angle[order], oval_radius[order], period=2 * np.pi)
    ring = centre + PHOTO_RING_SCALE * radius[:, None] * np.stack(
        [np.cos(angles), np.sin(angles)], axis=1
    )
    points = np.concatenate([oval, ring])
    ids = np.concatenate([np.array(tp.FACE_OVAL), tp.N_LANDMARKS + np.arange(len(ring))])
    tri = Delaunay(points)
    polygon = oval.astype(np.float32).reshape(-1, 1, 2)
    keep = []
    for simplex in tri.simplices:
        c = points[simplex].mean(axis=0)
        if cv2.pointPolygonTest(polygon, (float(c[0]), float(c[1])), False) < 0:
            keep.append(ids[simplex])
    return ring.astype(np.float32), np.array(keep, dtype=np.int32)
