"""``--style photo``: the astronaut portrait, warped by the deformed face mesh.

Every triangle of the mesh carries the patch of the portrait it covered when the asset was
made (MediaPipe's landmarks on the photograph are its texture coordinates), so deforming the
mesh deforms the photograph. A fixed ring around the face outline blends the warp back into
the untouched background. Underneath the skin, the eye openings are textured with the
portrait's own eyes (their triangles pass through the iris points, so the irises move with
the eye rotations), and the mouth opening is a dark cavity. The lids are skin, so a blink
covers the eye.

The portrait's face smiles with parted lips; the neutral calibration of the asset closes the
lips and removes the smile, so all-zero parameters show a neutral face.
"""

from __future__ import annotations

from functools import lru_cache

import cv2
import numpy as np

from tdmm_lm.face import FaceModel
from tdmm_lm.render.base import FrameRenderer
from tdmm_lm.render.warp import warp_mesh_image

__all__ = ["PhotoRenderer"]

CROP_FACE_WIDTHS = 2.4  # the square crop around the face, in face widths
CROP_CENTRE_SHIFT = (0.0, 0.08)  # shift of the crop centre, in face widths (down a little)
MOUTH_RGB = (40, 22, 24)
TONGUE_RGB = (176, 84, 92)


@lru_cache(maxsize=1)
def _portrait() -> np.ndarray:
    from skimage import data

    return np.ascontiguousarray(data.astronaut())


class PhotoRenderer(FrameRenderer):
    """Render ``arkit`` parameter frames as a warped photograph.

    Args:
        model: The face model (its asset holds the portrait's texture coordinates).
        size: Output size in pixels (square crop around the face).
    """

    def __init__(self, model: FaceModel, size: int = 512) -> None:
        self.model = model
        self.size = size
        self.source = _portrait()
        pixels_per_mm, origin = model.portrait_transform()
        self.pixels_per_mm = pixels_per_mm
        self.origin = origin.astype(np.float64)
        oval = model.portrait_pixels[:468]
        face_width = float(np.ptp(oval[:, 0]))
        centre = oval.mean(axis=0) + np.array(CROP_CENTRE_SHIFT) * face_width
        side = CROP_FACE_WIDTHS * face_width
        self.crop_origin = centre - side / 2.0
        self.crop_scale = size / side
        # Affine map from portrait pixels to output pixels, for the untouched background.
        affine = np.array(
            [
                [self.crop_scale, 0.0, -self.crop_origin[0] * self.crop_scale],
                [0.0, self.crop_scale, -self.crop_origin[1] * self.crop_scale],
            ]
        )
        self.background = cv2.warpAffine(
            self.source, affine, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT
        )
        n = model.n_vertices
        topo = model.topology
        self.src_xy = np.concatenate([model.portrait_pixels, model.photo_ring_pixels]).astype(
            np.float64
        )
        self.ring_out = self._to_output(model.photo_ring_pixels.astype(np.float64))
        self.surface = np.concatenate([topo.skin, model.photo_ring_triangles])
        self.under = np.concatenate([topo.eye_left, topo.eye_right, topo.mouth])
        n_eye = len(topo.eye_left) + len(topo.eye_right)
        self.mouth_mask = np.zeros(len(self.under), dtype=bool)
        self.mouth_mask[n_eye:] = True
        self._n_vertices = n

    def _to_output(self, portrait_xy: np.ndarray) -> np.ndarray:
        return (portrait_xy - self.crop_origin) * self.crop_scale

    def _project(self, vertices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Model mm -> output pixels (through the portrait's own camera) and depth."""
        portrait_xy = np.stack(
            [
                self.origin[0] + vertices[:, 0] * self.pixels_per_mm,
                self.origin[1] - vertices[:, 1] * self.pixels_per_mm,
            ],
            axis=1,
        )
        return self._to_output(portrait_xy), vertices[:, 2]

    def render(self, vertices: np.ndarray, tongue_out: float = 0.0) -> np.ndarray:
        """One frame: (V, 3) vertices in mm -> (size, size, 3) uint8 RGB."""
        xy, depth = self._project(vertices)
        dst = np.concatenate([xy, self.ring_out])
        ring_depth = np.full(len(self.ring_out), depth.min())
        dst_depth = np.concatenate([depth, ring_depth])
        t = float(np.clip(tongue_out, 0.0, 1.0))
        mouth_rgb = (1 - t) * np.array(MOUTH_RGB) + t * np.array(TONGUE_RGB)
        colours = np.zeros((len(self.under), 3), dtype=np.uint8)
        colours[self.mouth_mask] = mouth_rgb.astype(np.uint8)
        under = warp_mesh_image(
            self.source,
            self.src_xy,
            dst,
            self.under,
            self.size,
            self.size,
            depth=dst_depth,
            fill=self.background,
            solid_colors=colours,
            solid_mask=self.mouth_mask,
        )
        return warp_mesh_image(
            self.source,
            self.src_xy,
            dst,
            self.surface,
            self.size,
            self.size,
            depth=dst_depth,
            fill=under,
        )
