"""Pure, batched rig math for the built-in face model, in NumPy or torch.

Every function takes arrays of one library and returns arrays of the same library, so the
same code serves fast NumPy evaluation and differentiable torch evaluation. Shapes use
T for frames and V for vertices.

Angle conventions (radians; x toward the subject's left, y up, z toward the viewer):

* yaw: rotation about +y; positive turns the face toward the subject's left (+x);
* pitch: rotation about +x; positive tips the face down (looking down);
* roll: rotation about z; positive tilts the top of the head toward the subject's left.

The rotation is applied as ``R = R_y(yaw) @ R_x(pitch) @ R_z(-roll)``.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

import numpy as np

__all__ = ["blend", "euler_matrices", "rotate_about"]

Array = Any  # np.ndarray or torch.Tensor


def _lib(x: Array) -> ModuleType:
    """The array library ``x`` belongs to (numpy or torch)."""
    if isinstance(x, np.ndarray):
        return np
    import torch

    if isinstance(x, torch.Tensor):
        return torch
    raise TypeError(f"expected a numpy array or torch tensor, got {type(x).__name__}")


def euler_matrices(yaw: Array, pitch: Array, roll: Array) -> Array:
    """Rotation matrices from yaw, pitch, roll.

    Args:
        yaw: (T,) yaw angles in radians.
        pitch: (T,) pitch angles in radians.
        roll: (T,) roll angles in radians.

    Returns:
        (T, 3, 3) rotation matrices.
    """
    xp = _lib(yaw)
    cy, sy = xp.cos(yaw), xp.sin(yaw)
    cp, sp = xp.cos(pitch), xp.sin(pitch)
    cr, sr = xp.cos(-roll), xp.sin(-roll)
    # Product R_y @ R_x @ R_z written out, so one stack builds the whole batch.
    rows = [
        cy * cr + sy * sp * sr, -cy * sr + sy * sp * cr, sy * cp,
        cp * sr, cp * cr, -sp,
        -sy * cr + cy * sp * sr, sy * sr + cy * sp * cr, cy * cp,
    ]  # fmt: skip
    return xp.stack(rows, -1).reshape(-1, 3, 3)


def rotate_about(points: Array, rotations: Array, pivot: Array) -> Array:
    """Rotate points about a pivot.

    Args:
        points: (T, N, 3).
        rotations: (T, 3, 3).
        pivot: (3,) or (T, 1, 3).

    Returns:
        (T, N, 3) rotated points.
    """
    xp = _lib(points)
    return xp.matmul(points - pivot, xp.swapaxes(rotations, -1, -2)) + pivot


def blend(neutral: Array, blendshapes: Array, weights: Array) -> Array:
    """Linear blendshape evaluation.

    Args:
        neutral: (V, 3) rest shape.
        blendshapes: (K, V * 3) displacements at weight 1, flattened per shape.
        weights: (T, K) weights.

    Returns:
        (T, V, 3) vertices.
    """
    n_vertices = neutral.shape[0]
    return (weights @ blendshapes).reshape(-1, n_vertices, 3) + neutral
