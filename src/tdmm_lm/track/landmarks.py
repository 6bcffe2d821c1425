"""Face landmarks over a video with MediaPipe Face Mesh (478 points, irises included).

The legacy ``mp.solutions.face_mesh`` graph runs in video mode: it detects a face once and
then tracks it from frame to frame, re-detecting only when the track is lost, which is what
makes it fast. Its models ship inside the pinned ``mediapipe`` wheel; nothing is downloaded.

Points are returned in pixels of the analysed frame: x to the right, y down, and z the
MediaPipe depth scaled like x (MediaPipe's normalised z uses the image width as its unit),
negative toward the camera.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tdmm_lm.errors import InvalidInputError
from tdmm_lm.face import topology as tp
from tdmm_lm.face.topology import N_LANDMARKS
from tdmm_lm.track.video import iter_frames, probe_video

__all__ = ["LandmarkConfig", "LandmarkTrack", "LandmarkTracker", "track_landmarks"]

log = logging.getLogger(__name__)

#: A face whose centre moved more than this many face sizes since the last frame is taken
#: to be another face, not the one being followed.
MAX_JUMP_FACE_SIZES = 0.6
#: After this many seconds without the followed face, the next face found is taken anew.
REACQUIRE_AFTER_S = 1.0
#: Bytes of one serialised ``NormalizedLandmark`` holding x, y, z only: a 2-byte message
#: header, then three (1-byte tag, 4-byte little-endian float) fields.
_LANDMARK_BYTES = 17
_FLOAT_OFFSETS = (3, 8, 13)
_FIELD_TAGS = {2: 0x0D, 7: 0x15, 12: 0x1D}  # byte offset -> protobuf tag of x, y, z
#: A blank frame of this size starts the MediaPipe graph (and its log lines) up front.
FIRST_FRAME_PX = 64
#: Landmarks carried by optical flow between frames (see ``_FlowRefiner``): the brows.
FLOW_REFINED_LANDMARKS = (
    *tp.BROW_LEFT_UPPER, *tp.BROW_LEFT_LOWER, *tp.BROW_RIGHT_UPPER, *tp.BROW_RIGHT_LOWER,
)  # fmt: skip
#: Lucas-Kanade window, as a fraction of the face width, and its bounds in pixels.
FLOW_WINDOW_FACE_WIDTHS = 0.05
FLOW_WINDOW_PX = (9, 31)
FLOW_PYRAMID_LEVELS = 3
#: A flow vector is trusted when tracking it back lands this close (in face widths).
FLOW_MAX_ROUND_TRIP_FACE_WIDTHS = 0.005


@dataclass(frozen=True)
class LandmarkConfig:
    """How faces are found and followed.

    Attributes:
        max_faces: Faces MediaPipe looks for in each frame. More than one lets the tracker
            follow the largest face (or ``face_index``) when several are visible, at some
            cost in speed.
        face_index: Follow this face, counting from 0 left to right in the first frame
            that shows enough faces; ``None`` follows the largest face.
        min_detection_confidence: MediaPipe's face-detector threshold.
        min_tracking_confidence: Below this, MediaPipe drops the track and re-detects.
        max_side: Frames larger than this (longer side, px) are shrunk before detection.
        flow_refine: Carry the brow landmarks with optical flow (see ``_FlowRefiner``).
        flow_time_constant_s: How fast the flow track is pulled back toward MediaPipe.
    """

    max_faces: int = 4
    face_index: int | None = None
    min_detection_confidence: float = 0.5
    min_tracking_confidence: float = 0.5
    max_side: int = 1920
    flow_refine: bool = True
    flow_time_constant_s: float = 4.0

    def __post_init__(self) -> None:
        if self.max_faces < 1:
            raise ValueError(f"max_faces must be >= 1, got {self.max_faces}")
        if self.face_index is not None and not 0 <= self.face_index < self.max_faces:
            raise ValueError(
                f"face_index must be in 0..{self.max_faces - 1} (max_faces={self.max_faces}), "
                f"got {self.face_index}"
            )
        for name in ("min_detection_confidence", "min_tracking_confidence"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {value}")
        if self.max_side < 64:
            raise ValueError(f"max_side must be >= 64 px, got {self.max_side}")
        if self.flow_time_constant_s <= 0:
            raise ValueError(f"flow_time_constant_s must be > 0, got {self.flow_time_constant_s}")


@dataclass
class LandmarkTrack:
    """The followed face's landmarks in every frame of a video.

    Attributes:
        points: (T, 478, 3) float32 pixels of the analysed frame (x right, y down, z scaled
            like x, negative toward the camera); zeros where ``found`` is False.
        found: (T,) bool, the followed face was found in the frame.
        n_faces: (T,) uint8, faces MediaPipe saw in the frame.
        timestamps: (T,) float64 presentation times in seconds.
        fps: Nominal frame rate of the video.
        width: Width of the analysed frames, px.
        height: Height of the analysed frames, px.
        source: The video file.
    """

    points: np.ndarray
    found: np.ndarray
    n_faces: np.ndarray
    timestamps: np.ndarray
    fps: float
    width: int
    height: int
    source: str

    @property
    def n_frames(self) -> int:
        """Number of frames T."""
        return len(self.found)

    def in_frame_fraction(self) -> np.ndarray:
        """(T,) fraction of the face's landmarks inside the picture (0 where not found)."""
        x, y = self.points[..., 0], self.points[..., 1]
        inside = (x >= 0) & (x <= self.width) & (y >= 0) & (y <= self.height)
        return np.where(self.found, inside.mean(axis=1), 0.0)


@contextlib.contextmanager
def _native_stderr_silenced() -> Iterator[None]:
    """Silence C++ log lines (TFLite, absl) written straight to file descriptor 2.

    MediaPipe prints several INFO/WARNING lines when its graph starts; they are noise to a
    user and would break the command line's one-line errors.
    """
    try:
        saved = os.dup(2)
    except OSError:  # no usable fd 2 (embedded interpreters): nothing to silence
        yield
        return
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _as_array(landmarks) -> np.ndarray:  # landmarks: NormalizedLandmarkList
    """(478, 3) float32 normalised coordinates of a MediaPipe landmark list.

    Reading the fields one by one costs ~0.3 ms a frame; the serialised message of a list
    holding only x, y and z is a fixed-stride record that NumPy reads in microseconds. The
    layout is checked, and any other layout takes the slow, general path.
    """
    raw = landmarks.SerializeToString()
    if len(raw) == N_LANDMARKS * _LANDMARK_BYTES:
        records = np.frombuffer(raw, np.uint8).reshape(N_LANDMARKS, _LANDMARK_BYTES)
        if all((records[:, at] == tag).all() for at, tag in _FIELD_TAGS.items()):
            cols = [records[:, o : o + 4].copy().view("<f4")[:, 0] for o in _FLOAT_OFFSETS]
            return np.stack(cols, axis=1).astype(np.float32)
    return np.array([(p.x, p.y, p.z) for p in landmarks.landmark], dtype=np.float32)


class _FaceFollower:
    """Picks the followed face among MediaPipe's detections, frame after frame."""

    def __init__(self, face_index: int | None, reacquire_frames: int) -> None:
        self.face_index = face_index
        self.reacquire_frames = reacquire_frames
        self.centre: np.ndarray | None = None
        self.size = 0.0
        self.missing = 0

    def choose(self, faces: list[np.ndarray]) -> int | None:
        """Index into ``faces`` ((478, 3) pixel arrays) of the followed face, or None."""
        boxes = [(f[:, :2].min(axis=0), f[:, :2].max(axis=0)) for f in faces]
        centres = [(lo + hi) / 2 for lo, hi in boxes]
        sizes = [float(np.sqrt(np.prod(hi - lo))) for lo, hi in boxes]
        pick: int | None = None
        if self.centre is not None and faces:
            jumps = [float(np.linalg.norm(c - self.centre)) for c in centres]
            nearest = int(np.argmin(jumps))
            if jumps[nearest] <= MAX_JUMP_FACE_SIZES * max(self.size, 1.0):
                pick = nearest
        if pick is None and (self.centre is None or self.missing >= self.reacquire_frames):
            pick = self._acquire(centres, sizes)
        if pick is None:
            self.missing += 1
            return None
        self.centre, self.size, self.missing = centres[pick], sizes[pick], 0
        return pick

    def _acquire(self, centres: list[np.ndarray], sizes: list[float]) -> int | None:
        if not centres:
            return None
        if self.face_index is None:
            return int(np.argmax(sizes))
        if self.face_index >= len(centres):
            return None
        left_to_right = np.argsort([c[0] for c in centres])
        return int(left_to_right[self.face_index])


class _FlowRefiner:
    """Follows chosen landmarks with optical flow, pulled back toward MediaPipe over time.

    MediaPipe regresses every landmark under a strong shape prior, and its brow points in
    particular follow the brows sluggishly and move with unrelated motion (an opening jaw
    lifts them). The brow texture itself moves exactly with the brows, so these points are
    carried from frame to frame by pyramidal Lucas-Kanade flow, checked forward-backward,
    and blended toward MediaPipe's estimate with time constant ``tau``: flow supplies the
    motion, MediaPipe keeps the track from drifting. Points whose flow fails restart from
    MediaPipe's estimate.
    """

    def __init__(self, indices: tuple[int, ...], time_constant_s: float, fps: float) -> None:
        self.indices = np.array(indices, dtype=int)
        self.pull = 1.0 - float(np.exp(-1.0 / (fps * time_constant_s)))
        self.previous: np.ndarray | None = None  # grey frame
        self.points: np.ndarray | None = None  # (N, 2) float32 refined positions

    def reset(self) -> None:
        """Forget the track (the face was lost)."""
        self.previous = None
        self.points = None

    def update(self, grey: np.ndarray, face: np.ndarray) -> np.ndarray:
        """Refine (478, 3) pixel landmarks of the frame ``grey`` in place and return them."""
        import cv2

        detected = face[self.indices, :2].astype(np.float32)
        if self.previous is None or self.points is None:
            refined = detected
        else:
            width = float(np.ptp(face[:, 0]))
            window = int(np.clip(FLOW_WINDOW_FACE_WIDTHS * width, *FLOW_WINDOW_PX)) | 1
            params = dict(winSize=(window, window), maxLevel=FLOW_PYRAMID_LEVELS)
            start = self.points.reshape(-1, 1, 2)
            moved, ok, _ = cv2.calcOpticalFlowPyrLK(self.previous, grey, start, None, **params)
            back, ok_back, _ = cv2.calcOpticalFlowPyrLK(grey, self.previous, moved, None, **params)
            round_trip = np.linalg.norm((back - start).reshape(-1, 2), axis=1)
            good = (ok.ravel() == 1) & (ok_back.ravel() == 1)
            good &= round_trip < FLOW_MAX_ROUND_TRIP_FACE_WIDTHS * width
            refined = np.where(good[:, None], moved.reshape(-1, 2), detected)
            refined = refined + self.pull * (detected - refined)
        self.previous, self.points = grey, refined.astype(np.float32)
        face[self.indices, :2] = self.points
        return face


class LandmarkTracker:
    """MediaPipe Face Mesh in video mode, following one face, frame by frame.

    Use as a context manager; feed frames in order to :meth:`process`.

    Args:
        config: Detection settings.
        fps: Frame rate of the frames to come (for the flow refinement's time constant).
    """

    def __init__(self, config: LandmarkConfig, fps: float) -> None:
        self.config = config
        self.follower = _FaceFollower(config.face_index, max(1, round(REACQUIRE_AFTER_S * fps)))
        self.refiner = (
            _FlowRefiner(FLOW_REFINED_LANDMARKS, config.flow_time_constant_s, fps)
            if config.flow_refine
            else None
        )
        self._mesh = None
        self._tracking = False  # whether the last frame held a face
        self._quiet = True  # until a face has been through the graph (it logs once then)

    def __enter__(self) -> LandmarkTracker:
        import mediapipe as mp

        with _native_stderr_silenced():
            self._mesh = mp.solutions.face_mesh.FaceMesh(
                static_image_mode=False,
                max_num_faces=self.config.max_faces,
                refine_landmarks=True,  # the 10 iris points
                min_detection_confidence=self.config.min_detection_confidence,
                min_tracking_confidence=self.config.min_tracking_confidence,
            )
            # The graph starts (and logs its start-up) on its first frame.
            self._mesh.process(np.zeros((FIRST_FRAME_PX, FIRST_FRAME_PX, 3), np.uint8))
        return self

    def __exit__(self, *exc: object) -> None:
        if self._mesh is not None:
            self._mesh.close()
            self._mesh = None

    def _detect(self, frame: np.ndarray) -> list[np.ndarray]:
        height, width = frame.shape[:2]
        if self._quiet:
            with _native_stderr_silenced():
                result = self._mesh.process(frame)
            self._quiet = not result.multi_face_landmarks
        else:
            result = self._mesh.process(frame)
        scale = np.array([width, height, width], np.float32)
        return [_as_array(f) * scale for f in (result.multi_face_landmarks or [])]

    def process(self, frame: np.ndarray) -> tuple[np.ndarray | None, int]:
        """Landmarks of the followed face in one frame.

        Args:
            frame: (H, W, 3) uint8 RGB.

        Returns:
            ``(points, n_faces)``: (478, 3) float32 pixels or ``None`` when the followed
            face is not in the frame, and the number of faces MediaPipe saw.
        """
        if self._mesh is None:
            raise RuntimeError("LandmarkTracker must be used as a context manager")
        faces = self._detect(frame)
        if faces and not self._tracking:
            # A fresh detection crops the face differently from tracking, and its landmarks
            # are offset from those of the frames that follow; the second pass over the same
            # frame already runs in tracking mode.
            faces = self._detect(frame) or faces
        pick = self.follower.choose(faces)
        self._tracking = pick is not None
        if pick is None:
            if self.refiner is not None:
                self.refiner.reset()
            return None, len(faces)
        face = faces[pick]
        if self.refiner is not None:
            import cv2

            face = self.refiner.update(cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY), face)
        return face, len(faces)


def track_landmarks(
    path: str | os.PathLike[str],
    config: LandmarkConfig | None = None,
    on_frame: Callable[[], None] | None = None,
) -> LandmarkTrack:
    """Detect and follow one face through a video, streaming its frames.

    Args:
        path: The video file.
        config: Detection settings; defaults when ``None``.
        on_frame: Called after each frame (for progress bars).

    Returns:
        The followed face's landmarks; frames without it have ``found`` False.

    Raises:
        InvalidInputError: The file is missing, unreadable, or holds no frames.
    """
    config = config or LandmarkConfig()
    path = Path(path)
    info = probe_video(path)
    points: list[np.ndarray] = []
    found: list[bool] = []
    n_faces: list[int] = []
    stamps: list[float] = []
    size = (0, 0)
    empty = np.zeros((N_LANDMARKS, 3), np.float32)
    with LandmarkTracker(config, info.fps) as tracker:
        for frame, stamp in iter_frames(path, max_side=config.max_side):
            size = (frame.shape[1], frame.shape[0])
            face, count = tracker.process(frame)
            points.append(empty if face is None else face)
            found.append(face is not None)
            n_faces.append(count)
            stamps.append(stamp)
            if on_frame is not None:
                on_frame()
    if not found:
        raise InvalidInputError(f"{path}: the video has no frames")
    log.info("%s: face found in %d of %d frames", path, sum(found), len(found))
    return LandmarkTrack(
        points=np.stack(points),
        found=np.array(found, dtype=bool),
        n_faces=np.array(n_faces, dtype=np.uint8),
        timestamps=np.array(stamps, dtype=np.float64),
        fps=info.fps,
        width=size[0],
        height=size[1],
        source=str(path),
    )
