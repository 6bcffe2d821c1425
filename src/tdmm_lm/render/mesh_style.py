"""``--style mesh``: a z-buffered, smoothly shaded grey face, as in FLAME renders."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from tdmm_lm.face import FaceModel
from tdmm_lm.face import topology as tp
from tdmm_lm.render.camera import Framing
from tdmm_lm.render.raster import rasterize
from tdmm_lm.render.shading import VertexNormals, shade_smooth

__all__ = ["MeshRenderer"]

BACKGROUND_RGB = (255, 255, 255)
SCLERA_ALBEDO = 0.92
IRIS_ALBEDO = 0.18
MOUTH_RGB = np.array([52, 28, 30], dtype=np.float32)
TONGUE_RGB = np.array([190, 96, 104], dtype=np.float32)
VERTEX_BATCH = 64  # frames whose vertices are evaluated together


class MeshRenderer:
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
        albedo = np.full(model.n_vertices, SCLERA_ALBEDO, dtype=np.float32)
        albedo[list(tp.IRIS_LEFT + tp.IRIS_RIGHT)] = IRIS_ALBEDO
        self.eye_albedo = albedo
        self._tongue = model.channels.index("tongueOut")

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
        pix, albedo = eyes.interpolate(self.eye_albedo)
        keep = free[pix]
        flat[pix[keep]] = (255.0 * albedo[keep, None]).astype(np.uint8)
        mouth = rasterize(xy, depth, self.mouth, size, size)
        pix = np.flatnonzero(mouth.mask.reshape(-1) & free)
        t = float(np.clip(tongue_out, 0.0, 1.0))
        flat[pix] = ((1.0 - t) * MOUTH_RGB + t * TONGUE_RGB).astype(np.uint8)

    def frames(self, params: np.ndarray) -> Iterator[np.ndarray]:
        """Render every frame of a (T, 61) parameter array, lazily."""
        tongue = params[:, self._tongue]
        for start in range(0, len(params), VERTEX_BATCH):
            verts = self.model.vertices(params[start : start + VERTEX_BATCH])
            for k, v in enumerate(verts):
                yield self.render(v, float(tongue[start + k]))
