"""Piecewise-affine image warping: texture-map an image through a deformed mesh."""

from __future__ import annotations

import cv2
import numpy as np

from tdmm_lm.render.raster import Fragments, rasterize

_UINT8_MAX = 255.0

__all__ = ["warp_mesh_image"]

_OUTSIDE = -1e6  # remap coordinate of uncovered pixels: far outside any source image


def warp_mesh_image(
    src_image: np.ndarray,
    src_xy: np.ndarray,
    dst_xy: np.ndarray,
    faces: np.ndarray,
    out_height: int,
    out_width: int,
    *,
    depth: np.ndarray | None = None,
    fill: np.ndarray | None = None,
    solid_colors: np.ndarray | None = None,
    solid_mask: np.ndarray | None = None,
    solid_shade: np.ndarray | None = None,
    antialias: bool = False,
) -> np.ndarray:
    """Texture-map an image through a mesh: each destination triangle shows its source one.

    The destination triangles are rasterized with :func:`rasterize` (so ``depth`` decides
    what shows where the mesh folds over itself); each covered pixel's barycentrics give its
    position in the source triangle, sampled bilinearly with ``cv2.remap`` (positions off
    the source image repeat its border).

    Args:
        src_image: ``(h, w, C)`` or ``(h, w)`` source image, any dtype ``cv2.remap`` takes.
        src_xy: ``(V, 2) float`` vertex positions in the source image, pixels.
        dst_xy: ``(V, 2) float`` vertex positions in the output, pixels.
        faces: ``(F, 3) int`` triangles.
        out_height: Output height ``H``.
        out_width: Output width ``W``.
        depth: ``(V,) float`` destination depth, larger is closer. By default all equal, so
            later triangles in ``faces`` cover earlier ones.
        fill: ``(H, W, C)`` image kept where no triangle is; zeros by default.
        solid_colors: ``(F, 3) uint8`` flat colours for the triangles picked by
            ``solid_mask``, painted instead of sampled (e.g. the mouth cavity). Needs a
            3-channel uint8 image.
        solid_mask: ``(F,) bool`` which triangles are solid; all if only ``solid_colors``
            is given.
        solid_shade: ``(V,) float`` per-vertex factor on the solid colours, interpolated
            across each triangle; 1 by default.
        antialias: Blend the mesh's outer rim of pixels with ``fill`` by their 3x3
            box-filtered coverage (a one-pixel feather).

    Returns:
        ``(H, W, C)`` image of ``src_image``'s dtype.
    """
    src_xy = np.asarray(src_xy, dtype=np.float64)
    dst_xy = np.asarray(dst_xy, dtype=np.float64)
    if src_xy.shape != dst_xy.shape or src_xy.ndim != 2 or src_xy.shape[1] != 2:
        raise ValueError(f"need src_xy and dst_xy (V, 2), got {src_xy.shape}, {dst_xy.shape}")
    shape = (out_height, out_width, *src_image.shape[2:])
    if fill is not None and fill.shape != shape:
        raise ValueError(f"fill must have shape {shape}, got {fill.shape}")
    if fill is None:
        out = np.zeros(shape, src_image.dtype)
    else:
        out = np.array(fill, dtype=src_image.dtype, order="C")  # a copy: fill stays intact
    frags = rasterize(dst_xy, np.zeros(len(dst_xy)) if depth is None else depth, faces, *shape[:2])
    if len(frags.pix) == 0:
        return out

    # Source position of each covered pixel: its weights times its corners' src_xy.
    table = src_xy[frags.faces].astype(np.float32).transpose(2, 1, 0).reshape(6, -1)
    corners = np.take(table, frags.tri, axis=1)  # (6, P): x0 x1 x2 y0 y1 y2
    # Remap only the rows the mesh covers.
    r0, r1 = int(frags.pix.min()) // out_width, int(frags.pix.max()) // out_width + 1
    local = frags.pix - r0 * out_width
    maps = np.full((2, (r1 - r0) * out_width), _OUTSIDE, dtype=np.float32)
    maps[0, local] = np.einsum("kp,kp->p", corners[:3], frags.weights)
    maps[1, local] = np.einsum("kp,kp->p", corners[3:], frags.weights)
    maps = maps.reshape(2, r1 - r0, out_width)
    src = np.ascontiguousarray(src_image)
    warped = cv2.remap(src, maps[0], maps[1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    covered = np.zeros((r1 - r0) * out_width, dtype=np.uint8)
    covered[local] = 1
    cv2.copyTo(warped, covered.reshape(r1 - r0, out_width), out[r0:r1])
    if solid_colors is not None:
        _paint_solid(out, frags, solid_colors, solid_mask, solid_shade)
    if antialias:
        _feather_rim(out[r0:r1], local, np.zeros_like(out) if fill is None else fill, r0)
    return out


def _paint_solid(
    out: np.ndarray,
    frags: Fragments,
    colors: np.ndarray,
    mask: np.ndarray | None,
    shade: np.ndarray | None,
) -> None:
    """Paint the visible pixels of the solid triangles their (shaded) colour, in place."""
    colors = np.asarray(colors)
    if out.dtype != np.uint8 or out.shape[2:] != (3,) or colors.shape != (len(frags.faces), 3):
        raise ValueError(
            f"solid_colors must be (F, 3) = ({len(frags.faces)}, 3) for a 3-channel uint8 "
            f"image, got {colors.shape} for {out.shape[2:]} {out.dtype}"
        )
    sel = slice(None) if mask is None else np.flatnonzero(np.asarray(mask, dtype=bool)[frags.tri])
    tri = frags.tri[sel]
    rgb = colors[tri].astype(np.float32)  # (S, 3)
    if shade is not None:
        corners = np.take(np.asarray(shade, dtype=np.float32)[frags.faces].T, tri, axis=1)
        rgb *= np.einsum("kp,kp->p", corners, frags.weights[:, sel])[:, None]
    out.reshape(-1, 3)[frags.pix[sel]] = np.clip(np.rint(rgb), 0, _UINT8_MAX).astype(np.uint8)


def _feather_rim(band: np.ndarray, local: np.ndarray, fill: np.ndarray, r0: int) -> None:
    """Blend the covered rim pixels of ``band`` (rows ``r0..`` of the output) with ``fill``."""
    h, w = band.shape[:2]
    covered = np.zeros(h * w, dtype=np.float32)
    covered[local] = 1.0
    alpha = cv2.blur(covered.reshape(h, w), (3, 3), borderType=cv2.BORDER_CONSTANT).reshape(-1)
    rim = local[alpha[local] < 1.0]
    a = alpha[rim, None]
    flat, under = band.reshape(h * w, -1), fill[r0 : r0 + h].reshape(h * w, -1)
    flat[rim] = np.rint(a * flat[rim] + (1.0 - a) * under[rim]).astype(band.dtype)
