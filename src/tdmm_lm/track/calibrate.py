"""The built-in face as MediaPipe sees it: a one-off calibration of the detector.

MediaPipe's landmarks are regressed by a network with a strong face-shape prior, not
measured, and two of its systematic effects matter to the fit:

* **its neutral face** differs from the model's by about 2 mm (more in depth), which the
  pose fit would otherwise read as a head tilt of a few degrees;
* **its amplitudes**: for several blendshapes the landmarks move less than the face does
  (the lids travel about 60 % of a blink, the inner brows about half of a brow raise);
* **its couplings**: an opening jaw, by far the largest motion of the face, also moves
  MediaPipe's brows, mouth corners and irises, which the fit would otherwise read as brow
  raises, smiles and glances.

Both are measured once, by rendering the built-in rig in the photo style at known
parameters and tracking the frames exactly as a video is tracked: the neutral through the
known (unrotated) camera, and for every blendshape a ramp 0 → 1 → 0 whose landmark motion is
projected onto the rig's own displacement field. The fit then uses the perceived neutral as
its template, each blendshape scaled by its gain, and for the channels in
:data:`RESPONSE_CHANNELS` the measured landmark motion itself
(:mod:`tdmm_lm.track.expression`).

The result ships as ``detector_calibration.npz`` next to this module, fingerprinted with the
face model it was measured on; rebuild it after
changing the face model or the landmark settings (see :func:`main`).
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from tdmm_lm.face import FaceModel
from tdmm_lm.face import topology as tp
from tdmm_lm.face.spaces import ARKIT
from tdmm_lm.track.expression import ExpressionWeights, landmark_weights, stable_landmarks
from tdmm_lm.track.landmarks import LandmarkConfig, LandmarkTracker
from tdmm_lm.track.pose import fit_pose, unrotate

__all__ = [
    "CALIBRATION_PATH",
    "DetectorCalibration",
    "build_calibration",
    "load_calibration",
    "model_fingerprint",
]

log = logging.getLogger(__name__)

CALIBRATION_PATH = Path(__file__).with_name("detector_calibration.npz")
CALIBRATION_VERSION = 1
#: Frame size and rate of the calibration renders (the size of the acceptance renders).
RENDER_SIZE = 512
RENDER_FPS = 25.0
#: Neutral frames first (the first few settle the tracker and are not used).
NEUTRAL_FRAMES = 12
SETTLE_FRAMES = 4
#: Each blendshape: neutral padding, then a ramp up and down.
PAD_FRAMES = 3
RAMP = (0.25, 0.5, 0.75, 1.0, 1.0, 0.75, 0.5, 0.25)
#: Gains are kept in this range; a channel whose measured motion does not resemble its
#: displacement field (cosine below ``MIN_COSINE``) keeps gain 1: there is nothing
#: trustworthy to correct.
GAIN_RANGE = (0.3, 1.5)
MIN_COSINE = 0.5
#: Channels fitted with their measured landmark response instead of the scaled rig field.
RESPONSE_CHANNELS = ("jawOpen",)
#: Weight of depth in the calibration's pose fit (as in tracking).
Z_WEIGHT = 0.2


@dataclass(frozen=True)
class DetectorCalibration:
    """How MediaPipe perceives the built-in rig.

    Attributes:
        neutral: (478, 3) the neutral face as MediaPipe places it, model axes and mm.
        gains: (52,) landmark amplitude per blendshape relative to the rig (1: faithful).
        responses: (len(RESPONSE_CHANNELS), 478, 3) measured landmark motion at weight 1
            of the channels in :data:`RESPONSE_CHANNELS`, mm.
        fingerprint: :func:`model_fingerprint` of the face model it was measured on.
    """

    neutral: np.ndarray
    gains: np.ndarray
    responses: np.ndarray
    fingerprint: str

    def shapes(self, blendshapes: np.ndarray) -> np.ndarray:
        """(52, V, 3) the rig's blendshapes as the detector sees them."""
        out = blendshapes.astype(np.float64) * self.gains[:, None, None]
        for name, response in zip(RESPONSE_CHANNELS, self.responses, strict=True):
            out[ARKIT.index(name)] = response
        return out

    def save(self, path: Path = CALIBRATION_PATH) -> None:
        """Write the calibration as an ``.npz`` (no pickle)."""
        np.savez(
            path,
            version=np.array(CALIBRATION_VERSION),
            neutral=self.neutral.astype(np.float32),
            gains=self.gains.astype(np.float32),
            responses=self.responses.astype(np.float32),
            fingerprint=np.array(self.fingerprint),
        )


def model_fingerprint(model: FaceModel) -> str:
    """A short hash of the model's neutral and blendshapes."""
    digest = hashlib.sha1(np.ascontiguousarray(model.neutral, np.float32).tobytes())
    digest.update(np.ascontiguousarray(model.blendshapes, np.float32).tobytes())
    return digest.hexdigest()[:16]


@lru_cache(maxsize=2)
def _read(path: str) -> dict[str, np.ndarray] | None:
    try:
        with np.load(path, allow_pickle=False) as data:
            return {k: data[k] for k in data.files}
    except (OSError, ValueError) as error:
        log.warning("cannot read the detector calibration %s (%s)", path, error)
        return None


def load_calibration(model: FaceModel, path: Path = CALIBRATION_PATH) -> DetectorCalibration | None:
    """The shipped calibration, or ``None`` (with a warning) if it does not fit ``model``."""
    data = _read(str(path)) if path.is_file() else None
    if data is None:
        log.warning("no detector calibration at %s: fitting with the raw rig", path)
        return None
    if int(data.get("version", -1)) != CALIBRATION_VERSION:
        log.warning("detector calibration %s has another format; rebuild it", path)
        return None
    if str(data["fingerprint"]) != model_fingerprint(model):
        log.warning(
            "detector calibration %s was measured on another face model; rebuild it with "
            "tdmm_lm.track.calibrate.main(); fitting with the raw rig",
            path,
        )
        return None
    return DetectorCalibration(
        neutral=data["neutral"].astype(np.float64),
        gains=data["gains"].astype(np.float64),
        responses=data["responses"].astype(np.float64),
        fingerprint=str(data["fingerprint"]),
    )


def _schedule() -> tuple[np.ndarray, list[tuple[int, np.ndarray]]]:
    """(F, 61) parameters of the calibration clip and, per blendshape, (start, levels)."""
    block = np.array([0.0] * PAD_FRAMES + list(RAMP) + [0.0] * PAD_FRAMES)
    n_shapes = 52
    params = np.zeros((NEUTRAL_FRAMES + n_shapes * len(block), ARKIT.dim), np.float32)
    blocks = []
    for k in range(n_shapes):
        start = NEUTRAL_FRAMES + k * len(block)
        params[start : start + len(block), k] = block
        blocks.append((start, block))
    return params, blocks


def _track(model: FaceModel, params: np.ndarray) -> np.ndarray:
    """(F, 478, 3) camera-space landmarks (x right, y up, z toward the camera) of renders."""
    from tdmm_lm.render import PhotoRenderer

    renderer = PhotoRenderer(model, RENDER_SIZE)
    config = LandmarkConfig(max_faces=1)
    points = []
    with LandmarkTracker(config, RENDER_FPS) as tracker:
        for frame in renderer.frames(params):
            face, _ = tracker.process(frame)
            if face is None:
                raise RuntimeError("MediaPipe lost the rendered face during calibration")
            points.append(face)
    return np.stack(points).astype(np.float64) * np.array([1.0, -1.0, -1.0])


def build_calibration(model: FaceModel | None = None) -> DetectorCalibration:
    """Measure the calibration (about 15 s: renders ~700 frames and tracks them)."""
    model = model or FaceModel()
    params, blocks = _schedule()
    observed = _track(model, params)
    mesh = np.arange(tp.N_MESH_VERTICES)

    # Neutral: the render is unrotated, so only a scale and a shift map mm to pixels.
    rest = observed[SETTLE_FRAMES:NEUTRAL_FRAMES].mean(axis=0)
    model_xy = model.neutral[mesh, :2] - model.neutral[mesh, :2].mean(axis=0)
    seen_xy = rest[mesh, :2] - rest[mesh, :2].mean(axis=0)
    scale = float(np.sum(model_xy * seen_xy) / np.sum(model_xy * model_xy))
    centre = rest[mesh].mean(axis=0) - scale * model.neutral[mesh].mean(axis=0)
    neutral = (rest - centre) / scale
    neutral[:, 2] += (model.neutral[mesh, 2] - neutral[mesh, 2]).mean()

    # Gains: each ramp's motion seen through the tracker's own pose fit.
    weights = landmark_weights(ExpressionWeights())[mesh]
    shapes = model.blendshapes.astype(np.float64)
    gains = np.ones(len(blocks))
    responses = np.zeros_like(shapes)
    stable = stable_landmarks(model)
    for k, (start, levels) in enumerate(blocks):
        frames = observed[start : start + len(levels)]
        pose, _ = fit_pose(neutral[stable], frames[:, stable], np.ones(len(stable)), Z_WEIGHT)
        moved = frames - pose.translation[:, None]
        local = unrotate(moved, pose.rotation) / pose.scale[:, None, None]
        delta = local - local[levels == 0].mean(axis=0)
        response = np.einsum("t,tvi->vi", levels, delta) / float(levels @ levels)
        responses[k] = response
        field, seen = shapes[k][mesh, :2], response[mesh, :2]
        dot = float(np.einsum("v,vi,vi->", weights, field, seen))
        norm_field = float(np.einsum("v,vi,vi->", weights, field, field))
        norm_seen = float(np.einsum("v,vi,vi->", weights, seen, seen))
        cosine = dot / max(np.sqrt(norm_field * norm_seen), 1e-12)
        if cosine >= MIN_COSINE:
            gains[k] = float(np.clip(dot / norm_field, *GAIN_RANGE))
        log.info("%-20s gain %.2f (cosine %.2f)", ARKIT.channels[k], gains[k], cosine)
    return DetectorCalibration(
        neutral=neutral,
        gains=_symmetric(gains),
        responses=np.stack([responses[ARKIT.index(n)] for n in RESPONSE_CHANNELS]),
        fingerprint=model_fingerprint(model),
    )


def _symmetric(gains: np.ndarray) -> np.ndarray:
    """Give each Left/Right pair its mean gain.

    The face and the detector are symmetric, so a difference between the sides is noise.
    """
    names = list(ARKIT.channels[: len(gains)])
    out = gains.copy()
    for k, name in enumerate(names):
        if name.endswith("Left") and name[:-4] + "Right" in names:
            other = names.index(name[:-4] + "Right")
            out[k] = out[other] = 0.5 * (gains[k] + gains[other])
    return out


def main() -> None:
    """Rebuild the shipped calibration file.

    Run ``python -c "from tdmm_lm.track.calibrate import main; main()"``.
    """
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    build_calibration().save()
    log.info("wrote %s", CALIBRATION_PATH)
