from __future__ import annotations

import json

import numpy as np
import pytest

from tdmm_lm.errors import InvalidInputError
from tdmm_lm.face import ARKIT, FLAME, FaceSequence, UnknownSpaceError, load_sequence
from tdmm_lm.face.sequence import RANGE_TOLERANCE


def write_npz(path, **overrides) -> None:
    """Write a sequence archive by hand, with any key replaced or (value None) dropped."""
    arrays = {
        "params": np.zeros((4, ARKIT.dim), dtype=np.float32),
        "space": np.array("arkit"),
        "fps": np.array(30.0),
        "channels": np.array(ARKIT.channels),
        "meta": np.array("{}"),
    }
    arrays.update(overrides)
    np.savez(path, **{k: v for k, v in arrays.items() if v is not None})


# -- round trip and properties ------------------------------------------------------------------


@pytest.mark.parametrize("space", ["arkit", "flame"])
def test_npz_round_trip_is_exact(tmp_path, make_sequence, space):
    seq = make_sequence(n_frames=17, space=space, fps=24.0, meta={"prompt": "smile", "k": [1, 2]})
    path = tmp_path / "seq.npz"
    seq.save(path)
    back = FaceSequence.load(path)
    assert back.params.dtype == np.float32
    np.testing.assert_array_equal(back.params, seq.params)
    assert (back.space, back.fps, back.meta) == (space, 24.0, {"prompt": "smile", "k": [1, 2]})
    assert not list(tmp_path.glob(".*.tmp")), "the temporary file must be renamed away"
    with np.load(path, allow_pickle=False) as archive:
        assert list(archive["channels"]) == list(seq.channels)
        assert json.loads(str(archive["meta"])) == seq.meta


def test_info_and_properties(make_sequence):
    seq = make_sequence(n_frames=50, fps=25.0, meta={"prompt": "nod"})
    info = seq.info()
    assert info == {
        "frames": 50,
        "fps": 25.0,
        "space": "arkit",
        "channels": list(ARKIT.channels),
        "seconds": 2.0,
        "meta": {"prompt": "nod"},
    }
    json.dumps(info)
    assert len(seq) == seq.n_frames == 50
    assert seq.space_def is ARKIT
    np.testing.assert_array_equal(seq.channel("jawOpen"), seq.params[:, 17])
    with pytest.raises(InvalidInputError, match="jawOpn"):
        seq.channel("jawOpn")


def test_with_params_keeps_space_fps_meta_and_validates(make_sequence):
    seq = make_sequence(fps=50.0, meta={"a": 1})
    zeros = seq.with_params(np.zeros_like(seq.params))
    assert (zeros.space, zeros.fps, zeros.meta) == ("arkit", 50.0, {"a": 1})
    with pytest.raises(InvalidInputError):
        seq.with_params(np.full_like(seq.params, 7.0))


# -- validation -----------------------------------------------------------------------------


def test_validation_errors_name_the_problem():
    good = np.zeros((5, ARKIT.dim), dtype=np.float32)
    with pytest.raises(InvalidInputError, match="shape"):
        FaceSequence(np.zeros(ARKIT.dim))
    with pytest.raises(InvalidInputError, match="60 channels"):
        FaceSequence(np.zeros((5, 60)))
    nan = good.copy()
    nan[[2, 3], ARKIT.index("jawOpen")] = np.nan
    with pytest.raises(InvalidInputError, match=r"2 frames have NaN.*frame 2 in channel jawOpen"):
        FaceSequence(nan)
    high = good.copy()
    high[4, ARKIT.index("mouthSmileLeft")] = 1.5
    with pytest.raises(InvalidInputError, match=r"frame 4: channel mouthSmileLeft = 1\.5"):
        FaceSequence(high)
    with pytest.raises(InvalidInputError, match="fps"):
        FaceSequence(good, fps=0)
    with pytest.raises(UnknownSpaceError, match="valid spaces"):
        FaceSequence(good, space="smplx")
    with pytest.raises(InvalidInputError, match="JSON"):
        FaceSequence(good, meta={"bad": object()})


def test_tiny_range_excursions_are_clipped():
    params = np.zeros((2, ARKIT.dim), dtype=np.float32)
    params[0, 0] = 1.0 + RANGE_TOLERANCE / 2
    params[1, 0] = -RANGE_TOLERANCE / 2
    seq = FaceSequence(params)
    assert seq.params[0, 0] == 1.0 and seq.params[1, 0] == 0.0


# -- bad files ------------------------------------------------------------------------------


def test_load_rejects_wrong_channel_count(tmp_path):
    path = tmp_path / "narrow.npz"
    write_npz(path, params=np.zeros((4, 60), dtype=np.float32))
    with pytest.raises(InvalidInputError, match=r"narrow\.npz: params has shape \(4, 60\)"):
        FaceSequence.load(path)


def test_load_rejects_nan(tmp_path):
    params = np.zeros((4, ARKIT.dim), dtype=np.float32)
    params[1:, ARKIT.index("jawOpen")] = np.nan
    path = tmp_path / "x.npz"
    write_npz(path, params=params)
    with pytest.raises(InvalidInputError, match=r"x\.npz: 3 frames have NaN.*channel jawOpen"):
        load_sequence(path)


def test_load_rejects_out_of_range(tmp_path):
    params = np.zeros((4, ARKIT.dim), dtype=np.float32)
    params[3, ARKIT.index("headYaw")] = 4.0
    path = tmp_path / "far.npz"
    write_npz(path, params=params)
    with pytest.raises(InvalidInputError, match=r"far\.npz: .*frame 3: channel headYaw = 4"):
        load_sequence(path)


def test_load_rejects_unknown_space(tmp_path):
    path = tmp_path / "space.npz"
    write_npz(path, space=np.array("smplx"))
    with pytest.raises(InvalidInputError, match=r"space\.npz: unknown parameter space 'smplx'"):
        load_sequence(path)


def test_load_rejects_truncated_file(tmp_path, make_sequence):
    path = tmp_path / "cut.npz"
    make_sequence(n_frames=40).save(path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(InvalidInputError, match=r"cut\.npz: cannot read"):
        load_sequence(path)


def test_load_rejects_renamed_or_mismatched_channels(tmp_path):
    channels = list(ARKIT.channels)
    channels[17] = "mouthOpen"
    path = tmp_path / "names.npz"
    write_npz(path, channels=np.array(channels))
    with pytest.raises(InvalidInputError, match=r"names\.npz: channel 17 is named 'mouthOpen'"):
        load_sequence(path)


def test_load_rejects_missing_keys_pickles_and_missing_files(tmp_path):
    path = tmp_path / "nometa.npz"
    write_npz(path, meta=None)
    with pytest.raises(InvalidInputError, match=r"nometa\.npz: missing keys meta"):
        load_sequence(path)
    pickled = tmp_path / "pickled.npz"
    write_npz(pickled, meta=np.array([{"evil": 1}], dtype=object))
    with pytest.raises(InvalidInputError, match=r"pickled\.npz"):
        load_sequence(pickled)
    with pytest.raises(InvalidInputError, match=r"absent\.npz: no such file"):
        load_sequence(tmp_path / "absent.npz")
    with pytest.raises(InvalidInputError, match=r"clip\.bvh: cannot read files with '\.bvh'"):
        load_sequence(tmp_path / "clip.bvh")


# -- resampling -----------------------------------------------------------------------------


def ramp_sequence(n_frames: int, fps: float) -> FaceSequence:
    """jawOpen and headYaw rise linearly with time; everything else is zero."""
    params = np.zeros((n_frames, ARKIT.dim), dtype=np.float32)
    times = np.arange(n_frames) / fps
    params[:, ARKIT.index("jawOpen")] = times / times[-1]
    params[:, ARKIT.index("headYaw")] = 0.5 * times / times[-1] - 0.25
    return FaceSequence(params, fps=fps)


@pytest.mark.parametrize(("source_fps", "target_fps"), [(60.0, 25.0), (25.0, 60.0), (30.0, 24.0)])
def test_resample_preserves_duration_and_linear_ramps(source_fps, target_fps):
    seq = ramp_sequence(int(source_fps * 2), source_fps)
    out = seq.resample(target_fps)
    assert out.fps == target_fps
    assert out.n_frames == round(2 * target_fps)
    assert out.seconds == pytest.approx(seq.seconds)
    last_source_time = (seq.n_frames - 1) / source_fps
    times = np.arange(out.n_frames) / target_fps
    inside = times <= last_source_time  # later frames hold the last value
    expected = times / last_source_time
    np.testing.assert_allclose(out.channel("jawOpen")[inside], expected[inside], atol=1e-6)
    np.testing.assert_allclose(
        out.channel("headYaw")[inside], 0.5 * expected[inside] - 0.25, atol=1e-6
    )
    np.testing.assert_allclose(out.channel("jawOpen")[~inside], 1.0, atol=1e-6)


def test_resample_to_same_rate_is_identity(make_sequence):
    seq = make_sequence(fps=30.0)
    np.testing.assert_array_equal(seq.resample(30.0).params, seq.params)


def quaternion(rotvec: np.ndarray) -> np.ndarray:
    """Unit quaternion (w, x, y, z) of an axis-angle vector."""
    angle = np.linalg.norm(rotvec)
    return np.concatenate([[np.cos(angle / 2)], np.sin(angle / 2) * rotvec / angle])


def test_resample_slerps_axis_angle_groups():
    # Two key frames, one second apart: the jaw turns from 1 rad about x to 1 rad about y.
    start, end = np.array([1.0, 0.0, 0.0]), np.array([0.0, 1.0, 0.0])
    params = np.zeros((2, FLAME.dim), dtype=np.float32)
    jaw = slice(FLAME.index("jawX"), FLAME.index("jawZ") + 1)
    params[0, jaw], params[1, jaw] = start, end
    params[:, FLAME.index("exp00")] = [0.0, 2.0]
    out = FaceSequence(params, space="flame", fps=1.0).resample(2.0)
    assert out.n_frames == 4
    # Frame 1 is halfway: slerp of unit quaternions is their normalised sum at t = 1/2.
    q0, q1 = quaternion(start), quaternion(end)
    half = (q0 + q1) / np.linalg.norm(q0 + q1)
    angle = 2 * np.arccos(half[0])
    expected = angle * half[1:] / np.linalg.norm(half[1:])
    np.testing.assert_allclose(out.params[1, jaw], expected, atol=1e-5)
    assert not np.allclose(out.params[1, jaw], (start + end) / 2, atol=1e-3)
    np.testing.assert_allclose(out.params[0, jaw], start, atol=1e-6)
    np.testing.assert_allclose(out.params[2, jaw], end, atol=1e-6)
    np.testing.assert_allclose(out.channel("exp00"), [0.0, 1.0, 2.0, 2.0], atol=1e-6)


# -- slicing and concat ---------------------------------------------------------------------


def test_frame_and_time_slicing(make_sequence):
    seq = make_sequence(n_frames=30, fps=10.0)
    part = seq[5:15]
    np.testing.assert_array_equal(part.params, seq.params[5:15])
    assert (part.fps, part.meta) == (10.0, seq.meta)
    every_other = seq[::2]
    assert (every_other.n_frames, every_other.fps) == (15, 5.0)
    by_time = seq.slice_seconds(0.5, 1.5)
    np.testing.assert_array_equal(by_time.params, seq.params[5:15])
    assert seq.slice_seconds(2.0).n_frames == 10
    with pytest.raises(InvalidInputError):
        seq.slice_seconds(1.0, 0.5)
    with pytest.raises(InvalidInputError):
        seq[::-1]
    with pytest.raises(TypeError):
        seq[3]


def test_concat(make_sequence):
    a, b = make_sequence(n_frames=10, seed=1), make_sequence(n_frames=7, seed=2)
    joined = FaceSequence.concat([a, b])
    assert joined.n_frames == 17
    np.testing.assert_array_equal(joined.params, np.concatenate([a.params, b.params]))
    with pytest.raises(InvalidInputError, match="fps"):
        FaceSequence.concat([a, make_sequence(fps=60.0)])
    with pytest.raises(InvalidInputError, match="space"):
        FaceSequence.concat([a, make_sequence(space="flame")])
    with pytest.raises(InvalidInputError):
        FaceSequence.concat([])
