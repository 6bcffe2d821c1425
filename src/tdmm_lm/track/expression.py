"""The 52 ARKit blendshape weights of many frames, as one batched bounded least squares.

For a frame with pose ``(s, R, t)`` the landmarks predicted by weights ``w`` are
``s R (n + B w) + t``. Measuring the residual in the image plane (depth down-weighted by
``D = diag(1, 1, z_weight)``) and in model millimetres, the objective is the quadratic

    ½ wᵀ (Σ_v ω_v B_vᵀ Rᵀ D R B_v + Λ) w − wᵀ (Σ_v ω_v B_vᵀ Rᵀ D e_v / s − γ),

where ``e_v`` is landmark v's residual with the expression off and ``ω_v`` its weight (lids,
lips and brows count more: they carry blinks, mouth shapes and brow moves). The Hessian is
taken at the frontal pose (``R = I``), where it is one K × K matrix for all frames; the
head rotation changes it only through the small depth weight.

``Λ`` is a ridge per channel, stronger for shapes that landmarks barely see (cheek puff,
jaw forward, lip rolls), and ``γ`` a small L1 pull toward 0 (the weights are non-negative,
so it is linear) that keeps look-alike shapes from sharing one motion. Channels whose value
comes from elsewhere (eyeLook*, from the eye rotations; tongueOut, which no landmark shows)
are held fixed and their displacement is moved into the template.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tdmm_lm.face import FaceModel
from tdmm_lm.face import topology as tp
from tdmm_lm.face.spaces import ARKIT_BLENDSHAPES
from tdmm_lm.track.pose import Pose, unrotate
from tdmm_lm.track.solve import ITERATIONS, BoxQP

__all__ = [
    "EYE_LOOK_CHANNELS",
    "FIXED_CHANNELS",
    "ExpressionRig",
    "ExpressionWeights",
    "landmark_weights",
    "stable_landmarks",
]

N_SHAPES = len(ARKIT_BLENDSHAPES)
EYE_LOOK_CHANNELS = tuple(n for n in ARKIT_BLENDSHAPES if n.startswith("eyeLook"))
#: Channels never solved from landmarks: eyeLook* follow the eye rotations (see ``eyes``);
#: the Face Mesh has no tongue, so tongueOut stays 0.
FIXED_CHANNELS = (*EYE_LOOK_CHANNELS, "tongueOut")
#: Extra ridge (weighted mm²) on channels that landmarks see poorly or that mimic others:
#: a weight of 1 on them must explain this much more landmark motion to be worth it.
CHANNEL_PRIORS = {
    "cheekPuff": 2000.0,
    "cheekSquintLeft": 1000.0,
    "cheekSquintRight": 1000.0,
    "eyeSquintLeft": 500.0,
    "eyeSquintRight": 500.0,
    "eyeWideLeft": 300.0,
    "eyeWideRight": 300.0,
    "jawForward": 2000.0,
    "jawLeft": 1000.0,
    "jawRight": 1000.0,
    "mouthClose": 2000.0,
    "mouthDimpleLeft": 1000.0,
    "mouthDimpleRight": 1000.0,
    "mouthLeft": 1000.0,
    "mouthRight": 1000.0,
    "mouthPressLeft": 500.0,
    "mouthPressRight": 500.0,
    "mouthRollLower": 500.0,
    "mouthRollUpper": 500.0,
    "mouthShrugLower": 500.0,
    "mouthShrugUpper": 500.0,
    "noseSneerLeft": 500.0,
    "noseSneerRight": 500.0,
}
#: Landmarks moving less than this (mm) under every blendshape anchor the first pose fit.
STABLE_MOTION_MM = 1.0
#: Beyond the stable set, a landmark's pose weight falls off as 1 / (1 + (motion / this)²).
POSE_MOTION_SCALE_MM = 2.0
#: Landmarks moving more than this (mm) under some blendshape do not enter the second pose
#: fit at all: their weight would be small, and they cost time.
POSE_MAX_MOTION_MM = 2.0


@dataclass(frozen=True)
class ExpressionWeights:
    """Relative landmark weights in the expression fit.

    Attributes:
        lids: Eyelid contours (blinks, squints, wide eyes).
        lips: Lip contours (every mouth shape).
        brows: Brow rows.
        cheeks: Cheeks and cheekbones (smiles and squints lift them).
        other: All other face-mesh points. Between the features, MediaPipe places points
            by its shape prior more than by the image, so they count little.
    """

    lids: float = 4.0
    lips: float = 3.0
    brows: float = 2.0
    cheeks: float = 1.0
    other: float = 0.2

    def __post_init__(self) -> None:
        for name in ("lids", "lips", "brows", "cheeks", "other"):
            if getattr(self, name) < 0:
                raise ValueError(f"landmark weight {name} must be >= 0, got {getattr(self, name)}")


def landmark_weights(weights: ExpressionWeights) -> np.ndarray:
    """(478,) weight of each landmark; the irises get 0 (they follow the eye rotations)."""
    w = np.full(tp.N_LANDMARKS, weights.other)
    groups = {
        "cheeks": [*tp.CHEEK_LEFT, *tp.CHEEK_RIGHT, *tp.CHEEKBONE_LEFT, *tp.CHEEKBONE_RIGHT],
        "brows": [
            *tp.BROW_LEFT_UPPER,
            *tp.BROW_LEFT_LOWER,
            *tp.BROW_RIGHT_UPPER,
            *tp.BROW_RIGHT_LOWER,
        ],
        "lips": [
            *tp.LIP_OUTER_UPPER,
            *tp.LIP_OUTER_LOWER,
            *tp.LIP_INNER_UPPER,
            *tp.LIP_INNER_LOWER,
        ],
        "lids": [*tp.EYE_LEFT_UPPER, *tp.EYE_LEFT_LOWER, *tp.EYE_RIGHT_UPPER, *tp.EYE_RIGHT_LOWER],
    }
    for name, idx in groups.items():
        w[list(idx)] = getattr(weights, name)
    w[tp.N_MESH_VERTICES :] = 0.0
    return w


def _inner_landmarks() -> np.ndarray:
    """Face-mesh landmarks off the face outline."""
    return np.setdiff1d(np.arange(tp.N_MESH_VERTICES), tp.FACE_OVAL)


def _motion(model: FaceModel) -> np.ndarray:
    """(V,) the largest displacement of each vertex under any blendshape, mm."""
    return np.linalg.norm(model.blendshapes, axis=2).max(axis=0)


def stable_landmarks(model: FaceModel) -> np.ndarray:
    """Inner landmarks that no blendshape moves by :data:`STABLE_MOTION_MM` or more."""
    inner = _inner_landmarks()
    return inner[_motion(model)[inner] < STABLE_MOTION_MM]


class ExpressionRig:
    """The face model, prepared for fitting blendshape weights to many frames.

    Args:
        model: The face model.
        weight_config: Relative landmark weights.
        z_weight: Weight of depth residuals relative to the image plane.
        ridge: Ridge on every channel, weighted mm² (plus :data:`CHANNEL_PRIORS`).
        sparsity: L1 pull on every channel, weighted mm²: the landmark motion a channel
            must explain before it leaves 0.
        neutral: (V, 3) neutral shape to fit against, mm; the model's own by default
            (see :mod:`tdmm_lm.track.calibrate` for the detector's view of it).
        shapes: (52, V, 3) blendshapes to fit with, mm; the model's own by default.
    """

    def __init__(
        self,
        model: FaceModel,
        weight_config: ExpressionWeights,
        z_weight: float,
        ridge: float,
        sparsity: float,
        neutral: np.ndarray | None = None,
        shapes: np.ndarray | None = None,
    ) -> None:
        self.neutral = (model.neutral if neutral is None else neutral).astype(np.float64)
        self.shapes = (model.blendshapes if shapes is None else shapes).astype(np.float64)
        self.shapes_flat = self.shapes.reshape(N_SHAPES, -1)  # (52, 3V)
        self.z_weight = z_weight
        names = list(ARKIT_BLENDSHAPES)
        self.fixed = np.array([names.index(n) for n in FIXED_CHANNELS])
        self.free = np.array([i for i in range(N_SHAPES) if i not in set(self.fixed)])
        weights = landmark_weights(weight_config)
        free_shapes = self.shapes[self.free]  # (K, V, 3)
        # G[i, j] = Σ_v ω_v B_v[:, i] B_v[:, j]ᵀ: the Hessian is Σ_ij (RᵀDR)_ij G[i, j].
        self.blocks = np.einsum("v,kvi,lvj->ijkl", weights, free_shapes, free_shapes)
        priors = np.array([CHANNEL_PRIORS.get(names[i], 0.0) for i in self.free])
        # The exact Hessian Σ_ij (RᵀDR)_ij G[i, j] varies with the head rotation only through
        # the small depth weight; it is taken at the frontal pose, so one K × K matrix serves
        # every frame (the linear term stays exact).
        frontal = self.blocks[0, 0] + self.blocks[1, 1] + z_weight * self.blocks[2, 2]
        self.hessian = frontal + np.diag(ridge + priors)
        # The same frontal curvature between solved and held channels: the linear term of
        # the held channels' displacement, so it need not be built landmark by landmark.
        metric = np.array([1.0, 1.0, z_weight])
        held = self.shapes[self.fixed]
        self.held_coupling = np.einsum("v,kvi,i,lvi->kl", weights, free_shapes, metric, held)
        ones = np.ones(len(self.free))
        self.qp = BoxQP(self.hessian, 0.0 * ones, ones)
        self.signed_qp = BoxQP(self.hessian, -ones, ones)
        self.l1 = np.full(len(self.free), sparsity)
        # Only face-mesh landmarks carry weight (the irises follow the eye rotations).
        mesh = slice(0, tp.N_MESH_VERTICES)
        weighted = weights[mesh, None] * free_shapes[:, mesh]
        self.weighted_free = weighted.reshape(len(self.free), -1)  # (K, 3 × 468)
        # The face outline is a silhouette: its landmarks slide along it as the head turns,
        # so they never anchor the pose.
        inner = _inner_landmarks()
        self.stable = stable_landmarks(model)
        motion = _motion(model)
        self.pose_points = inner[motion[inner] < POSE_MAX_MOTION_MM]
        motion = motion[self.pose_points]
        self.pose_weights = 1.0 / (1.0 + (motion / POSE_MOTION_SCALE_MM) ** 2)
        self.pose_shapes = self.shapes[:, self.pose_points].reshape(N_SHAPES, -1)

    @property
    def n_free(self) -> int:
        """Number K of solved channels."""
        return len(self.free)

    def displacement(self, weights: np.ndarray) -> np.ndarray:
        """Vertex offsets of (T, 52) weights: (T, V, 3) mm."""
        return (weights @ self.shapes_flat).reshape(len(weights), -1, 3)

    def pose_displacement(self, weights: np.ndarray) -> np.ndarray:
        """Offsets of the :attr:`pose_points` only: (T, len(pose_points), 3) mm."""
        return (weights @ self.pose_shapes).reshape(len(weights), -1, 3)

    def expand(self, free_weights: np.ndarray, fixed_weights: np.ndarray) -> np.ndarray:
        """Assemble (T, 52) weights from (T, K) solved and (T, len(FIXED)) fixed ones."""
        full = np.zeros((len(free_weights), N_SHAPES))
        full[:, self.free] = free_weights
        full[:, self.fixed] = fixed_weights
        return full

    def solve(
        self,
        pose: Pose,
        residual: np.ndarray,
        start: np.ndarray | None = None,
        signed: bool = False,
        iterations: int = ITERATIONS,
        held: np.ndarray | None = None,
    ) -> np.ndarray:
        """Blendshape weights that best explain landmark residuals, bounded to [0, 1].

        Args:
            pose: The frames' poses (T frames).
            residual: (T, 468, 3) observed minus predicted camera points of the face-mesh
                landmarks with the solved channels at 0, pixels.
            start: (T, K) warm start.
            signed: Bound to [-1, 1] instead (deviations from a reference expression).
            iterations: Solver iterations (fewer suffice from a good ``start``).
            held: (T, len(FIXED_CHANNELS)) weights of the held channels, whose displacement
                ``residual`` does not yet account for.

        Returns:
            (T, K) weights of the solved channels (order of ``self.free``).
        """
        metric = np.array([1.0, 1.0, self.z_weight])
        # Back-project the weighted residual into model axes, in mm: Rᵀ D e / s.
        back = unrotate(residual * metric, pose.rotation) / pose.scale[:, None, None]
        linear = back.reshape(len(back), -1) @ self.weighted_free.T  # (T, K)
        if held is not None:
            linear -= held @ self.held_coupling.T
        if not signed:  # an L1 pull toward 0 is linear only on the non-negative side
            linear -= self.l1
        return (self.signed_qp if signed else self.qp).solve(linear, start, iterations)
