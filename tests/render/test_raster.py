"""Rasterizer visibility and coverage, shading, and the piecewise-affine warp."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from tdmm_lm.render.raster import Fragments, rasterize
from tdmm_lm.render.shading import Light, ShadingConfig, VertexNormals, shade_smooth, vertex_normals
from tdmm_lm.render.warp import warp_mesh_image

SIZE = 96


def grid_mesh(
    n: int, lo: float, hi: float, jitter: float = 0.0, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """An n x n vertex grid over [lo, hi]^2 (pixels), two triangles per cell.

    Returns xy (n*n, 2) and faces (2 (n-1)^2, 3), counter-clockwise as seen by the viewer
    (negative signed area with y down).
    """
    u = np.linspace(lo, hi, n)
    gx, gy = np.meshgrid(u, u)
    xy = np.stack([gx.ravel(), gy.ravel()], axis=1)
    inner = np.zeros((n, n), dtype=bool)
    inner[1:-1, 1:-1] = True
    rng = np.random.default_rng(seed)
    xy[inner.ravel()] += rng.uniform(-jitter, jitter, size=(inner.sum(), 2))
    idx = np.arange(n * n).reshape(n, n)
    a, b, c, d = idx[:-1, :-1], idx[:-1, 1:], idx[1:, 1:], idx[1:, :-1]
    faces = np.concatenate(
        [np.stack([a, c, b], -1).reshape(-1, 3), np.stack([a, d, c], -1).reshape(-1, 3)]
    )
    return xy, faces


def sphere_mesh(n_lat: int = 24, n_lon: int = 48) -> tuple[np.ndarray, np.ndarray]:
    """Unit UV sphere (x right, y up, z toward the viewer) with outward-facing triangles."""
    theta = np.linspace(0.0, np.pi, n_lat + 1)  # from the north pole (+y)
    phi = np.linspace(0.0, 2.0 * np.pi, n_lon, endpoint=False)
    t, p = np.meshgrid(theta, phi, indexing="ij")
    v = np.stack([np.sin(t) * np.sin(p), np.cos(t), np.sin(t) * np.cos(p)], -1).reshape(-1, 3)
    idx = np.arange((n_lat + 1) * n_lon).reshape(n_lat + 1, n_lon)
    a, b = idx[:-1], np.roll(idx[:-1], -1, axis=1)
    c, d = np.roll(idx[1:], -1, axis=1), idx[1:]
    faces = np.concatenate(
        [np.stack([a, d, c], -1).reshape(-1, 3), np.stack([a, c, b], -1).reshape(-1, 3)]
    )
    return v, faces


def project(v: np.ndarray, size: int = SIZE, scale: float = 0.4) -> tuple[np.ndarray, np.ndarray]:
    """Orthographic view of a y-up mesh: pixel xy (y down) and depth (larger is closer)."""
    xy = np.stack([size / 2 + v[:, 0] * size * scale, size / 2 - v[:, 1] * size * scale], 1)
    return xy, v[:, 2].copy()


# ---------------------------------------------------------------------------------------------
# coverage


@pytest.mark.parametrize(
    "corners",
    [(10.3, 12.7, 50.6, 41.2), (10.0, 12.0, 50.0, 40.0)],  # the second puts centres on edges
)
def test_square_of_two_triangles_covers_each_interior_pixel_exactly_once(
    corners: tuple[float, float, float, float],
) -> None:
    x0, y0, x1, y1 = corners
    xy = np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]])
    faces = np.array([[0, 2, 1], [0, 3, 2]])
    flat = np.zeros(len(xy))
    per_triangle = [rasterize(xy, flat, faces[i : i + 1], SIZE, SIZE).mask for i in range(2)]
    count = per_triangle[0].astype(int) + per_triangle[1]
    assert count.max() == 1  # the diagonal is not drawn twice
    expected = np.zeros((SIZE, SIZE), dtype=bool)
    expected[int(np.ceil(y0)) : int(np.ceil(y1)), int(np.ceil(x0)) : int(np.ceil(x1))] = True
    np.testing.assert_array_equal(count == 1, expected)  # ... nor missed
    np.testing.assert_array_equal(rasterize(xy, flat, faces, SIZE, SIZE).mask, expected)


def test_jittered_mesh_has_no_cracks_and_no_double_hits() -> None:
    xy, faces = grid_mesh(7, 8.0, 88.0, jitter=4.0, seed=3)
    flat = np.zeros(len(xy))
    count = np.zeros((SIZE, SIZE), dtype=int)
    for f in faces:
        count += rasterize(xy, flat, f[None], SIZE, SIZE).mask
    assert count.max() == 1
    # Every pixel centre strictly inside the outline is covered.
    n = 7
    ring = [*range(n), *range(2 * n - 1, n * n, n), *range(n * n - 2, n * (n - 1) - 1, -1)]
    ring += list(range(n * (n - 2), 0, -n))
    outline = xy[ring].astype(np.float32)
    centres = [(float(col), float(row)) for row in range(SIZE) for col in range(SIZE)]
    distance = np.array([cv2.pointPolygonTest(outline, c, True) for c in centres])
    inside = distance.reshape(SIZE, SIZE) > 1e-3
    assert count[inside].min() == 1
    np.testing.assert_array_equal(rasterize(xy, flat, faces, SIZE, SIZE).mask, count == 1)


def test_barycentrics_sum_to_one_and_reproduce_pixel_centres() -> None:
    xy, faces = grid_mesh(5, 5.5, 90.25, jitter=5.0, seed=1)
    frags = rasterize(xy, np.zeros(len(xy)), faces, SIZE, SIZE)
    assert frags.weights.dtype == np.float32 and frags.weights.shape == (3, len(frags.pix))
    np.testing.assert_allclose(frags.weights.sum(axis=0), 1.0, atol=1e-5)
    assert frags.weights.min() > -1e-5
    rows, cols = np.divmod(frags.pix, SIZE)
    corners = xy[faces[frags.tri]]  # (P, 3, 2)
    position = np.einsum("kp,pkc->pc", frags.weights, corners)
    np.testing.assert_allclose(position, np.stack([cols, rows], axis=1), atol=1e-3)


def test_dense_views_agree_with_the_compact_fragments() -> None:
    xy, faces = grid_mesh(4, 20.0, 70.0, jitter=3.0)
    frags = rasterize(xy, np.zeros(len(xy)), faces, SIZE, SIZE)
    assert frags.tri_id.shape == (SIZE, SIZE) and frags.tri_id.dtype == np.int32
    assert frags.bary.shape == (SIZE, SIZE, 3) and frags.bary.dtype == np.float32
    assert frags.mask.sum() == len(frags.pix)
    np.testing.assert_array_equal(frags.tri_id.reshape(-1)[frags.pix], frags.tri)
    np.testing.assert_array_equal(frags.bary.reshape(-1, 3)[frags.pix], frags.weights.T)
    assert (frags.tri_id[~frags.mask] == -1).all() and (frags.bary[~frags.mask] == 0).all()
    pix, x = frags.interpolate(xy[:, 0])  # interpolating x gives each pixel's column
    np.testing.assert_allclose(x, pix % SIZE, atol=1e-3)
    _, both = frags.interpolate(xy)
    np.testing.assert_allclose(both[:, 1], pix // SIZE, atol=1e-3)


def test_clipping_degenerate_and_empty_input() -> None:
    xy = np.array([[-50.0, -40.0], [300.0, 10.0], [20.0, 200.0], [5.0, 5.0], [5.0, 5.0]])
    faces = np.array([[0, 1, 2], [3, 4, 0]])  # huge triangle, then a degenerate one
    frags = rasterize(xy, np.zeros(5), faces, 40, 30)
    assert frags.mask.all() and (frags.tri == 0).all()
    empty = rasterize(xy, np.zeros(5), np.zeros((0, 3), dtype=int), 40, 30)
    assert len(empty.pix) == 0 and not empty.mask.any()
    off_screen = rasterize(xy + 1000.0, np.zeros(5), faces, 40, 30)
    assert len(off_screen.pix) == 0 and off_screen.weights.shape == (3, 0)
    nan_depth = rasterize(xy, np.array([np.nan, 0, 0, 0, 0]), faces, 40, 30)
    assert len(nan_depth.pix) == 0  # a triangle with a non-finite corner is skipped
    with pytest.raises(ValueError, match="faces"):
        rasterize(xy, np.zeros(5), np.array([0, 1, 2]), 40, 30)


# ---------------------------------------------------------------------------------------------
# visibility


def two_overlapping_triangles() -> tuple[np.ndarray, np.ndarray]:
    """Triangle 0 on the left, triangle 1 on the right; they overlap around x = 40..56."""
    xy = np.array([[10, 10], [10, 80], [56, 45], [86, 10], [86, 80], [40, 45]], dtype=np.float64)
    return xy, np.array([[0, 1, 2], [3, 4, 5]])


@pytest.mark.parametrize("closer", [0, 1])
def test_the_closer_triangle_wins_whatever_the_drawing_order(closer: int) -> None:
    xy, faces = two_overlapping_triangles()
    depth = np.where(np.arange(6) // 3 == closer, 5.0, -5.0)
    frags = rasterize(xy, depth, faces, SIZE, SIZE)
    only = [rasterize(xy, depth, faces[i : i + 1], SIZE, SIZE).mask for i in range(2)]
    overlap = only[0] & only[1]
    assert overlap.sum() > 50
    assert (frags.tri_id[overlap] == closer).all()
    assert (frags.tri_id[only[0] & ~overlap] == 0).all()
    assert (frags.tri_id[only[1] & ~overlap] == 1).all()


def test_equal_depth_goes_to_the_later_triangle() -> None:
    xy, faces = two_overlapping_triangles()
    frags = rasterize(xy, np.zeros(6), faces, SIZE, SIZE)
    overlap = np.logical_and(*[rasterize(xy, np.zeros(6), f[None], SIZE, SIZE).mask for f in faces])
    assert (frags.tri_id[overlap] == 1).all()


def test_interpenetrating_triangles_switch_at_their_intersection() -> None:
    # Triangle 0 lies at depth 0. Triangle 1 covers it and tilts: its depth is
    # (x - 48) / 10, so it is in front to the right of x = 48 and behind to the left.
    xy = np.array([[10, 10], [10, 86], [86, 48], [8, 20], [90, 20], [49, 88]], dtype=float)
    depth = np.array([0.0, 0.0, 0.0, -4.0, 4.2, 0.1])
    faces = np.array([[0, 1, 2], [3, 4, 5]])
    frags = rasterize(xy, depth, faces, SIZE, SIZE)
    both = np.logical_and(*[rasterize(xy, depth, f[None], SIZE, SIZE).mask for f in faces])
    cols = np.broadcast_to(np.arange(SIZE), (SIZE, SIZE))
    assert (frags.tri_id[both & (cols < 47)] == 0).all()
    assert (frags.tri_id[both & (cols > 49)] == 1).all()
    assert (both & (cols < 47)).sum() > 100 and (both & (cols > 49)).sum() > 100


def test_sphere_shows_its_front_half() -> None:
    v, faces = sphere_mesh()
    xy, depth = project(v)
    frags = rasterize(xy, depth, faces, SIZE, SIZE)
    front = (v[faces].mean(axis=1)[:, 2] > 0)[frags.tri]
    assert front.mean() > 0.99  # the few others are grazing triangles on the silhouette
    culled = rasterize(xy, depth, faces, SIZE, SIZE, cull_back=True)
    np.testing.assert_array_equal(culled.mask, frags.mask)
    # The back half alone is clockwise on screen: culling removes all of it.
    back = faces[v[faces].mean(axis=1)[:, 2] < -0.2]
    assert rasterize(xy, depth, back, SIZE, SIZE).mask.any()
    assert not rasterize(xy, depth, back, SIZE, SIZE, cull_back=True).mask.any()


# ---------------------------------------------------------------------------------------------
# normals and shading


def test_vertex_normals_of_a_sphere_point_outward() -> None:
    v, faces = sphere_mesh()
    n = vertex_normals(v, faces)
    assert n.shape == v.shape
    np.testing.assert_allclose(np.linalg.norm(n, axis=1), 1.0, atol=1e-9)
    assert (np.einsum("vc,vc->v", n, v) > 0.99).all()
    np.testing.assert_allclose(VertexNormals(faces, len(v))(v), n, atol=1e-12)


def test_shading_is_brighter_toward_the_key_light() -> None:
    v, faces = sphere_mesh()
    xy, depth = project(v)
    frags = rasterize(xy, depth, faces, SIZE, SIZE)
    image = shade_smooth(frags, vertex_normals(v, faces), background=(10, 20, 30))
    assert image.shape == (SIZE, SIZE, 3) and image.dtype == np.uint8
    assert (image[~frags.mask] == (10, 20, 30)).all()
    grey = image.astype(float).mean(axis=2)
    half = SIZE // 2
    upper_left = grey[:half, :half][frags.mask[:half, :half]].mean()
    lower_right = grey[half:, half:][frags.mask[half:, half:]].mean()
    assert upper_left > lower_right + 20
    # The default material is a neutral light grey.
    covered = image[frags.mask].astype(int)
    assert np.abs(covered[:, 0] - covered[:, 2]).max() <= 1 and covered.max() > 180


def test_shading_follows_the_configured_light() -> None:
    v, faces = sphere_mesh()
    xy, depth = project(v)
    frags = rasterize(xy, depth, faces, SIZE, SIZE)
    from_right = ShadingConfig(lights=(Light((1.0, 0.0, 0.3), 1.0),), ambient=0.0, specular=0.0)
    grey = shade_smooth(frags, vertex_normals(v, faces), from_right).mean(axis=2)
    row = SIZE // 2
    assert grey[row, SIZE // 2 + 15] > grey[row, SIZE // 2 - 15] + 50


def test_shading_config_rejects_bad_values() -> None:
    with pytest.raises(ValueError, match="albedo"):
        ShadingConfig(albedo=(1.5, 0.5, 0.5))
    with pytest.raises(ValueError, match="shininess"):
        ShadingConfig(shininess=-1.0)
    with pytest.raises(ValueError, match="direction"):
        Light((0.0, 0.0, 0.0), 1.0)


# ---------------------------------------------------------------------------------------------
# warping


@pytest.fixture
def smooth_image() -> np.ndarray:
    """A smooth 3-channel test pattern (so bilinear sampling is nearly exact)."""
    rows, cols = np.mgrid[0:SIZE, 0:SIZE].astype(np.float64)
    rgb = np.stack(
        [
            128 + 100 * np.sin(cols / 9.0),
            128 + 100 * np.cos(rows / 7.0),
            (cols + rows) * 255.0 / (2 * SIZE),
        ],
        axis=-1,
    )
    return rgb.astype(np.uint8)


def test_identity_warp_reproduces_the_source(smooth_image: np.ndarray) -> None:
    xy, faces = grid_mesh(6, 12.0, 84.0, jitter=3.0)
    fill = np.full_like(smooth_image, 7)
    out = warp_mesh_image(smooth_image, xy, xy, faces, SIZE, SIZE, fill=fill)
    mask = rasterize(xy, np.zeros(len(xy)), faces, SIZE, SIZE).mask
    diff = np.abs(out.astype(int) - smooth_image)
    assert diff[mask].max() <= 1
    assert (out[~mask] == 7).all() and (fill == 7).all()


def test_translated_mesh_moves_the_pattern(smooth_image: np.ndarray) -> None:
    src, faces = grid_mesh(5, 10.0, 60.0, jitter=2.0)
    shift = np.array([17.0, 9.0])
    out = warp_mesh_image(smooth_image, src, src + shift, faces, SIZE, SIZE)
    mask = rasterize(src + shift, np.zeros(len(src)), faces, SIZE, SIZE).mask
    moved = np.roll(smooth_image, (9, 17), axis=(0, 1))
    assert np.abs(out.astype(int) - moved)[mask].max() <= 1
    assert (out[~mask] == 0).all()


def test_warp_resolves_folds_by_depth_and_paints_solid_triangles(smooth_image: np.ndarray) -> None:
    xy, faces = two_overlapping_triangles()
    src = xy.copy()
    src[3:] += [-5.0, 0.0]  # the right triangle samples a shifted patch
    depth = np.array([0.0, 0.0, 0.0, 1.0, 1.0, 1.0])  # the right triangle is in front
    colours = np.array([[0, 0, 0], [200, 100, 50]], dtype=np.uint8)
    solid = np.array([False, True])
    out = warp_mesh_image(
        smooth_image,
        src,
        xy,
        faces,
        SIZE,
        SIZE,
        depth=depth,
        solid_colors=colours,
        solid_mask=solid,
        solid_shade=np.full(6, 0.5),
    )
    frags = rasterize(xy, depth, faces, SIZE, SIZE)
    assert (out[frags.tri_id == 1] == (100, 50, 25)).all()
    left = frags.tri_id == 0
    assert np.abs(out.astype(int) - smooth_image)[left].max() <= 1


def test_antialiased_rim_blends_with_the_fill(smooth_image: np.ndarray) -> None:
    xy, faces = grid_mesh(3, 20.5, 70.5)
    fill = np.zeros_like(smooth_image)
    sharp = warp_mesh_image(smooth_image, xy, xy, faces, SIZE, SIZE, fill=fill)
    soft = warp_mesh_image(smooth_image, xy, xy, faces, SIZE, SIZE, fill=fill, antialias=True)
    assert (soft[30:60, 30:60] == sharp[30:60, 30:60]).all()  # interior untouched
    rim = sharp[21:70, 21]  # the leftmost covered column
    assert (soft[21:70, 21].astype(int) < rim).any() and (soft[21:70, 21] <= rim).all()
    assert (soft[:, :21] == 0).all()  # outside stays fill


def test_warp_of_a_grey_image_and_bad_arguments(smooth_image: np.ndarray) -> None:
    xy, faces = grid_mesh(3, 10.0, 50.0)
    grey = smooth_image[..., 0].copy()
    out = warp_mesh_image(grey, xy, xy + 5, faces, 64, 80)
    assert out.shape == (64, 80) and out.dtype == np.uint8
    with pytest.raises(ValueError, match="fill"):
        warp_mesh_image(smooth_image, xy, xy, faces, 64, 80, fill=smooth_image)
    with pytest.raises(ValueError, match="solid_colors"):
        warp_mesh_image(grey, xy, xy, faces, 64, 80, solid_colors=np.zeros((8, 3), np.uint8))


def test_fragments_is_a_frozen_record() -> None:
    frags = rasterize(*project(sphere_mesh()[0]), sphere_mesh()[1], SIZE, SIZE)
    assert isinstance(frags, Fragments)
    with pytest.raises(AttributeError):
        frags.pix = np.zeros(0)  # type: ignore[misc]
