"""Streaming video decoding for the tracker.

Frames are decoded one at a time with OpenCV's FFmpeg back-end (mp4, mov, webm, avi, mkv and
anything else FFmpeg reads), so memory never depends on the video's length. A background
thread decodes ahead of the consumer through a small bounded queue: on two cores, decoding
and landmark detection then overlap instead of taking turns.
"""

from __future__ import annotations

import logging
import math
import os
import queue
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tdmm_lm.errors import InvalidInputError

__all__ = ["VideoInfo", "iter_frames", "probe_video"]

log = logging.getLogger(__name__)

# FFmpeg's own log lines ("moov atom not found", ...) would break the one-line error the CLI
# promises; the decoder's failures are reported through our own messages instead.
os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")  # AV_LOG_QUIET

#: OpenCV's log level "errors only" (its enum: 0 silent, 1 fatal, 2 error, 3 warning, ...).
OPENCV_LOG_ERROR = 2
#: Frame rate assumed when the container does not state a usable one.
FALLBACK_FPS = 25.0
#: Container frame rates outside this range are treated as unstated.
PLAUSIBLE_FPS = (1.0, 1000.0)
#: Seconds allowed to the FFmpeg binary to describe an unreadable file.
PROBE_TIMEOUT_S = 20.0
#: Frames decoded ahead of the consumer: enough to absorb jitter, small enough for memory.
PREFETCH_FRAMES = 8


@dataclass(frozen=True)
class VideoInfo:
    """What the container says about a video.

    Attributes:
        path: The file.
        width: Frame width in pixels (after the container's rotation is applied).
        height: Frame height in pixels.
        fps: Nominal frame rate (:data:`FALLBACK_FPS` when the file states none).
        n_frames: Frame count stated by the container; an estimate, 0 when unknown.
    """

    path: Path
    width: int
    height: int
    fps: float
    n_frames: int


def _open(path: Path):  # -> cv2.VideoCapture
    """Open ``path`` for decoding, or raise a one-line :class:`InvalidInputError`."""
    import cv2

    # OpenCV logs its own warning for an unreadable file; the error below says it in one line.
    cv2.setLogLevel(OPENCV_LOG_ERROR)
    if not path.exists():
        raise InvalidInputError(f"{path}: no such file")
    if not path.is_file():
        raise InvalidInputError(f"{path}: not a file")
    capture = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)
    if not capture.isOpened():
        raise InvalidInputError(f"{path}: {_why_unreadable(path)}")
    return capture


def _why_unreadable(path: Path) -> str:
    """Ask the FFmpeg binary why OpenCV could not open ``path``: the reason, in words."""
    import subprocess

    import imageio_ffmpeg

    try:
        probe = subprocess.run(
            [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-i", str(path)],
            capture_output=True,
            text=True,
            timeout=PROBE_TIMEOUT_S,
        )
        text = probe.stderr
    except (OSError, subprocess.SubprocessError, RuntimeError):
        text = ""
    if "Duration:" in text and "Video:" not in text:
        return "the file holds no video frames (a 0-frame or audio-only file)"
    if "Video:" in text:
        return (
            "cannot decode its video stream (an unsupported codec, or no frames); convert it "
            "with e.g. `ffmpeg -i IN -c:v libx264 OUT.mp4`"
        )
    return "cannot read this file as a video (not a video, or corrupt)"


def _stated_fps(value: float, path: Path) -> float:
    if math.isfinite(value) and PLAUSIBLE_FPS[0] <= value <= PLAUSIBLE_FPS[1]:
        return float(value)
    log.warning("%s: no usable frame rate in the container; assuming %g fps", path, FALLBACK_FPS)
    return FALLBACK_FPS


def probe_video(path: str | os.PathLike[str]) -> VideoInfo:
    """Read a video's size, frame rate and stated frame count without decoding it.

    Raises:
        InvalidInputError: The file is missing or is not a readable video.
    """
    import cv2

    path = Path(path)
    capture = _open(path)
    try:
        info = VideoInfo(
            path=path,
            width=int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)),
            height=int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT)),
            fps=_stated_fps(capture.get(cv2.CAP_PROP_FPS), path),
            n_frames=max(0, int(capture.get(cv2.CAP_PROP_FRAME_COUNT))),
        )
    finally:
        capture.release()
    if info.width <= 0 or info.height <= 0:
        raise InvalidInputError(f"{path}: the video stream has no picture (0x0 frames)")
    return info


def _decode(path: Path, max_side: int | None) -> Iterator[tuple[np.ndarray, float]]:
    """Yield ``(rgb_frame, timestamp_s)`` pairs, decoding in the calling thread."""
    import cv2

    capture = _open(path)
    try:
        while True:
            ok, bgr = capture.read()
            if not ok or bgr is None:
                return
            stamp = capture.get(cv2.CAP_PROP_POS_MSEC) / 1000.0
            height, width = bgr.shape[:2]
            if max_side is not None and max(height, width) > max_side:
                # Shrink before colour conversion and before MediaPipe copies the frame: the
                # landmark model sees a 192 px face crop anyway.
                ratio = max_side / max(height, width)
                size = (max(1, round(width * ratio)), max(1, round(height * ratio)))
                bgr = cv2.resize(bgr, size, interpolation=cv2.INTER_AREA)
            yield cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), stamp
    finally:
        capture.release()


_END = object()


def iter_frames(
    path: str | os.PathLike[str], max_side: int | None = None, prefetch: bool = True
) -> Iterator[tuple[np.ndarray, float]]:
    """Stream a video's frames as RGB arrays, decoding ahead in a background thread.

    Args:
        path: The video file.
        max_side: Frames whose longer side exceeds this are shrunk to it (aspect kept).
        prefetch: Decode in a background thread (``False``: decode in the caller's thread).

    Yields:
        ``(frame, timestamp_s)``: ``(H, W, 3) uint8`` RGB and the decoder's presentation
        time in seconds (0 when the container gives none).

    Raises:
        InvalidInputError: The file is missing or is not a readable video.
    """
    path = Path(path)
    if not prefetch:
        yield from _decode(path, max_side)
        return
    _open(path).release()  # fail here, in the caller's thread, with the one-line error
    buffer: queue.Queue = queue.Queue(maxsize=PREFETCH_FRAMES)
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in _decode(path, max_side):
                while not stop.is_set():
                    try:
                        buffer.put(item, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            buffer.put(_END)
        except BaseException as error:  # handed to the consumer, which re-raises it
            buffer.put(error)

    worker = threading.Thread(target=produce, name=f"decode:{path.name}", daemon=True)
    worker.start()
    try:
        while True:
            item = buffer.get()
            if item is _END:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        # Drain so a producer blocked on a full queue sees the stop flag and exits.
        while worker.is_alive():
            try:
                buffer.get(timeout=0.05)
            except queue.Empty:
                pass
        worker.join()
