"""Live Link Face CSV: the take format of Epic's iPhone capture app and Unreal Engine (SPEC §2).

A take looks like::

    Timecode,BlendShapeCount,EyeBlinkLeft,EyeLookDownLeft,...,TongueOut,HeadYaw,...,RightEyeRoll
    10:00:00:00.000,61,0.0123,0.0000,...
    10:00:00:01.000,61,0.0131,0.0000,...

The 61 value columns are the ``arkit`` space's channels with their first letter capitalised.
The timecode is ``HH:MM:SS:FF.mmm``: ``FF`` counts frames within the second at the timecode
rate, and ``.mmm`` is the fraction of a frame (sub-frame) in thousandths, as Live Link writes it.

Reading matches header names case-insensitively and ignores extra columns. The frame rate is
inferred from the timecodes (see :func:`read_livelink_csv`). The first timecode and the
timecode rate are kept in ``meta`` (:data:`META_TIMECODE_START`, :data:`META_TIMECODE_RATE`)
so that writing the sequence back reproduces the timecode column.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np

from tdmm_lm.errors import InvalidInputError
from tdmm_lm.face.sequence import FaceSequence, PathLike
from tdmm_lm.face.spaces import ARKIT
from tdmm_lm.files import atomic_write

__all__ = [
    "LIVELINK_CHANNELS",
    "LIVELINK_DEFAULT_FPS",
    "LIVELINK_HEADER",
    "META_TIMECODE_RATE",
    "META_TIMECODE_START",
    "read_livelink_csv",
    "write_livelink_csv",
]

TIMECODE_COLUMN = "Timecode"
COUNT_COLUMN = "BlendShapeCount"
#: Value columns, in the order Live Link writes them: the arkit channels, capitalised.
LIVELINK_CHANNELS: tuple[str, ...] = tuple(name[0].upper() + name[1:] for name in ARKIT.channels)
LIVELINK_HEADER: tuple[str, ...] = (TIMECODE_COLUMN, COUNT_COLUMN, *LIVELINK_CHANNELS)
#: Live Link Face records at 60 fps unless set otherwise; used when the timecodes cannot tell.
LIVELINK_DEFAULT_FPS = 60
#: Frame rates that timecodes and capture rates are snapped to.
COMMON_FRAME_RATES = (24, 25, 30, 50, 60)
#: A measured rate within this relative distance of a common rate is taken to be it
#: (absorbs 29.97-style drift and sub-frame jitter).
FPS_SNAP_TOLERANCE = 0.02
#: ``meta`` keys that carry the timecode through a CSV -> npz -> CSV round trip.
META_TIMECODE_START = "timecode_start"
META_TIMECODE_RATE = "timecode_rate"
DEFAULT_TIMECODE_START = "00:00:00:00.000"
#: Sub-frames are written in thousandths of a frame, like Live Link.
SUBFRAMES_PER_FRAME = 1000
SECONDS_PER_HOUR = 3600
SECONDS_PER_MINUTE = 60
HOURS_PER_DAY = 24  # timecode wraps at midnight
#: Six decimals keep every value within 1e-6 of the float32 it came from.
VALUE_FORMAT = "%.6f"
#: At most this many names are listed when columns are missing, to keep the error one line.
MAX_LISTED_MISSING = 20

_TIMECODE_PATTERN = re.compile(r"^\s*(\d{1,2}):(\d{2}):(\d{2})[:;](\d{1,3})(?:\.(\d+))?\s*$")


class Timecode(NamedTuple):
    """A parsed ``HH:MM:SS:FF.mmm`` timecode."""

    hours: int
    minutes: int
    seconds: int
    frame: int
    subframe: float  # fraction of a frame, in [0, 1)

    @property
    def whole_seconds(self) -> int:
        """Seconds since midnight, ignoring the frame."""
        return self.hours * SECONDS_PER_HOUR + self.minutes * SECONDS_PER_MINUTE + self.seconds

    def text(self) -> str:
        """Return the timecode in the canonical ``HH:MM:SS:FF.mmm`` form."""
        return (
            f"{self.hours:02d}:{self.minutes:02d}:{self.seconds:02d}:{self.frame:02d}."
            f"{min(round(self.subframe * SUBFRAMES_PER_FRAME), SUBFRAMES_PER_FRAME - 1):03d}"
        )

    def subframe_position(self, rate: int) -> int:
        """Return the position since midnight in sub-frames (thousandths of a frame)."""
        frames = self.whole_seconds * rate + self.frame
        return frames * SUBFRAMES_PER_FRAME + round(self.subframe * SUBFRAMES_PER_FRAME)


def parse_timecode(text: str) -> Timecode:
    """Parse ``HH:MM:SS:FF`` with an optional ``.mmm`` sub-frame fraction.

    Raises:
        ValueError: ``text`` is not a timecode.

    """
    match = _TIMECODE_PATTERN.match(text)
    if match is None:
        raise ValueError(f"not a HH:MM:SS:FF.mmm timecode: {text!r}")
    hours, minutes, seconds, frame, fraction = match.groups()
    subframe = float(f"0.{fraction}") if fraction else 0.0
    return Timecode(int(hours), int(minutes), int(seconds), int(frame), subframe)


def format_timecode(position: int, rate: int) -> str:
    """Format a position since midnight, in sub-frames at ``rate`` fps, as ``HH:MM:SS:FF.mmm``."""
    frames, subframe = divmod(position, SUBFRAMES_PER_FRAME)
    whole_seconds, frame = divmod(frames, rate)
    minutes_total, seconds = divmod(whole_seconds, SECONDS_PER_MINUTE)
    hours, minutes = divmod(minutes_total, SECONDS_PER_HOUR // SECONDS_PER_MINUTE)
    frame_digits = len(str(rate - 1))
    return (
        f"{hours % HOURS_PER_DAY:02d}:{minutes:02d}:{seconds:02d}:"
        f"{frame:0{max(2, frame_digits)}d}.{subframe:03d}"
    )


def _snap_rate(measured: float) -> float:
    """Return the common frame rate nearest ``measured`` if close enough, else ``measured``."""
    nearest = min(COMMON_FRAME_RATES, key=lambda rate: abs(rate - measured))
    if abs(nearest - measured) <= FPS_SNAP_TOLERANCE * nearest:
        return float(nearest)
    return round(measured, 3)


def _timecode_rate(timecodes: Sequence[Timecode]) -> int:
    """Infer the timecode's frames per second from its ``FF`` fields.

    ``FF`` runs from 0 to rate - 1 within a second, so the largest ``FF + 1`` bounds the rate
    from below. It pins the rate when the take crosses a second boundary or covers one whole
    second; otherwise Live Link's default is assumed.
    """
    frames = [tc.frame for tc in timecodes]
    highest = max(frames) + 1
    spans_seconds = len({tc.whole_seconds for tc in timecodes}) > 1
    covers_a_second = min(frames) == 0 and highest in COMMON_FRAME_RATES
    if spans_seconds or covers_a_second:
        return next((rate for rate in COMMON_FRAME_RATES if rate >= highest), highest)
    return max(LIVELINK_DEFAULT_FPS, highest)


def infer_frame_rates(timecodes: Sequence[Timecode]) -> tuple[float, int]:
    """Infer ``(fps, timecode_rate)`` of a take from its timecodes.

    The timecode rate comes from the ``FF`` fields (see :func:`_timecode_rate`). The capture
    rate comes from the median step between rows, snapped to a common rate; it differs from
    the timecode rate when, e.g., a 60 fps take carries 30 fps timecode with half-frame
    sub-frames. A single row gives the timecode rate.
    """
    rate = _timecode_rate(timecodes)
    times = np.array([tc.whole_seconds + (tc.frame + tc.subframe) / rate for tc in timecodes])
    steps = np.diff(times)
    steps = steps[steps > 0]  # a wrap at midnight or a repeated row says nothing about the rate
    if steps.size == 0:
        return float(rate), rate
    return _snap_rate(1.0 / float(np.median(steps))), rate


def _missing_columns_message(source: Path, missing: Sequence[str]) -> str:
    listed = ", ".join(missing[:MAX_LISTED_MISSING])
    more = (
        f" and {len(missing) - MAX_LISTED_MISSING} more"
        if len(missing) > MAX_LISTED_MISSING
        else ""
    )
    return f"{source}: not a Live Link Face CSV; missing {len(missing)} columns: {listed}{more}"


def read_livelink_csv(path: PathLike, fps: float | None = None) -> FaceSequence:
    """Read a Live Link Face CSV take into an ``arkit`` sequence.

    Args:
        path: The CSV file.
        fps: The frame rate; ``None`` infers it from the timecodes (see
            :func:`infer_frame_rates`). Live Link's 60 fps is assumed when they cannot
            tell: no timecode column, or a take under a second that stays within one
            second of timecode (its rate could be anything above its highest ``FF``).

    Returns:
        The sequence; ``meta`` holds the first timecode and the timecode rate.

    Raises:
        InvalidInputError: The file is missing or unreadable, lacks value columns (all
            listed), has a row with the wrong number of fields, a non-numeric value or a
            bad timecode (the line is named), or holds NaN or out-of-range values.

    """
    source = Path(path)
    if not source.is_file():
        raise InvalidInputError(f"{source}: no such file")
    rows: list[list[float]] = []
    timecodes: list[Timecode] = []
    try:
        with open(source, newline="", encoding="utf-8-sig") as handle:
            reader = csv.reader(handle)
            header = next(reader, None)
            if header is None:
                raise InvalidInputError(f"{source}: empty file, expected a Live Link Face CSV")
            column_of = {name.strip().lower(): index for index, name in enumerate(header)}
            missing = [name for name in LIVELINK_CHANNELS if name.lower() not in column_of]
            if missing:
                raise InvalidInputError(_missing_columns_message(source, missing))
            value_columns = [column_of[name.lower()] for name in LIVELINK_CHANNELS]
            timecode_column = column_of.get(TIMECODE_COLUMN.lower())
            for row in reader:
                if not any(field.strip() for field in row):
                    continue  # blank lines, e.g. at the end of the file
                line = reader.line_num
                if len(row) != len(header):
                    raise InvalidInputError(
                        f"{source}: line {line} has {len(row)} fields but the header has "
                        f"{len(header)}"
                    )
                rows.append(_parse_values(row, value_columns, header, source, line))
                if timecode_column is not None:
                    try:
                        timecodes.append(parse_timecode(row[timecode_column]))
                    except ValueError as error:
                        raise InvalidInputError(f"{source}: line {line}: {error}") from None
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise InvalidInputError(f"{source}: cannot read the CSV: {error}") from error
    if not rows:
        raise InvalidInputError(f"{source}: no data rows after the header")

    meta: dict[str, object] = {}
    inferred_fps = float(LIVELINK_DEFAULT_FPS)
    if timecodes:
        inferred_fps, timecode_rate = infer_frame_rates(timecodes)
        meta[META_TIMECODE_START] = timecodes[0].text()
        meta[META_TIMECODE_RATE] = timecode_rate
    try:
        return FaceSequence(
            np.asarray(rows, dtype=np.float32),
            ARKIT.id,
            inferred_fps if fps is None else fps,
            meta,
        )
    except InvalidInputError as error:
        raise InvalidInputError(f"{source}: {error}") from error


def _parse_values(
    row: list[str], value_columns: list[int], header: list[str], source: Path, line: int
) -> list[float]:
    """Return the channel values of one CSV row, in arkit order."""
    try:
        return [float(row[column]) for column in value_columns]
    except ValueError:
        for column in value_columns:
            try:
                float(row[column])
            except ValueError:
                raise InvalidInputError(
                    f"{source}: line {line}: column {header[column].strip()} is not a "
                    f"number: {row[column]!r}"
                ) from None
        raise


def write_livelink_csv(sequence: FaceSequence, path: PathLike) -> None:
    """Write an ``arkit`` sequence as a Live Link Face CSV take, atomically.

    Timecodes start at ``meta["timecode_start"]`` (midnight if absent) and advance by
    ``1 / fps`` per row at the timecode rate ``meta["timecode_rate"]`` (else ``round(fps)``).

    Args:
        sequence: The sequence; its space must be ``arkit``.
        path: The CSV file to write.

    Raises:
        InvalidInputError: The sequence is not in the ``arkit`` space, or its ``meta`` has a
            malformed timecode.

    """
    if sequence.space != ARKIT.id:
        raise InvalidInputError(
            f"{path}: Live Link Face CSV holds the {ARKIT.id!r} space; this sequence is in "
            f"{sequence.space!r}"
        )
    timecodes = _row_timecodes(sequence, Path(path))
    row_format = ",".join([VALUE_FORMAT] * ARKIT.dim)
    lines = [",".join(LIVELINK_HEADER)]
    lines.extend(
        f"{timecode},{ARKIT.dim},{row_format % tuple(values)}"
        for timecode, values in zip(timecodes, sequence.params.tolist(), strict=True)
    )
    with atomic_write(path) as handle:
        handle.write(("\n".join(lines) + "\n").encode("utf-8"))


def _row_timecodes(sequence: FaceSequence, target: Path) -> list[str]:
    """Return the timecode text of every frame of ``sequence``."""
    start_text = sequence.meta.get(META_TIMECODE_START, DEFAULT_TIMECODE_START)
    rate = sequence.meta.get(META_TIMECODE_RATE, round(sequence.fps))
    try:
        start = parse_timecode(str(start_text))
    except ValueError as error:
        raise InvalidInputError(f"{target}: meta[{META_TIMECODE_START!r}]: {error}") from None
    if not isinstance(rate, int) or rate <= 0:
        raise InvalidInputError(
            f"{target}: meta[{META_TIMECODE_RATE!r}] must be a positive integer, got {rate!r}"
        )
    start_position = start.subframe_position(rate)
    step = rate * SUBFRAMES_PER_FRAME / sequence.fps  # sub-frames per row
    return [
        format_timecode(start_position + round(index * step), rate)
        for index in range(sequence.n_frames)
    ]
