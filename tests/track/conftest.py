"""Fixtures for the tracker tests: short photo-style renders with known parameters.

Rendering and tracking cost a few seconds, so every clip is made once per session and the
fits are shared between the tests that read them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from tdmm_lm.face import ARKIT, FaceModel, FaceSequence
from tdmm_lm.render import PhotoRenderer
from tdmm_lm.render.video import write_video
from tdmm_lm.track import QAReport, TrackConfig, fit_video

FPS = 25.0
SIZE = 512
REAL_FACES = Path(__file__).resolve().parents[3] / "shared" / "real-faces"


def bump(t: np.ndarray, start: float, peak: float, end: float) -> np.ndarray:
    """0 before ``start``, eased up to 1 at ``peak``, eased back to 0 at ``end``."""
    rise = np.clip((t - start) / (peak - start), 0.0, 1.0)
    fall = np.clip((end - t) / (end - peak), 0.0, 1.0)
    s = np.where(t < peak, rise, fall)
    return s * s * (3.0 - 2.0 * s)


def expression_performance(seconds: float = 4.0) -> FaceSequence:
    """Jaw, smiles, blinks and brows, overlapping a little, over a gently moving head."""
    t = np.arange(round(seconds * FPS)) / FPS
    p = np.zeros((len(t), ARKIT.dim), np.float32)

    def put(name: str, values: np.ndarray) -> None:
        p[:, ARKIT.index(name)] += values

    put("jawOpen", 0.8 * bump(t, 0.3, 0.7, 1.1) + 0.4 * bump(t, 2.6, 2.9, 3.3))
    put("mouthSmileLeft", 0.8 * bump(t, 1.0, 1.5, 2.1))
    put("mouthSmileRight", 0.7 * bump(t, 1.2, 1.7, 2.3))
    put("eyeBlinkLeft", bump(t, 0.9, 1.0, 1.15) + bump(t, 3.0, 3.1, 3.25))
    put("eyeBlinkRight", bump(t, 0.9, 1.0, 1.15) + 0.9 * bump(t, 2.2, 2.3, 2.45))
    put("browInnerUp", 0.8 * bump(t, 2.0, 2.5, 3.0))
    put("browDownLeft", 0.7 * bump(t, 3.1, 3.5, 3.9))
    put("browDownRight", 0.7 * bump(t, 3.1, 3.5, 3.9))
    put("headYaw", np.deg2rad(6.0) * np.sin(2 * np.pi * t / seconds))
    put("headPitch", np.deg2rad(4.0) * np.sin(4 * np.pi * t / seconds + 0.5))
    p[:, :52] = np.clip(p[:, :52], 0.0, 1.0)
    return FaceSequence(p, "arkit", FPS, {"source": "expression test performance"})


def head_performance(seconds: float = 4.0) -> FaceSequence:
    """A neutral face turning ±10° and nodding ±6°."""
    t = np.arange(round(seconds * FPS)) / FPS
    p = np.zeros((len(t), ARKIT.dim), np.float32)
    p[:, ARKIT.index("headYaw")] = np.deg2rad(10.0) * np.sin(2 * np.pi * t / seconds)
    p[:, ARKIT.index("headPitch")] = np.deg2rad(6.0) * np.sin(4 * np.pi * t / seconds + 0.5)
    return FaceSequence(p, "arkit", FPS, {"source": "head test performance"})


@dataclass
class Clip:
    """A rendered clip, its ground truth, and the tracker's result on it."""

    video: Path
    truth: FaceSequence
    fitted: FaceSequence
    report: QAReport


@pytest.fixture(scope="session")
def renderer() -> PhotoRenderer:
    return PhotoRenderer(FaceModel(), SIZE)


def _render_and_fit(renderer: PhotoRenderer, truth: FaceSequence, path: Path) -> Clip:
    write_video(renderer.frames(truth.params), path, FPS)
    fitted, report = fit_video(path, TrackConfig(fps=FPS))
    return Clip(path, truth, fitted, report)


@pytest.fixture(scope="session")
def expression_clip(tmp_path_factory, renderer) -> Clip:
    path = tmp_path_factory.mktemp("clips") / "expression.mp4"
    return _render_and_fit(renderer, expression_performance(), path)


@pytest.fixture(scope="session")
def head_clip(tmp_path_factory, renderer) -> Clip:
    path = tmp_path_factory.mktemp("clips") / "head.mp4"
    return _render_and_fit(renderer, head_performance(), path)


@pytest.fixture(scope="session")
def real_faces() -> Path:
    if not (REAL_FACES / "d0.mp4").is_file():
        pytest.skip(f"real test videos not available at {REAL_FACES}")
    return REAL_FACES
