"""A short built-in ``arkit`` performance.

It is used by the main job, the renderer's tests and the benchmarks: a smile, a blink, a
spoken "ah", raised brows, and a look around.
"""

from __future__ import annotations

import numpy as np

from tdmm_lm.face.sequence import FaceSequence
from tdmm_lm.face.spaces import ARKIT

__all__ = ["demo_sequence"]

DEMO_FPS = 25.0
DEMO_SECONDS = 6.0


def _bump(t: np.ndarray, start: float, peak: float, end: float) -> np.ndarray:
    """0 before ``start``, eased up to 1 at ``peak``, eased back to 0 at ``end``."""
    rise = np.clip((t - start) / max(peak - start, 1e-6), 0, 1)
    fall = np.clip((end - t) / max(end - peak, 1e-6), 0, 1)
    s = np.where(t < peak, rise, fall)
    return s * s * (3 - 2 * s)


def demo_sequence(seconds: float = DEMO_SECONDS, fps: float = DEMO_FPS) -> FaceSequence:
    """The demo performance, time-scaled to ``seconds`` at ``fps``."""
    n = max(2, round(seconds * fps))
    t = np.linspace(0.0, DEMO_SECONDS, n)  # authored on a 6 s timeline
    p = np.zeros((n, ARKIT.dim), dtype=np.float32)

    def put(name: str, values: np.ndarray) -> None:
        p[:, ARKIT.index(name)] += values

    smile = 0.9 * _bump(t, 0.3, 1.0, 2.2)
    put("mouthSmileLeft", smile)
    put("mouthSmileRight", smile)
    put("cheekSquintLeft", 0.5 * smile)
    put("cheekSquintRight", 0.5 * smile)
    for blink_at in (1.6, 4.4):
        blink = _bump(t, blink_at, blink_at + 0.08, blink_at + 0.22)
        put("eyeBlinkLeft", blink)
        put("eyeBlinkRight", blink)
    aah = _bump(t, 2.4, 2.9, 3.6)
    put("jawOpen", 0.7 * aah)
    put("mouthFunnel", 0.15 * aah)
    brows = _bump(t, 3.4, 3.9, 4.8)
    put("browInnerUp", 0.9 * brows)
    put("browOuterUpLeft", 0.7 * brows)
    put("browOuterUpRight", 0.7 * brows)
    put("eyeWideLeft", 0.4 * brows)
    put("eyeWideRight", 0.4 * brows)
    look = np.sin(2 * np.pi * t / DEMO_SECONDS)
    put("headYaw", np.deg2rad(18) * look * _bump(t, 0.0, 3.0, 6.0))
    put("headPitch", np.deg2rad(7) * np.sin(2 * np.pi * t / 1.5) * _bump(t, 4.4, 5.0, 6.0))
    put("headRoll", np.deg2rad(4) * look)
    gaze = np.deg2rad(15) * np.sin(2 * np.pi * t / 2.0) * _bump(t, 0.0, 1.0, 2.5)
    put("leftEyeYaw", gaze)
    put("rightEyeYaw", gaze)
    np.clip(p[:, :52], 0.0, 1.0, out=p[:, :52])
    return FaceSequence(p, space="arkit", fps=fps, meta={"source": "tdmm_lm demo sequence"})
