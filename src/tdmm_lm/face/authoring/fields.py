"""Smooth displacement fields over a triangle mesh, by harmonic interpolation.

A blendshape is authored as a handful of *handles* (vertices with a prescribed displacement)
and *anchors* (vertices that must not move). Every other vertex takes the harmonic
interpolation of those values over the mesh graph: the discrete Laplace equation with
Dirichlet constraints. That gives displacements that fall off smoothly between handles and
anchors, and, because it follows mesh edges rather than straight-line distance, never leaks
across the holes of the eyes and mouth (an upper lid moves without dragging the lower lid).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

__all__ = ["Mesh", "smoothstep"]


def smoothstep(edge0: float, edge1: float, x: np.ndarray) -> np.ndarray:
    """Hermite ramp from 0 at ``edge0`` to 1 at ``edge1`` (either order)."""
    t = np.clip((x - edge0) / (edge1 - edge0), 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


class Mesh:
    """The skin surface that fields are solved on.

    Args:
        vertices: (V, 3) float positions in millimetres.
        triangles: (F, 3) int skin triangles (the eye and mouth holes are not filled).
    """

    def __init__(self, vertices: np.ndarray, triangles: np.ndarray) -> None:
        self.vertices = np.asarray(vertices, dtype=np.float64)
        self.triangles = np.asarray(triangles, dtype=np.int64)
        n = len(self.vertices)
        i, j = self.triangles[:, [0, 1, 2]].ravel(), self.triangles[:, [1, 2, 0]].ravel()
        adjacency = sp.coo_matrix((np.ones(len(i)), (i, j)), shape=(n, n)).tocsr()
        adjacency = ((adjacency + adjacency.T) > 0).astype(np.float64)
        # Inverse-edge-length weights: the tessellation is denser around eyes and lips, and
        # plain uniform weights would make fields fall off faster there than on the cheeks.
        rows, cols = adjacency.nonzero()
        lengths = np.linalg.norm(self.vertices[rows] - self.vertices[cols], axis=1)
        weights = sp.csr_matrix((1.0 / np.maximum(lengths, 1e-6), (rows, cols)), shape=(n, n))
        self.laplacian = (sp.diags(np.asarray(weights.sum(axis=1)).ravel()) - weights).tocsr()
        self.connected = np.asarray(adjacency.sum(axis=1)).ravel() > 0

    def harmonic(
        self,
        handles: Mapping[int, np.ndarray],
        anchors: Iterable[int] = (),
        radius: float | None = None,
    ) -> np.ndarray:
        """Interpolate handle values harmonically, with anchors and far vertices fixed at 0.

        Args:
            handles: vertex index -> value (a scalar or a 3-vector).
            anchors: vertices pinned at zero.
            radius: when given, every vertex farther than this (mm, straight line) from all
                handles is pinned at zero too, which bounds the region a shape affects.

        Returns:
            (V, C) values, C being the size of one handle value.
        """
        n = len(self.vertices)
        idx = np.fromiter(handles.keys(), dtype=np.int64)
        values = np.array([np.atleast_1d(v) for v in handles.values()], dtype=np.float64)
        fixed = np.zeros(n, dtype=bool)
        fixed[list(anchors)] = True
        fixed[~self.connected] = True  # iris points are not part of the skin graph
        if radius is not None:
            d = np.linalg.norm(self.vertices[:, None, :] - self.vertices[None, idx, :], axis=2)
            fixed |= d.min(axis=1) > radius
        fixed[idx] = True
        out = np.zeros((n, values.shape[1]))
        out[idx] = values
        free = np.flatnonzero(~fixed)
        if len(free):
            lap = self.laplacian
            rhs = -lap[free][:, np.flatnonzero(fixed)] @ out[fixed]
            solve = spla.splu(lap[free][:, free].tocsc())
            out[free] = solve.solve(rhs)
        return out

    def side_weight(self, side_sign: float, width: float = 6.0) -> np.ndarray:
        """(V,) weight that is 1 on one side of the midline, 0 on the other, 0.5 on it."""
        return smoothstep(-width, width, side_sign * self.vertices[:, 0])
