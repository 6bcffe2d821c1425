"""Eye rotations from the iris landmarks, and the eyeLook* channels derived from them.

Policy (the same as Apple's face tracking feeding Live Link Face):

* The gaze is measured as eye rotations: each eye's yaw and pitch are fitted so that the
  rig's iris (five points rotating about the eyeball centre) lands on MediaPipe's iris,
  with the head pose already removed. Roll is not observable from an iris and stays 0.
* Both eyes get one conjugate gaze, the openness-weighted mean of the two fits: the
  difference between the eyes (vergence) is below MediaPipe's iris noise, and a closing lid
  corrupts its eye's iris, so the open eye decides during winks and blinks.
* ``EyeLookPolicy.LIVELINK``: the eight eyeLook* weights are set from the rotations, as in
  Live Link: eyeLookOut/In from yaw, eyeLookUp/Down from pitch, reaching 1 at the rotation
  that moves the iris as far as that blendshape does in the built-in rig (asin(travel /
  eyeball radius): about 19° sideways, 15° up or down). Note that the built-in rig moves the
  iris with both the eyeLook* shapes and the eye rotations; re-rendering a LIVELINK fit with
  it therefore shows the iris travelling further than in the video.
* ``EyeLookPolicy.ROTATIONS``: eyeLook* stay 0 and the rotations alone carry the gaze, which
  re-renders faithfully with the built-in rig (its demo sequence uses this convention).
"""

from __future__ import annotations

from enum import Enum

import numpy as np

from tdmm_lm.face import FaceModel, rig
from tdmm_lm.face import topology as tp
from tdmm_lm.face.spaces import ARKIT_BLENDSHAPES
from tdmm_lm.track.expression import EYE_LOOK_CHANNELS
from tdmm_lm.track.pose import Pose

__all__ = ["EyeLookPolicy", "GazeFitter"]

#: Gauss-Newton steps of the per-eye gaze fit (it starts at 0 and is nearly linear).
GAZE_STEPS = 3
#: Finite-difference step for the gaze Jacobian, radians.
GAZE_EPS = 1e-4
#: Damping of the 2 × 2 gaze normal equations (keeps a closed eye's fit defined).
GAZE_DAMPING = 1e-9
#: Gaze angles are clipped here (radians), inside the arkit range of ±45°.
GAZE_LIMIT = np.deg2rad(40.0)
#: Openness weights below this are floored so a frame with both eyes shut stays defined.
MIN_OPENNESS = 1e-3
SIDES = ("Left", "Right")  # eye order everywhere in this module (as in model.eye_centres)


class EyeLookPolicy(str, Enum):
    """How the eyeLook* blendshapes relate to the eye rotations (see the module docstring)."""

    LIVELINK = "livelink"
    ROTATIONS = "rotations"


class GazeFitter:
    """Fits conjugate eye yaw and pitch to the iris landmarks of many frames.

    Args:
        model: The face model (eyeball centres, rest irises, eyeLook shapes).
        neutral: (478, 3) neutral face to measure the gaze against; the model's by default.
    """

    def __init__(self, model: FaceModel, neutral: np.ndarray | None = None) -> None:
        neutral = (model.neutral if neutral is None else neutral).astype(np.float64)
        self.iris = np.array([tp.IRIS[s] for s in SIDES])  # (2, 5)
        # The eyeballs keep their depth behind the irises wherever the neutral puts them.
        shift = neutral[self.iris[:, 0]] - model.neutral[self.iris[:, 0]]
        self.centres = model.eye_centres.astype(np.float64) + shift  # (2, 3)
        self.rest = neutral[self.iris] - self.centres[:, None]  # (2, 5, 3) iris about centre
        self.sockets = [list(tp.EYE_UPPER[s] + tp.EYE_LOWER[s]) for s in SIDES]
        radius = float(np.linalg.norm(self.rest[:, 0], axis=1).mean())
        names = list(ARKIT_BLENDSHAPES)
        travel = {}
        for look in ("Out", "In", "Up", "Down"):
            shape = model.blendshapes[names.index(f"eyeLook{look}Left")]
            travel[look] = float(np.linalg.norm(shape[tp.IRIS_LEFT[0]]))
        # Rotation at which each eyeLook shape's own iris travel is reached.
        self.full_scale = {k: float(np.arcsin(min(v / radius, 1.0))) for k, v in travel.items()}

    def socket_shift(self, identity: np.ndarray) -> np.ndarray:
        """(2, 3) mean identity offset of each eye's lid contour: moves the eyeball with it."""
        return np.stack([identity[s].mean(axis=0) for s in self.sockets])

    def _predict(self, angles: np.ndarray, pose: Pose, shift: np.ndarray) -> np.ndarray:
        """Camera positions of the irises for (T, 2, 2) [yaw, pitch] angles: (T, 2, 5, 3)."""
        n_frames = len(angles)
        zeros = np.zeros(n_frames * 2)
        rot = rig.euler_matrices(angles[..., 0].ravel(), angles[..., 1].ravel(), zeros)
        rot = rot.reshape(n_frames, 2, 3, 3)
        local = np.einsum("teij,enj->teni", rot, self.rest)
        model_pts = local + (self.centres + shift)[None, :, None, :]  # (T, 2, 5, 3)
        flat = model_pts.reshape(n_frames, -1, 3)
        return pose.apply(flat).reshape(n_frames, 2, 5, 3)

    def fit(
        self,
        pose: Pose,
        observed: np.ndarray,
        shift: np.ndarray,
        openness: np.ndarray,
        z_weight: float,
    ) -> np.ndarray:
        """Conjugate gaze of each frame.

        Args:
            pose: Head poses of T frames.
            observed: (T, 478, 3) camera-space landmarks (x right, y up, z toward camera).
            shift: (2, 3) eyeball offsets from :meth:`socket_shift`.
            openness: (T, 2) how open each eye is (0 shut … 1 open), left then right.
            z_weight: Weight of depth residuals.

        Returns:
            (T, 2) float64 ``[yaw, pitch]`` radians, shared by both eyes.
        """
        target = observed[:, self.iris].astype(np.float64)  # (T, 2, 5, 3)
        metric = np.sqrt(np.array([1.0, 1.0, z_weight]))
        angles = np.zeros((len(target), 2, 2))
        for _ in range(GAZE_STEPS):
            base = self._predict(angles, pose, shift)
            residual = ((base - target) * metric).reshape(*angles.shape[:2], -1)  # (T, 2, 15)
            columns = []
            for k in range(2):
                nudged = angles.copy()
                nudged[..., k] += GAZE_EPS
                moved = (self._predict(nudged, pose, shift) - base) * metric
                columns.append(moved.reshape(residual.shape) / GAZE_EPS)
            jac = np.stack(columns, axis=-1)  # (T, 2, 15, 2)
            normal = np.einsum("tenk,tenl->tekl", jac, jac) + GAZE_DAMPING * np.eye(2)
            grad = np.einsum("tenk,ten->tek", jac, residual)
            angles = np.clip(
                angles - np.linalg.solve(normal, grad[..., None])[..., 0], -GAZE_LIMIT, GAZE_LIMIT
            )
        weight = np.maximum(openness, MIN_OPENNESS)[..., None]  # (T, 2, 1)
        return (angles * weight).sum(axis=1) / weight.sum(axis=1)

    def eye_look(self, gaze: np.ndarray) -> np.ndarray:
        """eyeLook* weights of (T, 2) [yaw, pitch] gaze, in :data:`EYE_LOOK_CHANNELS` order.

        Yaw is + toward the subject's left, so it is "out" for the left eye and "in" for
        the right; pitch is + looking down.
        """
        yaw, pitch = gaze[:, 0], gaze[:, 1]
        fs = self.full_scale
        values = {}
        for side, outward in (("Left", 1.0), ("Right", -1.0)):
            values[f"eyeLookOut{side}"] = outward * yaw / fs["Out"]
            values[f"eyeLookIn{side}"] = -outward * yaw / fs["In"]
            values[f"eyeLookUp{side}"] = -pitch / fs["Up"]
            values[f"eyeLookDown{side}"] = pitch / fs["Down"]
        return np.clip(np.stack([values[n] for n in EYE_LOOK_CHANNELS], axis=1), 0.0, 1.0)
