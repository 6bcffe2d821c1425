"""Batched box-constrained least squares: many small problems sharing one Hessian.

Each frame t solves ``min_x ½ xᵀ A x − b_tᵀ x`` subject to ``lower ≤ x ≤ upper``, with
``A`` symmetric positive definite (K × K, K ≈ 50) and shared by all frames. The solver is
ADMM on the splitting ``x = z, z ∈ box``:

    x ← (A + ρI)⁻¹ (b + ρ (z − u)),   z ← clip(x + u),   u ← u + x − z,

after a diagonal (Jacobi) rescaling of the variables that evens out the channels' very
different curvatures. ``(A + ρI)⁻¹`` is computed once, so an iteration costs one (T, K) ×
(K, K) product for all frames; with ``ρ = √(λ_min λ_max)`` and over-relaxation it reaches
1e-3 accuracy in a few dozen iterations, active bounds included.
"""

from __future__ import annotations

import numpy as np

__all__ = ["BoxQP"]

#: ADMM iterations: enough for ~1e-3 agreement with the exact minimiser on the fit's QPs.
ITERATIONS = 30
#: Over-relaxation factor (1 is plain ADMM; 1.5-1.8 is the usual speed-up).
RELAXATION = 1.6


class BoxQP:
    """A box-constrained quadratic program with a fixed Hessian, solved for many frames.

    Args:
        hessian: (K, K) symmetric positive definite A.
        lower: (K,) lower bounds.
        upper: (K,) upper bounds (``lower == upper`` fixes a coordinate).
    """

    def __init__(self, hessian: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> None:
        a = np.asarray(hessian, dtype=np.float64)
        if a.ndim != 2 or a.shape[0] != a.shape[1]:
            raise ValueError(f"hessian must be (K, K), got {a.shape}")
        self.scale = np.sqrt(np.diagonal(a))  # x = y / scale
        scaled = a / np.outer(self.scale, self.scale)
        eigen = np.linalg.eigvalsh(scaled)
        if eigen[0] <= 0:
            raise ValueError("hessian must be positive definite")
        self.rho = float(np.sqrt(eigen[0] * eigen[-1]))
        self.step = np.linalg.inv(scaled + self.rho * np.eye(len(a)))  # symmetric
        self.unconstrained = np.linalg.inv(scaled)
        self.lower = np.asarray(lower, dtype=np.float64) * self.scale
        self.upper = np.asarray(upper, dtype=np.float64) * self.scale

    def solve(
        self,
        linear: np.ndarray,
        start: np.ndarray | None = None,
        iterations: int = ITERATIONS,
    ) -> np.ndarray:
        """Minimise ``½ xᵀ A x − bᵀ x`` over the box for every frame.

        Args:
            linear: (T, K) b.
            start: (T, K) initial guess; the unconstrained minimum, clipped, by default.
            iterations: ADMM iterations.

        Returns:
            (T, K) float64 minimisers.
        """
        b = np.asarray(linear, dtype=np.float64) / self.scale
        z = b @ self.unconstrained if start is None else start * self.scale
        z = np.clip(z, self.lower, self.upper)
        u = np.zeros_like(z)
        for _ in range(iterations):
            x = (b + self.rho * (z - u)) @ self.step
            relaxed = RELAXATION * x + (1.0 - RELAXATION) * z
            z = np.clip(relaxed + u, self.lower, self.upper)
            u += relaxed - z
        return z / self.scale
