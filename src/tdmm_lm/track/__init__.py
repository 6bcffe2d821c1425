"""Video to 3D face parameters: MediaPipe landmarks fitted to the built-in ``arkit`` rig.

>>> from tdmm_lm.track import fit_video
>>> sequence, report = fit_video("face.mp4")  # doctest: +SKIP

Stages: :mod:`~tdmm_lm.track.video` decodes (streaming), :mod:`~tdmm_lm.track.landmarks`
runs MediaPipe Face Mesh, :mod:`~tdmm_lm.track.fit` fits pose, identity, expression and
gaze, :mod:`~tdmm_lm.track.smoothing` and :mod:`~tdmm_lm.track.quality` clean and qualify
the result, :mod:`~tdmm_lm.track.api` ties them together. :mod:`~tdmm_lm.track.eyes` says
how the eyeLook* channels relate to the eye rotations, :mod:`~tdmm_lm.track.calibrate` how
MediaPipe's view of the built-in face was measured.
"""

from __future__ import annotations

from tdmm_lm.track.api import TRACKER_VERSION, TrackConfig, fit_track, fit_video
from tdmm_lm.track.batch import fit_folder
from tdmm_lm.track.eyes import EyeLookPolicy
from tdmm_lm.track.fit import FitConfig
from tdmm_lm.track.landmarks import LandmarkConfig, LandmarkTrack, track_landmarks
from tdmm_lm.track.quality import QAReport, QualityConfig
from tdmm_lm.track.smoothing import SmoothingConfig

__all__ = [
    "TRACKER_VERSION",
    "EyeLookPolicy",
    "FitConfig",
    "LandmarkConfig",
    "LandmarkTrack",
    "QAReport",
    "QualityConfig",
    "SmoothingConfig",
    "TrackConfig",
    "fit_folder",
    "fit_track",
    "fit_video",
    "track_landmarks",
]
