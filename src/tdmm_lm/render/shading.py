"""Smooth grey shading of rasterized meshes, as in FLAME renders."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np
from scipy import sparse

from tdmm_lm.render.raster import Fragments

_UINT8_MAX = 255.0

__all__ = [
    "DEFAULT_LIGHTS",
    "Light",
    "ShadingConfig",
    "VertexNormals",
    "shade_smooth",
    "vertex_normals",
]

_NORMAL_EPS = 1e-12  # keeps normalising zero-length normals finite


def _face_normals(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """``(F, 3)`` area-weighted normals, right-handed in ``faces`` order."""
    v0 = vertices[faces[:, 0]]
    return np.cross(vertices[faces[:, 1]] - v0, vertices[faces[:, 2]] - v0)


def _unit(n: np.ndarray) -> np.ndarray:
    """Unit rows of ``(N, 3)`` ``n``; zero rows stay zero."""
    return n / np.maximum(np.linalg.norm(n, axis=1, keepdims=True), _NORMAL_EPS)


def vertex_normals(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Area-weighted unit vertex normals.

    Args:
        vertices: ``(V, 3) float`` positions.
        faces: ``(F, 3) int``; counter-clockwise seen from outside gives outward normals.

    Returns:
        ``(V, 3) float64``, zero for vertices in no triangle. :class:`VertexNormals` is faster
        for many calls with the same ``faces``.
    """
    vertices = np.asarray(vertices, dtype=np.float64)
    fn = _face_normals(vertices, faces)
    out = np.zeros_like(vertices)
    for k in range(3):
        np.add.at(out, faces[:, k], fn)
    return _unit(out)


class VertexNormals:
    """:func:`vertex_normals` for fixed ``faces``, via a precomputed sparse incidence matrix.

    Args:
        faces: ``(F, 3) int`` triangles.
        n_vertices: Number of vertices ``V``.
    """

    def __init__(self, faces: np.ndarray, n_vertices: int) -> None:
        self.faces = np.asarray(faces)
        n_faces = len(self.faces)
        corner_face = np.repeat(np.arange(n_faces), 3)
        # (V, F); repeated (vertex, face) pairs add up, as np.add.at would.
        self._incidence = sparse.csr_matrix(
            (np.ones(3 * n_faces), (self.faces.reshape(-1), corner_face)),
            shape=(n_vertices, n_faces),
        )

    def __call__(self, vertices: np.ndarray) -> np.ndarray:
        """``(V, 3)`` vertices -> ``(V, 3) float64`` unit normals."""
        fn = _face_normals(np.asarray(vertices, dtype=np.float64), self.faces)
        return _unit(self._incidence @ fn)


@dataclass(frozen=True)
class Light:
    """A directional light.

    Attributes:
        direction: Toward the light, in the mesh frame (x right, y up, z toward the viewer).
        intensity: Strength of its diffuse (and, times the material's, specular) term.
    """

    direction: tuple[float, float, float]
    intensity: float

    def __post_init__(self) -> None:
        if len(self.direction) != 3 or not np.any(self.direction):
            raise ValueError(f"light direction must be a non-zero 3-vector, got {self.direction}")
        if self.intensity < 0:
            raise ValueError(f"light intensity must be >= 0, got {self.intensity}")


# A key light from the front-upper-left and a soft fill from the right, as in FLAME renders.
DEFAULT_LIGHTS = (Light((-0.55, 0.65, 1.0), 0.72), Light((0.8, -0.15, 0.7), 0.28))


@dataclass(frozen=True)
class ShadingConfig:
    """Material and lights of :func:`shade_smooth` (Blinn-Phong, viewer along +z).

    Attributes:
        albedo: RGB diffuse colour in [0, 1]; the default is light clay grey.
        ambient: Light reaching every surface, as a fraction of ``albedo``.
        lights: Directional lights.
        specular: Strength of the white highlight.
        shininess: Blinn-Phong exponent; larger is a tighter highlight.
    """

    albedo: tuple[float, float, float] = (0.80, 0.80, 0.80)
    ambient: float = 0.22
    lights: tuple[Light, ...] = DEFAULT_LIGHTS
    specular: float = 0.10
    shininess: float = 24.0

    def __post_init__(self) -> None:
        if len(self.albedo) != 3 or not all(0.0 <= a <= 1.0 for a in self.albedo):
            raise ValueError(f"albedo must be 3 values in [0, 1], got {self.albedo}")
        for name in ("ambient", "specular", "shininess"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")


_LUT_SIZE = 512  # cells per side of the shading table over the (nx, ny) disc


@lru_cache(maxsize=8)
def _shade_lut(config: ShadingConfig, background: tuple[int, int, int]) -> np.ndarray:
    """``(S * S + 1,) uint32`` RGBX colours of every viewer-facing unit normal.

    Entry ``row * S + col`` is the normal ``nx = 2 col / (S - 1) - 1``, ``ny = 1 - 2 row /
    (S - 1)``, ``nz = sqrt(1 - nx^2 - ny^2)`` (cells off the disc take its rim); the last
    entry is the background. Each entry packs one RGBX pixel, so one 4-byte gather per pixel
    draws the image.
    """
    u = np.linspace(-1.0, 1.0, _LUT_SIZE)
    nx, ny = np.meshgrid(u, -u)
    n = np.stack([nx, ny, np.sqrt(np.clip(1.0 - nx**2 - ny**2, 0.0, None))], axis=-1)
    n /= np.linalg.norm(n, axis=-1, keepdims=True)
    diffuse = np.full(n.shape[:2], config.ambient)
    highlight = np.zeros(n.shape[:2])
    view = np.array([0.0, 0.0, 1.0])
    for light in config.lights:
        to_light = np.asarray(light.direction, dtype=np.float64)
        to_light /= np.linalg.norm(to_light)
        half = (to_light + view) / np.linalg.norm(to_light + view)
        diffuse += light.intensity * np.clip(n @ to_light, 0.0, None)
        highlight += light.intensity * np.clip(n @ half, 0.0, None) ** config.shininess
    rgb = diffuse[..., None] * np.asarray(config.albedo) + config.specular * highlight[..., None]
    rgbx = np.zeros((_LUT_SIZE * _LUT_SIZE + 1, 4), dtype=np.uint8)
    rgbx[:-1, :3] = np.round(np.clip(rgb, 0.0, 1.0) * _UINT8_MAX).reshape(-1, 3)
    rgbx[-1, :3] = background
    return rgbx.view(np.uint32).reshape(-1)


def shade_smooth(
    frags: Fragments,
    normals: np.ndarray,
    config: ShadingConfig | None = None,
    *,
    background: np.ndarray | tuple[int, int, int] = (255, 255, 255),
) -> np.ndarray:
    """Smooth-shade a rasterized mesh as grey clay, like FLAME renders.

    Per-pixel normals (Phong-style): each pixel interpolates the screen-plane part
    ``(nx, ny)`` of its corners' unit normals and lifts it back onto the viewer-facing
    hemisphere, ``nz = sqrt(1 - nx^2 - ny^2)``. For neighbouring normals this matches
    renormalising the interpolated 3-vector to within a few degrees, and it is two-sided for
    free: a normal pointing slightly away (at a silhouette) is lit like its mirror image. The
    colour comes from a table over all such normals, built once per ``config`` and
    ``background``, so the cost does not depend on the lights.

    Args:
        frags: :func:`rasterize` output for the faces the normals belong to.
        normals: ``(V, 3) float`` unit vertex normals, mesh frame (x right, y up, z toward
            the viewer), e.g. from :func:`vertex_normals`.
        config: Material and lights; ``ShadingConfig()`` by default.
        background: RGB colour of uncovered pixels.

    Returns:
        ``(H, W, 3) uint8`` RGB image.
    """
    bg = tuple(int(c) for c in np.asarray(background, dtype=np.uint8).reshape(3))
    lut = _shade_lut(config or ShadingConfig(), bg)
    index = np.full(frags.height * frags.width, len(lut) - 1, dtype=np.int32)
    if len(frags.pix):
        n = _unit(np.asarray(normals, dtype=np.float64))
        half_span = 0.5 * (_LUT_SIZE - 1)
        lut_uv = np.stack([(n[:, 0] + 1.0) * half_span, (1.0 - n[:, 1]) * half_span])  # (2, V)
        table = lut_uv.astype(np.float32)[:, frags.faces].transpose(0, 2, 1).reshape(6, -1)
        corners = np.take(table, frags.tri, axis=1)  # (6, P): u0 u1 u2 v0 v1 v2
        col = np.rint(np.einsum("kp,kp->p", corners[:3], frags.weights)).astype(np.int32)
        row = np.rint(np.einsum("kp,kp->p", corners[3:], frags.weights)).astype(np.int32)
        index[frags.pix] = row * _LUT_SIZE + col
    rgbx = np.take(lut, index).view(np.uint8).reshape(frags.height, frags.width, 4)
    return cv2.cvtColor(rgbx, cv2.COLOR_RGBA2RGB)
