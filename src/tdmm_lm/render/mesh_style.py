"""``--style mesh``: a z-buffered, smoothly shaded grey face, as in FLAME renders."""

from __future__ import annotations

import numpy as np

from tdmm_lm.face import FaceModel
from tdmm_lm.face import topology as tp
from tdmm_lm.render.base import FrameRenderer
from tdmm_lm.render.camera import Framing
from tdmm_lm.render.raster import rasterize
from tdmm_lm.render.shading import VertexNormals, shade_smooth

__all__ = ["MeshRenderer"]

BACKGROUND_RGB = (255, 255, 255)
SCLERA_ALBEDO = 0.92
IRIS_ALBEDO = 0.45
PUPIL_ALBEDO = 0.08
PUPIL_FRACTION = 0.45  # pupil radius relative to the iris
MOUTH_RGB = np.array([52, 28, 30], dtype=np.float32)
TONGUE_RGB = np.array([190, 96, 104], dtype=np.float32)


class MeshRenderer(FrameRenderer):
    """Render ``arkit`` parameter frames of the built-in face model as shaded grey meshes.

    The skin is drawn with a per-pixel z-buffer and Phong-interpolated normals. The eye and
    mouth openings are drawn underneath the skin (the lids always cover the eyes): eyes as
    white with a dark iris that follows the iris points, the mouth as a dark cavity that turns
    toward tongue colour with ``tongueOut``.

    Args:
        model: The face model.
        size: Output size in pixels (square).
        background: RGB background colour.
        framing: Camera framing; by default the whole face with room for head motion.
    """

    def __init__(
        self,
        model: FaceModel,
        size: int = 512,
        background: tuple[int, int, int] = BACKGROUND_RGB,
        framing: Framing | None = None,
    ) -> None:
        self.model = model
        self.framing = framing or Framing(size=size)
        self.background = np.array(background, dtype=np.uint8)
        topo = model.topology
        self.skin = topo.skin
        self.normals = VertexNormals(topo.skin, model.n_vertices)
        self.eyes = np.concatenate([topo.eye_left, topo.eye_right])
        self.mouth = topo.mouth

    def render(self, vertices: np.ndarray, tongue_out: float = 0.0) -> np.ndarray:
        """One frame.

        Args:
            vertices: (V, 3) deformed vertices in mm.
            tongue_out: The frame's ``tongueOut`` weight, for the mouth colour.

        Returns:
            (size, size, 3) uint8 RGB image.
        """
        size = self.framing.size
        xy, depth = self.framing.project(vertices)
        skin = rasterize(xy, depth, self.skin, size, size)
        normals = self.normals(vertices)
        image = shade_smooth(skin, normals, background=self.background)
        self._draw_openings(image, xy, depth, ~skin.mask, tongue_out)
        return image

    def _draw_openings(
        self,
        image: np.ndarray,
        xy: np.ndarray,
        depth: np.ndarray,
        uncovered: np.ndarray,
        tongue_out: float,
    ) -> None:
        """Paint eye and mouth openings where the skin left holes (in place)."""
        size = self.framing.size
        flat = image.reshape(-1, 3)
        free = uncovered.reshape(-1)
        eyes = rasterize(xy, depth, self.eyes, size, size)
        pix = np.flatnonzero(eyes.mask.reshape(-1) & free)
        flat[pix] = self._eye_colours(pix, xy)
        mouth = rasterize(xy, depth, self.mouth, size, size)
        pix = np.flatnonzero(mouth.mask.reshape(-1) & free)
        t = float(np.clip(tongue_out, 0.0, 1.0))
        flat[pix] = ((1.0 - t) * MOUTH_RGB + t * TONGUE_RGB).astype(np.uint8)

    def _eye_colours(self, pix: np.ndarray, xy: np.ndarray) -> np.ndarray:
        """(P, 3) uint8 colours of the eye pixels ``pix`` (flat indices).

        Sclera, iris disc and pupil are drawn around the projected iris centres, so the gaze
        follows the eye rotations.
        """
        size = self.framing.size
        points = np.stack([pix % size, pix // size], axis=1).astype(np.float32)
        albedo = np.full(len(pix), SCLERA_ALBEDO, dtype=np.float32)
        for iris in (tp.IRIS_LEFT, tp.IRIS_RIGHT):
            centre = xy[iris[0]]
            radius = np.linalg.norm(xy[list(iris[1:])] - centre, axis=1).mean()
            d = np.linalg.norm(points - centre, axis=1) / max(radius, 1e-6)
            albedo = np.where(d < 1.0, IRIS_ALBEDO, albedo)
            albedo = np.where(d < PUPIL_FRACTION, PUPIL_ALBEDO, albedo)
        grey = (255.0 * albedo).astype(np.uint8)
        return np.repeat(grey[:, None], 3, axis=1)
