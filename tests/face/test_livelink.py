from __future__ import annotations

import csv
import random

import numpy as np
import pytest

from tdmm_lm.errors import InvalidInputError
from tdmm_lm.face import ARKIT, FaceSequence, load_sequence, save_sequence
from tdmm_lm.face.livelink import (
    LIVELINK_CHANNELS,
    LIVELINK_HEADER,
    META_TIMECODE_RATE,
    META_TIMECODE_START,
    read_livelink_csv,
    write_livelink_csv,
)


def take_rows(timecodes: list[str], seed: int = 0) -> list[list[str]]:
    """Rows like Live Link writes: blendshapes in [0, 1], rotations in [-0.3, 0.3]."""
    rng = random.Random(seed)
    return [
        [timecode, "61"]
        + [f"{rng.random():.4f}" for _ in range(52)]
        + [f"{rng.uniform(-0.3, 0.3):.4f}" for _ in range(9)]
        for timecode in timecodes
    ]


def write_take(path, rows: list[list[str]], header=LIVELINK_HEADER) -> None:
    path.write_text("\n".join(",".join(row) for row in [list(header), *rows]) + "\n")


def read_table(path) -> list[list[str]]:
    with open(path, newline="") as handle:
        return list(csv.reader(handle))


def test_csv_npz_csv_round_trip(tmp_path):
    rows = take_rows([f"10:00:00:{frame:02d}.000" for frame in range(60)])
    write_take(tmp_path / "take.csv", rows)
    seq = load_sequence(tmp_path / "take.csv")
    assert (seq.n_frames, seq.fps, seq.space) == (60, 60.0, "arkit")
    assert seq.meta == {META_TIMECODE_START: "10:00:00:00.000", META_TIMECODE_RATE: 60}

    save_sequence(seq, tmp_path / "take.npz")
    save_sequence(load_sequence(tmp_path / "take.npz"), tmp_path / "back.csv")
    back = read_table(tmp_path / "back.csv")
    assert back[0] == list(LIVELINK_HEADER)
    assert len(back) == len(rows) + 1
    for original, written in zip(rows, back[1:], strict=True):
        assert written[:2] == original[:2]  # timecode and BlendShapeCount
        np.testing.assert_allclose(
            np.array(written[2:], dtype=float), np.array(original[2:], dtype=float), atol=1e-4
        )


def test_header_is_case_insensitive_reordered_and_extra_columns_ignored(tmp_path):
    rows = take_rows(["00:00:01:00.000", "00:00:01:01.000"])
    header = ["Timecode", "BlendShapeCount", *(name.lower() for name in LIVELINK_CHANNELS)]
    order = [0, 1, *reversed(range(2, len(header)))]
    write_take(
        tmp_path / "odd.csv",
        [[row[i] for i in order] + ["junk"] for row in rows],
        header=[header[i] for i in order] + ["Comment"],
    )
    seq = read_livelink_csv(tmp_path / "odd.csv")
    np.testing.assert_allclose(seq.params[1], np.array(rows[1][2:], dtype=float), atol=1e-6)


def test_missing_columns_are_listed(tmp_path):
    header = [name for name in LIVELINK_HEADER if name not in ("JawOpen", "HeadRoll")]
    write_take(tmp_path / "partial.csv", [["00:00:00:00.000", "59"] + ["0"] * 59], header)
    with pytest.raises(
        InvalidInputError, match=r"partial\.csv: .*missing 2 columns: JawOpen, HeadRoll"
    ):
        read_livelink_csv(tmp_path / "partial.csv")


def test_bad_rows_name_the_line(tmp_path):
    rows = take_rows([f"00:00:00:{frame:02d}.000" for frame in range(4)])
    short = [row.copy() for row in rows]
    short[2] = short[2][:-1]
    write_take(tmp_path / "short.csv", short)
    with pytest.raises(InvalidInputError, match=r"short\.csv: line 4 has 62 fields"):
        read_livelink_csv(tmp_path / "short.csv")
    text = [row.copy() for row in rows]
    text[1][2 + ARKIT.index("jawOpen")] = "open"
    write_take(tmp_path / "text.csv", text)
    with pytest.raises(InvalidInputError, match=r"text\.csv: line 3: column JawOpen .*'open'"):
        read_livelink_csv(tmp_path / "text.csv")
    timecode = [row.copy() for row in rows]
    timecode[3][0] = "soon"
    write_take(tmp_path / "tc.csv", timecode)
    with pytest.raises(InvalidInputError, match=r"tc\.csv: line 5: .*'soon'"):
        read_livelink_csv(tmp_path / "tc.csv")


def test_nan_and_overshoot(tmp_path):
    rows = take_rows(["00:00:00:00.000", "00:00:00:01.000"])
    rows[0][2] = "1.0004"  # Live Link overshoots a little: clipped
    write_take(tmp_path / "over.csv", rows)
    assert read_livelink_csv(tmp_path / "over.csv").params[0, 0] == 1.0
    rows[1][2 + ARKIT.index("cheekPuff")] = "nan"
    write_take(tmp_path / "nan.csv", rows)
    with pytest.raises(InvalidInputError, match=r"nan\.csv: 1 frame has NaN.*cheekPuff"):
        read_livelink_csv(tmp_path / "nan.csv")


def test_frame_rate_inference(tmp_path):
    # A 30 fps take that crosses a second boundary.
    codes = [f"12:00:00:{frame:02d}.000" for frame in range(20, 30)]
    codes += [f"12:00:01:{frame:02d}.000" for frame in range(10)]
    write_take(tmp_path / "thirty.csv", take_rows(codes))
    seq = read_livelink_csv(tmp_path / "thirty.csv")
    assert (seq.fps, seq.meta[META_TIMECODE_RATE]) == (30.0, 30)
    # A 60 fps take stamped with 30 fps timecode and half-frame sub-frames.
    codes = [f"01:02:03:{frame // 2:02d}.{500 * (frame % 2):03d}" for frame in range(60)]
    write_take(tmp_path / "half.csv", take_rows(codes))
    seq = read_livelink_csv(tmp_path / "half.csv")
    assert (seq.fps, seq.meta[META_TIMECODE_RATE]) == (60.0, 30)
    write_livelink_csv(seq, tmp_path / "half_back.csv")
    assert [row[0] for row in read_table(tmp_path / "half_back.csv")[1:]] == codes
    # Too little to tell: Live Link's 60 fps, unless told otherwise.
    write_take(tmp_path / "few.csv", take_rows(["00:00:00:03.000", "00:00:00:04.000"]))
    assert read_livelink_csv(tmp_path / "few.csv").fps == 60.0
    assert read_livelink_csv(tmp_path / "few.csv", fps=24).fps == 24.0


def test_write_without_timecode_meta_starts_at_midnight(tmp_path):
    seq = FaceSequence(np.zeros((3, ARKIT.dim), dtype=np.float32), fps=25.0)
    write_livelink_csv(seq, tmp_path / "plain.csv")
    codes = [row[0] for row in read_table(tmp_path / "plain.csv")[1:]]
    assert codes == ["00:00:00:00.000", "00:00:00:01.000", "00:00:00:02.000"]


def test_only_arkit_can_be_written(tmp_path):
    seq = FaceSequence(np.zeros((3, 58), dtype=np.float32), space="flame")
    with pytest.raises(InvalidInputError, match="flame"):
        save_sequence(seq, tmp_path / "flame.csv")
    assert not (tmp_path / "flame.csv").exists()
