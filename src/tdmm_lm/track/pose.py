"""Batched, robust head pose: a weak-perspective similarity fitted to landmarks.

The model of one frame is ``p ≈ s R x + t``: ``x`` a face-model point (mm), ``p`` the observed
landmark in camera coordinates (pixels, x right, y up, z toward the camera), ``s`` pixels per
mm, ``R`` the head rotation and ``t`` a translation. MediaPipe's x and y are measured in the
image, but its z is regressed from appearance and lags the true depth on turned heads, so
the fit trusts the image plane and gives z only a small weight (``z_weight``): it is a weak
perspective camera, solved by Gauss-Newton over all frames at once, started from a weighted
Umeyama alignment and made robust by Tukey reweighting of the landmarks.

All functions are vectorised over frames: shapes use T for frames and N for points.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

__all__ = ["Pose", "euler_from_matrices", "fit_pose", "rotate", "skew", "unrotate"]

#: Gauss-Newton steps after the closed-form start; the fit converges in two or three.
GAUSS_NEWTON_STEPS = 4
#: Steps when refining a given pose (it starts close to the optimum).
REFINE_STEPS = 2
#: Tukey biweight cut-off, in robust standard deviations of a frame's residuals.
TUKEY_C = 4.685
#: Robust residual scale is floored here (mm) so that near-perfect fits are not reweighted
#: by noise.
MIN_RESIDUAL_SCALE_MM = 0.5
#: Median of 2D Gaussian residual norms (Rayleigh) to the per-axis standard deviation.
MEDIAN_NORM_TO_SIGMA = 1.0 / np.sqrt(2.0 * np.log(2.0))
#: Damping of the Gauss-Newton normal equations, relative to their diagonal.
DAMPING = 1e-6


def rotate(points: np.ndarray, rotation: np.ndarray) -> np.ndarray:
    """``R p`` for every point: (N, 3) or (T, N, 3) points, (T, 3, 3) rotations -> (T, N, 3)."""
    return np.matmul(points, rotation.swapaxes(-1, -2))


def unrotate(points: np.ndarray, rotation: np.ndarray) -> np.ndarray:
    """``Rᵀ p`` for every point: (T, N, 3) points, (T, 3, 3) rotations -> (T, N, 3)."""
    return np.matmul(points, rotation)


@dataclass
class Pose:
    """Similarity transforms of T frames, from model mm to camera pixels.

    Attributes:
        rotation: (T, 3, 3) rotation matrices R.
        scale: (T,) pixels per mm s.
        translation: (T, 3) translation t, pixels.
    """

    rotation: np.ndarray
    scale: np.ndarray
    translation: np.ndarray

    def apply(self, points: np.ndarray) -> np.ndarray:
        """Map model points to camera space: (T, N, 3) or (N, 3) -> (T, N, 3)."""
        rotated = rotate(points, self.rotation)
        return self.scale[:, None, None] * rotated + self.translation[:, None, :]


def skew(v: np.ndarray) -> np.ndarray:
    """Cross-product matrices: (..., 3) -> (..., 3, 3) with ``skew(a) @ b == a × b``."""
    zero = np.zeros_like(v[..., 0])
    x, y, z = v[..., 0], v[..., 1], v[..., 2]
    rows = [zero, -z, y, z, zero, -x, -y, x, zero]
    return np.stack(rows, axis=-1).reshape(*v.shape[:-1], 3, 3)


def _rodrigues(omega: np.ndarray) -> np.ndarray:
    """Rotation matrices from rotation vectors: (T, 3) -> (T, 3, 3)."""
    angle = np.linalg.norm(omega, axis=-1)[:, None, None]
    k = skew(omega / np.maximum(angle[:, :, 0], 1e-12))
    eye = np.eye(3)[None]
    return eye + np.sin(angle) * k + (1.0 - np.cos(angle)) * (k @ k)


def euler_from_matrices(rotation: np.ndarray) -> np.ndarray:
    """Yaw, pitch and roll (radians) of rotation matrices, in the rig's convention.

    Inverts :func:`tdmm_lm.face.rig.euler_matrices`, where ``R = R_y(yaw) R_x(pitch)
    R_z(-roll)``.

    Args:
        rotation: (T, 3, 3).

    Returns:
        (T, 3) float64 ``[yaw, pitch, roll]``.
    """
    yaw = np.arctan2(rotation[:, 0, 2], rotation[:, 2, 2])
    pitch = -np.arcsin(np.clip(rotation[:, 1, 2], -1.0, 1.0))
    roll = -np.arctan2(rotation[:, 1, 0], rotation[:, 1, 1])
    return np.stack([yaw, pitch, roll], axis=1)


def _umeyama(model: np.ndarray, observed: np.ndarray, weights: np.ndarray) -> Pose:
    """Weighted least-squares similarity in 3D (closed form), per frame.

    Args:
        model: (T, N, 3) model points.
        observed: (T, N, 3) camera points.
        weights: (T, N) non-negative weights.
    """
    w = weights / np.maximum(weights.sum(axis=1, keepdims=True), 1e-12)
    mean_m = np.matmul(w[:, None, :], model)[:, 0]
    mean_o = np.matmul(w[:, None, :], observed)[:, 0]
    cm, co = model - mean_m[:, None], observed - mean_o[:, None]
    cov = np.matmul((co * w[..., None]).transpose(0, 2, 1), cm)  # (T, 3, 3)
    u, sig, vt = np.linalg.svd(cov)
    sign = np.sign(np.linalg.det(u @ vt))
    sign[sign == 0] = 1.0
    d = np.ones((len(sign), 3))
    d[:, 2] = sign
    rotation = u @ (d[:, :, None] * vt)
    var_m = (w * (cm * cm).sum(axis=-1)).sum(axis=1)
    scale = (sig * d).sum(axis=1) / np.maximum(var_m, 1e-12)
    translation = mean_o - scale[:, None] * np.matmul(rotation, mean_m[..., None])[..., 0]
    return Pose(rotation, scale, translation)


def _robust_weights(residual_mm: np.ndarray, base: np.ndarray) -> np.ndarray:
    """Tukey biweights of (T, N) residual norms, times the (T, N) base weights."""
    # The median of the (non-negative) residual norms is a robust scale of the fit.
    median = np.median(residual_mm, axis=1, keepdims=True)
    sigma = np.maximum(MEDIAN_NORM_TO_SIGMA * median, MIN_RESIDUAL_SCALE_MM)
    u = residual_mm / (TUKEY_C * sigma)
    return base * np.where(u < 1.0, (1.0 - u * u) ** 2, 0.0)


_EPS = np.zeros((3, 3, 3))  # Levi-Civita: skew(v)[a, b] = Σ_c ε[a, c, b] v[c]
for _a, _b, _c in ((0, 1, 2), (1, 2, 0), (2, 0, 1)):
    _EPS[_a, _b, _c], _EPS[_a, _c, _b] = 1.0, -1.0


#: skew(q)ᵀ v = Σ_{c,a} ε[a, c, i] q[c] v[a], as a (9, 3) map from the flattened q vᵀ.
_CROSS = np.einsum("aci->cai", _EPS).reshape(9, 3)


@lru_cache(maxsize=8)
def _metric_tensors(metric: tuple[float, float, float]) -> tuple[np.ndarray, ...]:
    """Constant maps from point moments to blocks of ``Jᵀ D J`` for the metric ``D``.

    Returns:
        ``(rr, rs, rt)``: (9, 9) from Σ q qᵀ to ``[q]xᵀ D [q]x``; (9, 3) from Σ q qᵀ to
        ``[q]xᵀ D q``; (3, 9) from Σ q to ``[q]xᵀ D`` (each flattened row-major).
    """
    d = np.array(metric)
    rr = np.einsum("a,aci,aej->ceij", d, _EPS, _EPS).reshape(9, 9)
    rs = np.einsum("aci,a->cai", _EPS, d).reshape(9, 3)
    rt = np.einsum("aci,a->cia", _EPS, d).reshape(3, 9)
    return rr, rs, rt


def _normal_equations(
    rotated: np.ndarray,
    residual: np.ndarray,
    weights: np.ndarray,
    scale: np.ndarray,
    metric: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Gauss-Newton normal equations of all frames, from point moments.

    The residual's Jacobian w.r.t. (rotation vector, log scale, translation) is, per point,
    ``J = [-s [q]x, s q, I]`` with ``q = R x``. ``Jᵀ D J`` and ``Jᵀ D r`` are bilinear in the
    points, so they are assembled from weighted moments of ``q`` and ``D r`` (3 × 3 per
    frame) instead of from (T, N, 3, 7) Jacobians.

    Args:
        rotated: (T, N, 3) rotated model points ``q``.
        residual: (T, N, 3) prediction minus observation ``r``.
        weights: (T, N) point weights.
        scale: (T,) scales ``s``.
        metric: (3,) the diagonal of ``D``.

    Returns:
        ``(JᵀDJ, JᵀDr)``: (T, 7, 7) and (T, 7).
    """
    s = scale[:, None]
    weighted = rotated * weights[..., None]  # (T, N, 3)
    moment = np.matmul(weighted.transpose(0, 2, 1), rotated)  # Σ w q qᵀ, (T, 3, 3)
    first = weighted.sum(axis=1)  # Σ w q, (T, 3)
    cross = np.matmul(weighted.transpose(0, 2, 1), residual * metric)  # Σ w q (Dr)ᵀ
    pull = np.matmul(weights[:, None, :], residual)[:, 0] * metric  # Σ w D r, (T, 3)
    total = weights.sum(axis=1)  # (T,)
    n_frames = len(scale)
    rr, rs, rt = _metric_tensors(tuple(metric))
    normal = np.empty((n_frames, 7, 7))
    normal[:, 0:3, 0:3] = s[:, :, None] ** 2 * (moment.reshape(n_frames, 9) @ rr).reshape(-1, 3, 3)
    rot_scale = -(s**2) * (moment.reshape(n_frames, 9) @ rs)
    normal[:, 0:3, 3] = normal[:, 3, 0:3] = rot_scale
    rot_shift = -s[:, :, None] * (first @ rt).reshape(-1, 3, 3)
    normal[:, 0:3, 4:7] = rot_shift
    normal[:, 4:7, 0:3] = rot_shift.transpose(0, 2, 1)
    normal[:, 3, 3] = s[:, 0] ** 2 * (np.diagonal(moment, axis1=1, axis2=2) @ metric)
    normal[:, 3, 4:7] = normal[:, 4:7, 3] = s * first * metric
    normal[:, 4:7, 4:7] = total[:, None, None] * np.diag(metric)
    gradient = np.empty((n_frames, 7))
    gradient[:, 0:3] = -s * (cross.reshape(n_frames, 9) @ _CROSS)
    gradient[:, 3] = s[:, 0] * np.trace(cross, axis1=1, axis2=2)
    gradient[:, 4:7] = pull
    return normal, gradient


def fit_pose(
    model: np.ndarray,
    observed: np.ndarray,
    weights: np.ndarray,
    z_weight: float,
    init: Pose | None = None,
    fixed_scale: bool = False,
) -> tuple[Pose, np.ndarray]:
    """Fit a robust weak-perspective similarity per frame.

    Args:
        model: (T, N, 3) or (N, 3) model points, mm.
        observed: (T, N, 3) camera points, pixels (x right, y up, z toward the camera).
        weights: (N,) or (T, N) non-negative point weights.
        z_weight: Weight of the depth residual relative to x and y (0..1).
        init: Start from this pose instead of the closed-form 3D alignment.
        fixed_scale: Keep ``init``'s scale (e.g. one smoothed over time); needs ``init``.

    Returns:
        The pose, and (T, N) final robust weights (0 marks a rejected outlier).
    """
    n_frames = observed.shape[0]
    model = model.astype(np.float64)
    observed = observed.astype(np.float64)
    base = np.broadcast_to(weights, observed.shape[:2]).astype(np.float64)
    if fixed_scale and init is None:
        raise ValueError("fixed_scale needs an initial pose holding the scale")
    pose = init if init is not None else _umeyama(model, observed, base)
    # The scale column is dropped from the normal equations when the scale is held.
    free = [0, 1, 2, 4, 5, 6] if fixed_scale else list(range(7))
    metric = np.array([1.0, 1.0, z_weight])
    robust = base
    for _ in range(REFINE_STEPS if init is not None else GAUSS_NEWTON_STEPS):
        rotated = rotate(model, pose.rotation)  # (T, N, 3)
        s = pose.scale[:, None, None]
        residual = s * rotated + pose.translation[:, None] - observed  # (T, N, 3)
        plane_mm = np.hypot(residual[..., 0], residual[..., 1]) / s[:, :, 0]
        robust = _robust_weights(plane_mm, base)
        normal, gradient = _normal_equations(rotated, residual, robust, pose.scale, metric)
        normal = normal[:, free][:, :, free]
        gradient = gradient[:, free]
        normal += DAMPING * np.trace(normal, axis1=1, axis2=2)[:, None, None] * np.eye(len(free))
        step = np.zeros((n_frames, 7))
        step[:, free] = -np.linalg.solve(normal, gradient[..., None])[..., 0]
        pose = Pose(
            rotation=_rodrigues(step[:, 0:3]) @ pose.rotation,
            scale=pose.scale * np.exp(step[:, 3]),
            translation=pose.translation + step[:, 4:7],
        )
    return pose, robust
