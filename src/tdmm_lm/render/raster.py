"""Headless triangle rasterizer: which triangle each pixel sees, and where in it.

NumPy throughout; OpenCV only resamples and copies pixels, SciPy only holds one sparse
matrix. Image coordinates: ``x`` points right, ``y`` down, and pixel ``(row, col)`` has its
centre at ``(x=col, y=row)``, as in ``cv2.remap``. Depth is a per-vertex scalar where
**larger means closer** to the camera.

Visibility rule of :func:`rasterize`, a true per-pixel z-buffer:

* **Coverage.** A triangle covers the pixels whose centres lie inside it, with a top-left
  tie rule: a centre exactly on a left or top edge is inside, on a right or bottom edge
  outside. Both triangles of a shared edge compute its crossings with bit-identical
  arithmetic, so a mesh covers every pixel of its interior exactly once: no cracks, no
  double hits.
* **Depth.** Depth is interpolated linearly in screen space (barycentrically, as for an
  orthographic camera) and compared in float32. Of all triangles covering a pixel, the one
  with the **largest** depth there wins; an exact tie goes to the larger index in
  ``faces``, so with constant depth the result is a painter drawing ``faces`` in order.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from functools import cached_property
from typing import NamedTuple

import numpy as np

__all__ = ["Fragments", "rasterize"]

# Triangles with a smaller doubled screen area are dropped: no pixel centre fits inside, and
# their inverse affine maps would be ill-conditioned.
_MIN_DOUBLE_AREA = 1e-9
# Fragments are z-buffered in bands of whole image rows holding about this many fragments,
# which bounds the temporaries (to a few MB) whatever the image size.
_BAND_FRAGMENTS = 1 << 16
# Z-buffer keys: monotonic float32 depth bits above a 32-bit fragment index.
_KEY_SHIFT = 32
_EMPTY_KEY = np.iinfo(np.int64).min
# Negative IEEE floats sort like their int32 bits once all but the sign bit are flipped.
_SIGN_SHIFT = 31
_NON_SIGN_BITS = 0x7FFFFFFF
# glibc hands freed memory back to the kernel eagerly until a large mmap'd block has been
# freed once (mallopt(3): the dynamic mmap threshold rises to the size of the largest freed
# block, the trim threshold to twice that). Until then the megabyte-sized arrays of every
# frame are fresh pages, and their page faults take longer than the arithmetic here (renders
# 2-3x slower on small VMs). Freeing one untouched block of this size lifts both thresholds
# for the process at no cost; elsewhere it is a no-op.
_MALLOC_WARMUP_BYTES = 16 << 20
np.empty(_MALLOC_WARMUP_BYTES, dtype=np.uint8)


@dataclass(frozen=True, eq=False)
class Fragments:
    """Result of :func:`rasterize`: which triangle each pixel sees, and where in it.

    The ``P`` covered pixels are stored compactly (roughly top to bottom, in no exact
    order); the full-image views :attr:`tri_id` and :attr:`bary` are built on first access.

    Attributes:
        height: Image height ``H``.
        width: Image width ``W``.
        pix: ``(P,) int64`` flat indices (``row * W + col``) of the covered pixels.
        tri: ``(P,) int32`` index into ``faces`` of the triangle visible at each.
        weights: ``(3, P) float32`` barycentric weights of each pixel centre with respect to
            its triangle's corners (in ``faces`` order); they sum to 1.
        faces: ``(F, 3) int`` the rasterized triangles.
    """

    height: int
    width: int
    pix: np.ndarray = field(repr=False)
    tri: np.ndarray = field(repr=False)
    weights: np.ndarray = field(repr=False)
    faces: np.ndarray = field(repr=False)

    @cached_property
    def tri_id(self) -> np.ndarray:
        """``(H, W) int32`` visible triangle per pixel, -1 for background."""
        out = np.full(self.height * self.width, -1, dtype=np.int32)
        out[self.pix] = self.tri
        return out.reshape(self.height, self.width)

    @cached_property
    def bary(self) -> np.ndarray:
        """``(H, W, 3) float32`` barycentric weights per pixel, 0 for background."""
        out = np.zeros((self.height * self.width, 3), dtype=np.float32)
        for k in range(3):
            out[self.pix, k] = self.weights[k]
        return out.reshape(self.height, self.width, 3)

    @property
    def mask(self) -> np.ndarray:
        """``(H, W) bool``, True where a triangle is visible."""
        return self.tri_id >= 0

    def interpolate(self, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Interpolate per-vertex values at the covered pixels.

        Args:
            values: ``(V,)`` or ``(V, C)`` per-vertex attributes.

        Returns:
            ``(pix, out)``: :attr:`pix` and the ``(P,)`` or ``(P, C)`` float32 values.
        """
        vals = np.asarray(values, dtype=np.float32)
        channels = vals.reshape(len(vals), -1).T  # (C, V)
        out = np.empty((len(channels), len(self.pix)), dtype=np.float32)
        for c, channel in enumerate(channels):
            corners = np.take(channel[self.faces].T, self.tri, axis=1)  # (3, P)
            out[c] = np.einsum("kp,kp->p", corners, self.weights)
        return self.pix, (out[0] if vals.ndim == 1 else np.ascontiguousarray(out.T))


class _ScanRows(NamedTuple):
    """Scan rows of covered pixel centres, in triangle order; all ``(R,)``."""

    y: np.ndarray  # image row
    tri: np.ndarray  # index into the drawable triangles
    x_first: np.ndarray  # first covered column
    n_px: np.ndarray  # number of covered columns (> 0)


def _barycentric_maps(xy: np.ndarray, faces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-triangle affine maps from pixel position to barycentrics.

    Returns:
        ``(m, double_area)``: ``m`` is ``(F, 2, 3) float64`` with ``[b1, b2] = m @ [x, y, 1]``
        (``b0 = 1 - b1 - b2``); ``double_area`` is ``(F,)``, negative for triangles that are
        counter-clockwise as seen by the viewer (``y`` points down).
    """
    p0 = xy[faces[:, 0]]
    e1, e2 = xy[faces[:, 1]] - p0, xy[faces[:, 2]] - p0  # (F, 2)
    det = e1[:, 0] * e2[:, 1] - e1[:, 1] * e2[:, 0]
    m = np.empty((len(faces), 2, 3))
    with np.errstate(divide="ignore", invalid="ignore"):  # degenerate ones are dropped later
        inv = 1.0 / det
        m[:, 0, :2] = np.stack([e2[:, 1], -e2[:, 0]], axis=1) * inv[:, None]  # [e1 e2]^-1
        m[:, 1, :2] = np.stack([-e1[:, 1], e1[:, 0]], axis=1) * inv[:, None]
        m[:, :, 2] = -np.einsum("fkc,fc->fk", m[:, :, :2], p0)
    return m, det


def _scan_rows(xy: np.ndarray, faces: np.ndarray, height: int, width: int) -> _ScanRows:
    """Cut triangles into scan rows of covered pixel centres.

    A triangle covers rows ``[ceil(y_top), ceil(y_bot))`` and, in each, the columns
    ``[ceil(left), ceil(right))`` between its two edge crossings: half-open intervals, the
    top-left tie rule. Each edge's crossing is computed from its endpoints in ``y`` order,
    so the two triangles sharing an edge get bit-identical numbers.
    """
    pts = xy[faces]  # (D, 3, 2)
    pts = np.take_along_axis(pts, np.argsort(pts[:, :, 1], axis=1)[:, :, None], axis=1)
    (xt, yt), (xm, ym), (xb, yb) = pts[:, 0].T, pts[:, 1].T, pts[:, 2].T
    with np.errstate(divide="ignore", invalid="ignore"):
        # Horizontal edges give inf/nan slopes; no scan row ever evaluates them.
        s_long, s_top, s_bot = (xb - xt) / (yb - yt), (xm - xt) / (ym - yt), (xb - xm) / (yb - ym)

    y_first = np.clip(np.ceil(yt), 0, height).astype(np.int64)
    n_rows = np.maximum(np.clip(np.ceil(yb), 0, height).astype(np.int64) - y_first, 0)
    tri = np.repeat(np.arange(len(faces)), n_rows)  # (R,)
    y = (y_first - np.cumsum(n_rows) + n_rows)[tri] + np.arange(len(tri))

    yf = y.astype(np.float64)
    x_long = xt[tri] + (yf - yt[tri]) * s_long[tri]
    # Pick the short edge before evaluating it, so a horizontal edge's nan never shows up.
    upper = yf < ym[tri]
    e_x0 = np.where(upper, xt[tri], xm[tri])
    e_y0 = np.where(upper, yt[tri], ym[tri])
    x_short = e_x0 + (yf - e_y0) * np.where(upper, s_top[tri], s_bot[tri])
    x_first = np.clip(np.ceil(np.minimum(x_long, x_short)), 0, width)
    n_px = np.clip(np.ceil(np.maximum(x_long, x_short)), 0, width) - x_first

    keep = np.flatnonzero(n_px > 0)
    return _ScanRows(y[keep], tri[keep], *(a[keep].astype(np.int64) for a in (x_first, n_px)))


def _resolve_band(
    n_px: np.ndarray,
    row_pix: np.ndarray,
    row_face: np.ndarray,
    start: np.ndarray,
    slope: np.ndarray,
    pix_lo: int,
    pix_hi: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Z-buffer the fragments of one band of image rows.

    Args:
        n_px: ``(R,) int64`` fragments per scan row of the band.
        row_pix: ``(R,) int64`` flat pixel index of each row's first fragment.
        row_face: ``(R,) int32`` each row's triangle index in ``faces``.
        start: ``(4, R) float32`` depth and barycentrics ``b0, b1, b2`` at each row's first
            fragment.
        slope: ``(4, R) float32`` their change per pixel along the row.
        pix_lo: Lowest flat pixel index of the band.
        pix_hi: Highest flat pixel index of the band, plus one.

    Returns:
        ``(pix, tri, weights)`` of the visible fragments, as in :class:`Fragments`.
    """
    frag = np.arange(int(n_px.sum()))
    local = frag - np.repeat(np.cumsum(n_px) - n_px, n_px)  # position along the scan row
    pix = np.repeat(row_pix, n_px) + local
    vals = np.repeat(slope, n_px, axis=1)  # (4, N)
    vals *= local.astype(np.float32)
    vals += np.repeat(start, n_px, axis=1)

    # The key orders by depth, then by fragment index, which within a pixel grows with the
    # triangle index. ufunc.at is unbuffered, so repeated pixels keep their largest key.
    zbits = vals[0].view(np.int32)
    zbits = zbits ^ ((zbits >> _SIGN_SHIFT) & _NON_SIGN_BITS)
    key = (zbits.astype(np.int64) << _KEY_SHIFT) | frag
    zbuf = np.full(pix_hi - pix_lo, _EMPTY_KEY, dtype=np.int64)
    np.maximum.at(zbuf, pix - pix_lo, key)
    tri = np.repeat(row_face, n_px)
    won = np.take(zbuf, pix - pix_lo) == key
    weights = vals[1:]
    if not won.all():  # overlaps: keep only each pixel's winner
        keep = np.flatnonzero(won)
        pix, tri, weights = pix[keep], tri[keep], np.take(weights, keep, axis=1)
    return pix, tri, weights


def rasterize(
    xy: np.ndarray,
    depth: np.ndarray,
    faces: np.ndarray,
    height: int,
    width: int,
    *,
    cull_back: bool = False,
) -> Fragments:
    """Rasterize a triangle mesh with a per-pixel z-buffer (rule: see the module docstring).

    Args:
        xy: ``(V, 2) float`` vertex positions in pixels, ``x`` right and ``y`` down.
        depth: ``(V,) float``, larger is closer to the camera.
        faces: ``(F, 3) int`` vertex indices.
        height: Output height ``H``.
        width: Output width ``W``.
        cull_back: Drop the triangles that face away from the viewer: those clockwise on
            screen, i.e. counter-clockwise is front, as for a y-up camera.

    Returns:
        The :class:`Fragments`.
    """
    xy = np.asarray(xy, dtype=np.float64)
    depth = np.asarray(depth, dtype=np.float64)
    faces = np.asarray(faces)
    if xy.ndim != 2 or xy.shape[1] != 2 or depth.shape != (len(xy),):
        raise ValueError(f"need xy (V, 2) and depth (V,), got {xy.shape} and {depth.shape}")
    if faces.ndim != 2 or faces.shape[1] != 3:
        raise ValueError(f"need faces (F, 3), got {faces.shape}")
    if height < 1 or width < 1:
        raise ValueError(f"image size must be positive, got {height}x{width}")

    m, det = _barycentric_maps(xy, faces)
    good = (np.abs(det) > _MIN_DOUBLE_AREA) & np.isfinite(m).all(axis=(1, 2))
    good &= np.isfinite(depth[faces]).all(axis=1) & ((det < 0) | (not cull_back))
    draw = np.flatnonzero(good)

    # Affine maps [x, y, 1] -> (depth, b0, b1, b2) per drawable triangle, stored as
    # coef[j, i, d]: the coefficient of x (j=0), y (1) and 1 (2) in map i of triangle d.
    # Centring the depth keeps its float32 z-buffer key precise.
    zf = depth[faces[draw]]  # (D, 3)
    zf = zf - 0.5 * (zf.min() + zf.max()) if len(zf) else zf
    bary12 = m[draw].transpose(2, 1, 0)  # (3, 2, D)
    coef = np.empty((3, 4, len(draw)))
    coef[:, 2:] = bary12
    coef[:, 1] = -bary12[:, 0] - bary12[:, 1]
    coef[2, 1] += 1.0
    coef[:, 0] = np.einsum("kd,jkd->jd", (zf[:, 1:] - zf[:, :1]).T, bary12)
    coef[2, 0] += zf[:, 0]
    rows = _scan_rows(xy, faces[draw], height, width)

    # Bands of whole image rows (a pixel's fragments share a band) of ~_BAND_FRAGMENTS
    # fragments each. A stable sort by band keeps triangle order within every image row,
    # which the tie rule relies on; 16-bit keys get numpy's linear-time radix sort.
    per_y = np.cumsum(np.bincount(rows.y, weights=rows.n_px, minlength=height))
    band_of_y = (per_y - 1) // _BAND_FRAGMENTS  # non-decreasing in y
    row_band = band_of_y[rows.y].astype(np.int16 if band_of_y[-1] < 2**15 else np.int64)
    order = np.argsort(row_band, kind="stable")
    y, tri, x_first, n_px = (a[order] for a in rows)
    row_cuts = np.searchsorted(row_band[order], np.arange(int(band_of_y[-1]) + 2)).tolist()

    c = np.take(coef, tri, axis=2)  # (3, 4, R)
    slope = c[0].astype(np.float32)  # (4, R)
    start = (c[0] * x_first + c[1] * y + c[2]).astype(np.float32)
    row_pix = y * width + x_first
    row_face = draw[tri].astype(np.int32)
    parts = []
    for r0, r1 in itertools.pairwise(row_cuts):
        if r1 > r0:
            pix_lo, pix_hi = row_pix[r0:r1].min(), (row_pix[r0:r1] + n_px[r0:r1]).max()
            tables = row_pix[r0:r1], row_face[r0:r1], start[:, r0:r1], slope[:, r0:r1]
            parts.append(_resolve_band(n_px[r0:r1], *tables, pix_lo, pix_hi))
    if not parts:
        parts = [(np.empty(0, np.int64), np.empty(0, np.int32), np.empty((3, 0), np.float32))]
    return Fragments(
        height=height,
        width=width,
        pix=np.concatenate([p[0] for p in parts]),
        tri=np.concatenate([p[1] for p in parts]),
        weights=np.concatenate([p[2] for p in parts], axis=1),
        faces=faces,
    )
