"""Write rendered frames to a video file: H.264 ``.mp4`` or animated ``.gif``.

Frames are streamed to the ffmpeg binary bundled with ``imageio-ffmpeg`` one at a time, so
memory does not grow with the length of the video. The file appears atomically: it is
encoded into a hidden temporary file beside the target and renamed over it at the end, so a
crash never leaves a truncated video under the target's name.
"""

from __future__ import annotations

import itertools
import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

import cv2
import numpy as np

from tdmm_lm.errors import InvalidInputError

__all__ = ["VIDEO_SUFFIXES", "write_video"]

VIDEO_SUFFIXES = (".mp4", ".gif")

# x264 constant-quality factor: 18 is visually lossless for flat-shaded renders and keeps a
# 512 px, 10 s clip around a megabyte.
H264_CRF = 18
H264_PRESET = "medium"
# Players want yuv420p for H.264, and 4:2:0 chroma needs even width and height.
H264_PIXEL_FORMAT = "yuv420p"
# One palette per frame keeps the GIF streamable (no second pass over all frames) and its
# colours faithful (no global 256-colour compromise).
GIF_FILTER = "split[a][b];[a]palettegen=stats_mode=single[p];[b][p]paletteuse=new=1"
FFMPEG_LOG_LEVEL = "error"


def _as_rgb(frame: np.ndarray, index: int) -> np.ndarray:
    """Check one frame and return it as a contiguous ``(H, W, 3) uint8`` RGB array."""
    frame = np.asarray(frame)
    if frame.dtype != np.uint8:
        raise InvalidInputError(f"video frame {index} must be uint8, got {frame.dtype}")
    if frame.ndim == 2:
        frame = np.repeat(frame[:, :, None], 3, axis=2)
    elif frame.ndim == 3 and frame.shape[2] == 4:
        frame = frame[:, :, :3]  # alpha has no place in mp4 or (opaque) gif
    if frame.ndim != 3 or frame.shape[2] != 3 or min(frame.shape[:2]) == 0:
        raise InvalidInputError(
            f"video frame {index} must be (H, W, 3) RGB, (H, W, 4) RGBA or (H, W) grey, "
            f"got shape {frame.shape}"
        )
    return np.ascontiguousarray(frame)


def _pad_to_even(frame: np.ndarray) -> np.ndarray:
    """Repeat the last row / column if needed so both sides are even (no resampling)."""
    h, w = frame.shape[:2]
    if h % 2 == 0 and w % 2 == 0:
        return frame
    return cv2.copyMakeBorder(frame, 0, h % 2, 0, w % 2, cv2.BORDER_REPLICATE)


def _encode(frames: Iterator[np.ndarray], path: str, fps: float, suffix: str) -> int:
    """Stream ``frames`` into ``path`` with ffmpeg; return the number of frames written."""
    import imageio_ffmpeg  # imported here: only needed when writing

    first = next(frames, None)
    if first is None:
        raise InvalidInputError("no frames to write: the frame sequence is empty")
    first = _as_rgb(first, 0)
    size_hw = first.shape[:2]
    mp4 = suffix == ".mp4"
    if mp4:
        codec, pix_fmt, params = "libx264", H264_PIXEL_FORMAT, ["-crf", str(H264_CRF)]
        params += ["-preset", H264_PRESET]
    else:  # the GIF encoder takes any size
        codec, pix_fmt, params = "gif", "pal8", ["-vf", GIF_FILTER]
    out_hw = _pad_to_even(first).shape[:2] if mp4 else size_hw
    writer = imageio_ffmpeg.write_frames(
        path,
        (out_hw[1], out_hw[0]),
        fps=fps,
        quality=None,  # set by the codec parameters instead
        macro_block_size=1,  # sizes are made valid here, never by ffmpeg rescaling
        ffmpeg_log_level=FFMPEG_LOG_LEVEL,
        codec=codec,
        pix_fmt_out=pix_fmt,
        output_params=params,
    )
    writer.send(None)  # start ffmpeg
    count = 0
    try:
        for count, raw in enumerate(itertools.chain([first], frames), start=1):
            frame = _as_rgb(raw, count - 1)
            if frame.shape[:2] != size_hw:
                raise InvalidInputError(
                    f"video frame {count - 1} is {frame.shape[1]}x{frame.shape[0]} px, but "
                    f"the first is {size_hw[1]}x{size_hw[0]}; all frames must share a size"
                )
            writer.send(_pad_to_even(frame) if mp4 else frame)
    finally:
        writer.close()  # flushes and waits for ffmpeg
    return count


def write_video(frames: Iterable[np.ndarray], path: str | os.PathLike[str], fps: float) -> Path:
    """Encode frames to ``path``: H.264 ``.mp4`` or animated ``.gif``, chosen by suffix.

    Frames are consumed one at a time (a generator is fine). Odd-sized frames get their
    last row or column repeated for mp4, whose yuv420p needs even sides.

    Args:
        frames: ``(H, W, 3) uint8`` RGB frames (``(H, W)`` grey and ``(H, W, 4)`` RGBA are
            accepted too), all of one size.
        path: Target file; an existing file is replaced atomically.
        fps: Frames per second, > 0.

    Returns:
        ``path`` as a :class:`~pathlib.Path`.

    Raises:
        InvalidInputError: Unknown suffix, missing directory, bad ``fps``, no frames, or a
            frame of the wrong dtype, shape or size.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in VIDEO_SUFFIXES:
        raise InvalidInputError(
            f"cannot write video {path}: unknown suffix {path.suffix!r}; "
            f"use one of {', '.join(VIDEO_SUFFIXES)}"
        )
    if not (np.isfinite(fps) and fps > 0):
        raise InvalidInputError(f"cannot write video {path}: fps must be > 0, got {fps}")
    if not path.parent.is_dir():
        raise InvalidInputError(
            f"cannot write video {path}: directory {path.parent} does not exist; create it first"
        )
    # Same directory (so os.replace is atomic), same suffix (so ffmpeg picks the format).
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=f".tmp{suffix}", dir=path.parent)
    os.close(fd)
    try:
        _encode(iter(frames), tmp, float(fps), suffix)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
