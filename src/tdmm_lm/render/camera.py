"""Orthographic framing of the built-in face model in an image."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Framing"]


@dataclass(frozen=True)
class Framing:
    """Map model millimetres to image pixels with an orthographic camera looking down -z.

    Attributes:
        size: Square image size in pixels.
        field_mm: Height of the image in millimetres.
        centre_mm: (x, y) model point at the image centre.
    """

    size: int = 512
    field_mm: float = 215.0  # the 140 mm face plus room for a turning head and open jaw
    centre_mm: tuple[float, float] = (0.0, -34.0)  # between the brows and the chin

    def __post_init__(self) -> None:
        if not 16 <= self.size <= 4096:
            raise ValueError(f"image size must be within 16..4096 px, got {self.size}")

    @property
    def pixels_per_mm(self) -> float:
        """Scale of the image."""
        return self.size / self.field_mm

    def project(self, vertices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Pixel positions and depths of model points.

        Args:
            vertices: (V, 3) millimetres.

        Returns:
            xy: (V, 2) pixels, x right and y down; depth: (V,) larger is closer.
        """
        s = self.pixels_per_mm
        half = self.size / 2.0
        x = half + (vertices[:, 0] - self.centre_mm[0]) * s
        y = half - (vertices[:, 1] - self.centre_mm[1]) * s
        return np.stack([x, y], axis=1), vertices[:, 2]
