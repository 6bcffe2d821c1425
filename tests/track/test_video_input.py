"""Decoding, face following and bad input: clear one-line errors or flagged results."""

from __future__ import annotations

import json

import cv2
import imageio_ffmpeg
import numpy as np
import pytest
from typer.testing import CliRunner

from tdmm_lm.cli import app
from tdmm_lm.errors import InvalidInputError
from tdmm_lm.face import FaceModel
from tdmm_lm.render import PhotoRenderer
from tdmm_lm.track import LandmarkConfig, TrackConfig, fit_video, track_landmarks
from tdmm_lm.track.video import iter_frames, probe_video

runner = CliRunner()
FACE_PX = 256


@pytest.fixture(scope="module")
def face() -> np.ndarray:
    """One neutral photo-style face, (256, 256, 3) uint8 RGB."""
    params = np.zeros((1, 61), np.float32)
    return next(PhotoRenderer(FaceModel(), FACE_PX).frames(params))


def write(path, frames, fps=25.0, codec="libx264"):
    frames = list(frames)
    h, w = frames[0].shape[:2]
    writer = imageio_ffmpeg.write_frames(
        str(path), (w, h), fps=fps, codec=codec, macro_block_size=1, ffmpeg_log_level="error"
    )
    writer.send(None)
    for f in frames:
        writer.send(np.ascontiguousarray(f))
    writer.close()
    return path


@pytest.mark.parametrize(
    "suffix,codec",
    [("mp4", "libx264"), ("mov", "libx264"), ("webm", "libvpx-vp9"), ("avi", "mjpeg")],
)
def test_common_containers_decode_and_track(tmp_path, face, suffix, codec):
    path = write(tmp_path / f"face.{suffix}", [face] * 8, fps=30.0, codec=codec)
    info = probe_video(path)
    assert (info.width, info.height, info.fps) == (FACE_PX, FACE_PX, 30.0)
    track = track_landmarks(path)
    assert track.n_frames == 8 and track.found.all()
    assert track.points.shape == (8, 478, 3)


def test_frames_stream_and_shrink(tmp_path, face):
    path = write(tmp_path / "face.mp4", [face] * 5)
    frames = iter_frames(path, max_side=128)
    first, stamp = next(frames)  # a generator: decoding happens as frames are asked for
    assert first.shape == (128, 128, 3) and first.dtype == np.uint8 and stamp == 0.0
    assert len(list(frames)) == 4


def test_output_is_resampled_to_the_target_rate(tmp_path, face):
    path = write(tmp_path / "face.mp4", [face] * 30, fps=30.0)
    sequence, report = fit_video(path, TrackConfig(fps=25.0))
    assert sequence.fps == 25.0 and sequence.n_frames == 25
    assert report.fps == 30.0 and len(report.frame_confidence) == 25
    assert sequence.meta["tracker_version"] and sequence.meta["source"] == str(path)
    # A still neutral face reads as neutral.
    assert sequence.params[:, :52].max() < 0.15


def one_line_error(args, capsys, monkeypatch) -> str:
    import sys

    from tdmm_lm.cli import main

    monkeypatch.setattr(sys, "argv", ["tdmm", *map(str, args)])
    with pytest.raises(SystemExit) as exit_info:
        main()
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err, err
    return err


def test_missing_file(tmp_path, capsys, monkeypatch):
    err = one_line_error(
        ["fit", tmp_path / "nope.mp4", "-o", tmp_path / "o.npz"], capsys, monkeypatch
    )
    assert "no such file" in err


def test_not_a_video(tmp_path, capsys, monkeypatch):
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"not a video" * 100)
    err = one_line_error(["fit", bad, "-o", tmp_path / "o.npz"], capsys, monkeypatch)
    assert "cannot read" in err


def test_zero_frame_video(tmp_path, capsys, monkeypatch):
    import subprocess

    empty = tmp_path / "empty.mp4"
    subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-loglevel", "error", "-f", "lavfi", "-i",
         "color=c=black:s=64x64:r=25", "-frames:v", "0", "-c:v", "libx264", str(empty)],
        check=True,
    )  # fmt: skip
    err = one_line_error(["fit", empty, "-o", tmp_path / "o.npz"], capsys, monkeypatch)
    assert "no video frames" in err


def test_video_without_a_face(tmp_path, capsys, monkeypatch):
    noise = np.random.default_rng(0).integers(0, 255, (10, 96, 128, 3), dtype=np.uint8)
    path = write(tmp_path / "noise.mp4", noise)
    err = one_line_error(["fit", path, "-o", tmp_path / "o.npz"], capsys, monkeypatch)
    assert err == f"error: no face found in {path}"


def test_flame_is_refused_with_the_reason(tmp_path, face, capsys, monkeypatch):
    path = write(tmp_path / "face.mp4", [face] * 3)
    err = one_line_error(
        ["fit", path, "-o", tmp_path / "o.npz", "--space", "flame"], capsys, monkeypatch
    )
    assert "FLAME model" in err and "arkit" in err


def slide_out_and_back(face: np.ndarray, n: int = 60) -> list[np.ndarray]:
    """The face slides right out of a wider frame and comes back."""
    canvas_w = 2 * FACE_PX
    offsets = np.concatenate(
        [
            np.linspace(FACE_PX // 2, canvas_w, n // 2),
            np.linspace(canvas_w, FACE_PX // 2, n - n // 2),
        ]
    )
    frames = []
    for x in offsets.round().astype(int):
        canvas = np.full((FACE_PX, canvas_w, 3), 90, np.uint8)
        visible = max(0, min(FACE_PX, canvas_w - x))
        canvas[:, x : x + visible] = face[:, :visible]
        frames.append(canvas)
    return frames


def test_face_leaving_the_frame_is_flagged_not_fatal(tmp_path, face):
    path = write(tmp_path / "leaving.mp4", slide_out_and_back(face))
    sequence, report = fit_video(path)
    assert 0.3 < report.tracked_fraction < 1.0
    reasons = {span[2] for span in report.flagged_spans}
    assert "no_face" in reasons
    start, end = min(s[0] for s in report.flagged_spans), max(s[1] for s in report.flagged_spans)
    assert 0.4 < start < end < 2.4
    assert np.isfinite(sequence.params).all() and sequence.n_frames == 60
    confidence = np.array(report.frame_confidence)
    assert confidence[:5].min() > 0.5 and confidence[28:32].max() == 0.0


def test_follows_the_largest_face_or_the_chosen_one(tmp_path, face):
    small = cv2.resize(face, (FACE_PX // 2 + 32, FACE_PX // 2 + 32))
    canvas = np.full((FACE_PX, 2 * FACE_PX, 3), 90, np.uint8)
    canvas[:, FACE_PX:] = face  # the large face, on the right
    canvas[40 : 40 + small.shape[0], 40 : 40 + small.shape[1]] = small
    path = write(tmp_path / "two.mp4", [canvas] * 6)
    largest = track_landmarks(path)
    assert largest.n_faces.max() == 2
    assert largest.points[largest.found, :, 0].mean() > FACE_PX  # right half
    left = track_landmarks(path, LandmarkConfig(face_index=0))
    assert left.points[left.found, :, 0].mean() < FACE_PX


def test_cli_writes_sequence_and_report(tmp_path, face):
    path = write(tmp_path / "face.mp4", [face] * 10)
    out, qa = tmp_path / "out.npz", tmp_path / "qa.json"
    result = runner.invoke(app, ["fit", str(path), "-o", str(out), "--report", str(qa)])
    assert result.exit_code == 0, result.output
    report = json.loads(qa.read_text())
    assert report["tracked_fraction"] == 1.0
    assert set(report["reprojection_error"]) >= {"mean", "p95"}
    assert {"jitter", "flagged_spans"} <= set(report)
    from tdmm_lm.face import FaceSequence

    assert FaceSequence.load(out).space == "arkit"


def test_cli_batch_over_a_folder(tmp_path, face):
    videos = tmp_path / "videos"
    videos.mkdir()
    write(videos / "a.mp4", [face] * 6)
    write(videos / "b.mov", [face] * 6)
    (videos / "broken.avi").write_bytes(b"junk")
    (videos / "notes.txt").write_text("not a video")
    result = runner.invoke(app, ["fit", str(videos), "-o", str(tmp_path / "out"), "--workers", "2"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "out" / "a.npz").is_file() and (tmp_path / "out" / "b.qa.json").is_file()
    assert not (tmp_path / "out" / "broken.npz").exists()
    assert "wrote 2 of 3" in result.output


def test_bad_option_is_a_user_error(tmp_path, face):
    path = write(tmp_path / "face.mp4", [face] * 3)
    with pytest.raises(InvalidInputError):
        fit_video(path, TrackConfig(fps=25.0, space="flame"))
