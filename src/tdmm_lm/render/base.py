"""What every renderer style shares: turning parameter frames into images, lazily."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator

import numpy as np

from tdmm_lm.face import FaceModel

__all__ = ["FrameRenderer"]

VERTEX_BATCH = 64  # frames whose vertices are evaluated together (vectorised, bounded memory)


class FrameRenderer(ABC):
    """A renderer of the built-in face: subclasses draw one frame from its vertices."""

    model: FaceModel

    @abstractmethod
    def render(self, vertices: np.ndarray, tongue_out: float = 0.0) -> np.ndarray:
        """One frame: (V, 3) vertices in mm -> (H, W, 3) uint8 RGB."""

    def frames(self, params: np.ndarray) -> Iterator[np.ndarray]:
        """Render every frame of a (T, 61) ``arkit`` parameter array, lazily."""
        tongue = params[:, self.model.channels.index("tongueOut")]
        for start in range(0, len(params), VERTEX_BATCH):
            verts = self.model.vertices(params[start : start + VERTEX_BATCH])
            for k, v in enumerate(verts):
                yield self.render(v, float(tongue[start + k]))
