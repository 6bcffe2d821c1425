"""Pure, differentiable skinning math for FLAME-style models (no file access, no state).

Everything here works on batched torch tensors and is differentiable everywhere, including
at the rest pose. Shape comments use ``B`` for the batch (frames), ``V`` for vertices,
``J`` for joints and ``K`` for blendshape components.

The model in :mod:`tdmm_lm.face.flame` loads the arrays and calls
:func:`linear_blend_skinning`; the helpers are public so they can be tested on their own.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

__all__ = [
    "axis_angle_to_matrix",
    "linear_blend_skinning",
    "pose_feature",
    "skinning_transforms",
]

#: Below this squared angle (θ < 1e-3 rad) the Rodrigues coefficients use their Taylor
#: series: the closed forms divide 0 by 0 at θ = 0 and lose precision close to it.
_SMALL_ANGLE_SQ = 1e-6


def axis_angle_to_matrix(axis_angle: Tensor) -> Tensor:
    """Convert axis-angle vectors to rotation matrices (Rodrigues' formula).

    The vector's direction is the rotation axis and its length the angle in radians
    (right-handed). Uses ``R = I + a·K + b·K²`` with ``K`` the cross-product matrix of the
    unnormalised vector, ``a = sin θ / θ`` and ``b = (1 - cos θ) / θ²``, so a zero vector
    gives the identity exactly and gradients stay finite there.

    Args:
        axis_angle: Float tensor of shape ``(..., 3)``.

    Returns:
        Rotation matrices of shape ``(..., 3, 3)``, same dtype and device.

    """
    x, y, z = axis_angle.unbind(-1)  # each (...)
    theta_sq = x * x + y * y + z * z  # (...)
    small = theta_sq < _SMALL_ANGLE_SQ
    # Give the closed forms a harmless angle where the Taylor branch is used, so that the
    # unused branch cannot put NaN into the gradient through torch.where.
    theta = torch.sqrt(torch.where(small, torch.ones_like(theta_sq), theta_sq))
    a_closed = torch.sin(theta) / theta
    # 1 - cos θ = 2 sin²(θ/2) avoids cancellation for small angles in float32.
    b_closed = 2.0 * (torch.sin(0.5 * theta) / theta) ** 2
    a_taylor = 1.0 - theta_sq / 6.0 + theta_sq * theta_sq / 120.0
    b_taylor = 0.5 - theta_sq / 24.0 + theta_sq * theta_sq / 720.0
    a = torch.where(small, a_taylor, a_closed)[..., None, None]  # (..., 1, 1)
    b = torch.where(small, b_taylor, b_closed)[..., None, None]  # (..., 1, 1)

    zero = torch.zeros_like(x)
    k = torch.stack([zero, -z, y, z, zero, -x, -y, x, zero], dim=-1)  # (..., 9)
    k = k.reshape(*axis_angle.shape[:-1], 3, 3)  # (..., 3, 3)
    eye = torch.eye(3, dtype=axis_angle.dtype, device=axis_angle.device)
    return eye + a * k + b * (k @ k)


def pose_feature(rotations: Tensor) -> Tensor:
    """Return the pose-corrective feature ``(R - I)`` of every non-root joint, flattened.

    The root joint is skipped because a global rotation does not deform the surface.

    Args:
        rotations: Local joint rotations, shape ``(B, J, 3, 3)``.

    Returns:
        Tensor of shape ``(B, (J - 1) * 9)``, joint-major then row-major, the order in
        which FLAME's ``posedirs`` are laid out.

    """
    eye = torch.eye(3, dtype=rotations.dtype, device=rotations.device)
    return (rotations[:, 1:] - eye).reshape(rotations.shape[0], -1)  # (B, (J-1)*9)


def skinning_transforms(
    rotations: Tensor, joints: Tensor, parents: Sequence[int]
) -> tuple[Tensor, Tensor]:
    """Compose local joint rotations along the kinematic tree into skinning transforms.

    Each joint ``j`` rotates its subtree by ``R_j`` about its rest position ``J_j``. The
    transform that carries a rest-pose point into the posed frame of joint ``j`` is

        ``A_j = A_parent(j) ∘ (x ↦ R_j (x - J_j) + J_j)``,  with ``A_root`` the root's own,

    which is written as a rotation ``M_j`` and a translation ``t_j`` (``A_j(x) = M_j x +
    t_j``). This form leaves ``t_j`` exactly zero at the rest pose.

    Args:
        rotations: Local rotations, shape ``(B, J, 3, 3)``.
        joints: Rest-pose joint positions, shape ``(B, J, 3)``.
        parents: Parent index per joint, ``-1`` for the root; every parent must come
            before its children.

    Returns:
        ``(M, t)``: rotations of shape ``(B, J, 3, 3)`` and translations ``(B, J, 3)``.

    """
    rotated_joints = (rotations @ joints[..., None])[..., 0]  # (B, J, 3): R_j J_j
    local_t = joints - rotated_joints  # (B, J, 3): (I - R_j) J_j
    world_m: list[Tensor] = []
    world_t: list[Tensor] = []
    for j, parent in enumerate(parents):
        if parent < 0:
            world_m.append(rotations[:, j])  # (B, 3, 3)
            world_t.append(local_t[:, j])  # (B, 3)
            continue
        parent_m, parent_t = world_m[parent], world_t[parent]
        world_m.append(parent_m @ rotations[:, j])
        world_t.append((parent_m @ local_t[:, j, :, None])[..., 0] + parent_t)
    return torch.stack(world_m, dim=1), torch.stack(world_t, dim=1)


def linear_blend_skinning(
    template: Tensor,
    coefficients: Tensor,
    blend_dirs: Tensor,
    pose: Tensor,
    posedirs: Tensor,
    j_regressor: Tensor,
    weights: Tensor,
    parents: Sequence[int],
) -> Tensor:
    """Pose a blendshape model with linear blend skinning (the SMPL/FLAME recipe).

    Steps: add identity/expression blendshapes to the template, regress joints from the
    shaped mesh, add pose-corrective blendshapes driven by ``(R - I)`` of the non-root
    joints, then move each vertex by the weight-blended joint transforms.

    Args:
        template: Per-frame rest mesh, shape ``(B, V, 3)``.
        coefficients: Blendshape coefficients, shape ``(B, K)``.
        blend_dirs: Blendshape directions, shape ``(V, 3, K)``.
        pose: Local joint rotations as axis-angle, shape ``(B, J, 3)``.
        posedirs: Pose-corrective directions, shape ``(V, 3, (J - 1) * 9)``.
        j_regressor: Joint regressor, shape ``(J, V)``.
        weights: Skinning weights, shape ``(V, J)``.
        parents: Parent index per joint, ``-1`` for the root, parents before children.

    Returns:
        Posed vertices, shape ``(B, V, 3)``.

    """
    v_shaped = template + torch.einsum("vck,bk->bvc", blend_dirs, coefficients)  # (B, V, 3)
    joints = torch.einsum("jv,bvc->bjc", j_regressor, v_shaped)  # (B, J, 3)

    rotations = axis_angle_to_matrix(pose)  # (B, J, 3, 3)
    pose_offsets = torch.einsum("vcp,bp->bvc", posedirs, pose_feature(rotations))
    v_posed = v_shaped + pose_offsets  # (B, V, 3)

    joint_m, joint_t = skinning_transforms(rotations, joints, parents)
    # Blend the per-joint transforms per vertex; FLAME has only 5 joints, so this is cheap.
    vertex_m = torch.einsum("vj,bjmn->bvmn", weights, joint_m)  # (B, V, 3, 3)
    vertex_t = torch.einsum("vj,bjm->bvm", weights, joint_t)  # (B, V, 3)
    return torch.einsum("bvmn,bvn->bvm", vertex_m, v_posed) + vertex_t  # (B, V, 3)
