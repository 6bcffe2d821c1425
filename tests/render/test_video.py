"""Writing frames to mp4 and gif: round trips, atomic replacement, input errors."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest

from tdmm_lm.errors import InvalidInputError
from tdmm_lm.render.video import write_video

N_FRAMES = 10


def frames(height: int = 48, width: int = 64, n: int = N_FRAMES) -> Iterator[np.ndarray]:
    """A bright square moving right over a dark gradient, generated lazily."""
    ramp = np.linspace(0, 80, width, dtype=np.float32)
    for i in range(n):
        frame = np.repeat(np.broadcast_to(ramp, (height, width))[..., None], 3, axis=2)
        frame = frame.astype(np.uint8)
        frame[10:26, 4 + 3 * i : 20 + 3 * i] = (240, 200, 40)
        yield frame


def only_file(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


@pytest.mark.parametrize("suffix", [".mp4", ".gif"])
def test_round_trip(tmp_path: Path, suffix: str) -> None:
    path = write_video(frames(), tmp_path / f"clip{suffix}", fps=25)
    assert path == tmp_path / f"clip{suffix}"
    assert only_file(tmp_path) == [f"clip{suffix}"]  # no temporary file left behind
    back = iio.imread(path, index=None)
    assert back.shape == (N_FRAMES, 48, 64, 3)
    original = np.stack(list(frames())).astype(int)
    # Lossy codecs: compare the mean colour of each frame and of the moving square.
    np.testing.assert_allclose(back.mean(axis=(1, 2, 3)), original.mean(axis=(1, 2, 3)), atol=3)
    np.testing.assert_allclose(back[:, 12:24, 10, 0], original[:, 12:24, 10, 0], atol=25)


def test_odd_sizes_are_padded_to_even_for_mp4(tmp_path: Path) -> None:
    path = write_video(frames(height=45, width=63), tmp_path / "odd.mp4", fps=10)
    back = iio.imread(path, index=None)
    assert back.shape == (N_FRAMES, 46, 64, 3)


def test_existing_file_is_replaced(tmp_path: Path) -> None:
    target = tmp_path / "clip.gif"
    target.write_bytes(b"old")
    write_video(frames(n=3), target, fps=5)
    assert iio.imread(target, index=None).shape[0] == 3


def test_grey_frames_are_accepted(tmp_path: Path) -> None:
    grey = (f[..., 0] for f in frames(n=4))
    back = iio.imread(write_video(grey, tmp_path / "grey.mp4", fps=8), index=None)
    assert back.shape == (4, 48, 64, 3)


@pytest.mark.parametrize(
    ("name", "fps", "match"),
    [("clip.avi", 25, "unknown suffix"), ("clip", 25, "unknown suffix"), ("clip.mp4", 0, "fps")],
)
def test_bad_arguments(tmp_path: Path, name: str, fps: float, match: str) -> None:
    with pytest.raises(InvalidInputError, match=match):
        write_video(frames(), tmp_path / name, fps=fps)
    assert only_file(tmp_path) == []


def test_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="does not exist"):
        write_video(frames(), tmp_path / "nope" / "clip.mp4", fps=25)


def test_empty_and_bad_frames_leave_nothing_behind(tmp_path: Path) -> None:
    target = tmp_path / "clip.mp4"
    with pytest.raises(InvalidInputError, match="empty"):
        write_video(iter([]), target, fps=25)
    mixed = [*frames(n=3), np.zeros((20, 20, 3), np.uint8)]
    with pytest.raises(InvalidInputError, match="share a size"):
        write_video(mixed, target, fps=25)
    with pytest.raises(InvalidInputError, match="uint8"):
        write_video([np.zeros((8, 8, 3), np.float32)], target, fps=25)
    assert only_file(tmp_path) == []
