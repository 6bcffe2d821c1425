"""Motion windows for tokenizer training: a corpus split as one array of normalised frames.

A split is read once into memory: all frames back to back, (F, 61) float32, with the start
and length of each sequence. Training draws fixed-length windows from it; evaluation walks
the whole sequences. The normalisation statistics (per-channel mean and standard deviation)
come from the train split and travel with the model as its artefact stats.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tdmm_lm.data import read_manifest, read_split
from tdmm_lm.errors import InvalidInputError
from tdmm_lm.face import ARKIT

__all__ = ["MotionSplit", "channel_stats", "load_split"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class MotionSplit:
    """The ``arkit`` parameter sequences of one corpus split, back to back.

    Attributes:
        frames: (F, 61) float32 raw parameters of all sequences, concatenated.
        starts: (S,) int64 first frame of each sequence in ``frames``.
        lengths: (S,) int64 frames of each sequence.
        fps: The split's frame rate.
    """

    frames: np.ndarray
    starts: np.ndarray
    lengths: np.ndarray
    fps: float

    def __len__(self) -> int:
        return len(self.lengths)

    def sequence(self, i: int) -> np.ndarray:
        """(T_i, 61) float32 parameters of sequence ``i`` (a view)."""
        return self.frames[self.starts[i] : self.starts[i] + self.lengths[i]]

    def sequences(self, limit: int | None = None) -> list[np.ndarray]:
        """The first ``limit`` sequences (all by default), as views."""
        n = len(self) if limit is None else min(limit, len(self))
        return [self.sequence(i) for i in range(n)]

    def windows(self, starts: np.ndarray, length: int) -> tuple[np.ndarray, np.ndarray]:
        """Cut windows of ``length`` frames.

        Args:
            starts: (B, 2) int64 rows of (sequence index, first frame within it).
            length: Window length L.

        Returns:
            ((B, L, 61) float32 raw parameters, (B, L) bool mask); a window running past its
            sequence's end is zero-padded and masked there.
        """
        return self.cut(self.frames, starts, length)

    def cut(
        self, values: np.ndarray, starts: np.ndarray, length: int, fill: float = 0
    ) -> tuple[np.ndarray, np.ndarray]:
        """Cut the same windows as :meth:`windows` from any per-frame array.

        Args:
            values: (F, ...) one row per frame of ``frames`` (e.g. per-frame labels).
            starts: (B, 2) int64 rows of (sequence index, first frame within it).
            length: Window length L.
            fill: Value past a sequence's end.

        Returns:
            ((B, L, ...) rows of ``values``, (B, L) bool mask of rows inside a sequence).
        """
        out = np.full((len(starts), length, *values.shape[1:]), fill, values.dtype)
        mask = np.zeros((len(starts), length), bool)
        for b, (seq, first) in enumerate(starts):
            n = min(length, int(self.lengths[seq]) - int(first))
            at = int(self.starts[seq]) + int(first)
            out[b, :n] = values[at : at + n]
            mask[b, :n] = True
        return out, mask

    def sample_starts(self, rng: np.random.Generator, batch: int, length: int) -> np.ndarray:
        """Draw window positions uniformly over all frames that can start a window.

        A sequence shorter than ``length`` offers one window (from its first frame), so
        short sequences are neither lost nor over-weighted.

        Returns:
            (B, 2) int64 rows of (sequence index, first frame within it).
        """
        choices = np.maximum(self.lengths - length + 1, 1)  # (S,) window starts per sequence
        cumulative = np.cumsum(choices)
        flat = rng.integers(0, cumulative[-1], size=batch)  # (B,) over all window starts
        seq = np.searchsorted(cumulative, flat, side="right")
        first = flat - (cumulative[seq] - choices[seq])
        return np.stack([seq, first], 1).astype(np.int64)


def load_split(corpus: str | Path, split: str, limit: int | None = None) -> MotionSplit:
    """Read one split's parameters into memory.

    Args:
        corpus: The corpus folder.
        split: Split name (``train``, ``val``, ``test``, …).
        limit: Read at most this many sequences (the first ones), e.g. for a quick check.

    Returns:
        The split. Raises :class:`InvalidInputError` if the corpus is missing, the split is
        empty, or its sequences are not in the ``arkit`` space at one frame rate.
    """
    read_manifest(Path(corpus))  # a clear error for a missing or outdated corpus
    table = read_split(Path(corpus), split, columns=["params", "n_frames", "fps", "space"])
    if limit is not None:
        table = table.slice(0, limit)
    if table.num_rows == 0:
        raise InvalidInputError(f"{corpus}: split {split!r} has no sequences")
    spaces = set(table.column("space").to_pylist())
    if spaces != {ARKIT.id}:
        raise InvalidInputError(
            f"{corpus}: the motion tokenizer reads {ARKIT.id!r} sequences, split {split!r} "
            f"holds {sorted(spaces)}"
        )
    rates = set(table.column("fps").to_pylist())
    if len(rates) != 1:
        raise InvalidInputError(f"{corpus}: split {split!r} mixes frame rates {sorted(rates)}")
    lengths = np.asarray(table.column("n_frames").to_pylist(), np.int64)
    flat = table.column("params").combine_chunks().flatten().to_numpy(zero_copy_only=False)
    frames = np.asarray(flat, np.float32).reshape(-1, ARKIT.dim)  # (F, 61)
    if len(frames) != lengths.sum():
        raise InvalidInputError(f"{corpus}: split {split!r}: params do not match n_frames")
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
    log.info("read %s/%s: %d sequences, %d frames", corpus, split, len(lengths), len(frames))
    return MotionSplit(frames, starts, lengths, float(rates.pop()))


#: Share of a split's frames left out at each end of :func:`channel_range`.
SEEN_RANGE_SHARE = 1e-3


def channel_stats(split: MotionSplit) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel mean and standard deviation over all frames, each (61,) float32."""
    # float64 accumulation: a 20-hour split holds ~2M frames.
    mean = split.frames.mean(0, dtype=np.float64)
    std = split.frames.std(0, dtype=np.float64)
    return mean.astype(np.float32), std.astype(np.float32)


def channel_range(
    split: MotionSplit, share: float = SEEN_RANGE_SHARE
) -> tuple[np.ndarray, np.ndarray]:
    """The range each channel spans over the frames of a split, without its rarest extremes.

    Args:
        split: The training split.
        share: Share of frames left out at each end (a quantile, not the minimum, so that a
            handful of outlying frames do not set the range).

    Returns:
        ((61,) low, (61,) high) float32.
    """
    low, high = np.quantile(split.frames, [share, 1.0 - share], axis=0)
    return low.astype(np.float32), high.astype(np.float32)
