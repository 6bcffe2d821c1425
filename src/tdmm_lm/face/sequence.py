"""`FaceSequence`: facial motion as a (T, D) array of parameters in a named space (SPEC §2).

A sequence is ``params`` (float32, T frames × D channels), the id of its parameter space, its
frame rate and a JSON-serialisable ``meta`` dict. It validates itself when built, so every
``FaceSequence`` in the program holds finite, in-range values of the right shape.

On disk it is an ``.npz`` archive with the keys::

    params    float32 (T, D)
    space     unicode scalar, e.g. "arkit"
    fps       float64 scalar
    channels  unicode (D,), the space's channel names (checked on load)
    meta      unicode scalar, a JSON object

Archives are written atomically and read without pickle.
"""

from __future__ import annotations

import copy
import json
import math
import os
import zipfile
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from tdmm_lm.errors import InvalidInputError
from tdmm_lm.face.spaces import Space, UnknownSpaceError, get_space
from tdmm_lm.files import atomic_write

__all__ = ["DEFAULT_FPS", "NPZ_KEYS", "RANGE_TOLERANCE", "FaceSequence", "atomic_write"]

PathLike = str | os.PathLike[str]

#: Frame rate of a sequence built without one; the rate the generators and SPEC §8 use.
DEFAULT_FPS = 25.0
#: How far (absolute) a value may stray outside its channel's range before it is an error.
#: Strays within it are float noise (or Live Link's slight overshoot) and are clipped.
RANGE_TOLERANCE = 1e-3
#: The keys of a sequence ``.npz`` archive.
NPZ_KEYS = ("params", "space", "fps", "channels", "meta")
#: Resampling positions are rounded to this many decimals (in source frames) so that float
#: noise in ``t * fps`` cannot turn an exact frame hit into a blend with its neighbour.
_POSITION_DECIMALS = 9
#: Errors ``np.load`` raises on a truncated, corrupt or non-npz file.
_NPZ_READ_ERRORS = (zipfile.BadZipFile, ValueError, EOFError, OSError, KeyError, zlib.error)


def _frames_phrase(count: int) -> str:
    return f"{count} frame has" if count == 1 else f"{count} frames have"


def _checked_fps(fps: float) -> float:
    """Return ``fps`` as a float; raise :class:`InvalidInputError` unless finite and > 0."""
    try:
        value = float(fps)
    except (TypeError, ValueError):
        raise InvalidInputError(f"fps must be a number, got {fps!r}") from None
    if not (math.isfinite(value) and value > 0):
        raise InvalidInputError(f"fps must be a positive number, got {fps!r}")
    return value


@dataclass(eq=False)
class FaceSequence:
    """Facial motion: T frames of D parameters in a named parameter space.

    Building one validates it (see :meth:`validate`); values that stray outside their
    channel's range by less than :data:`RANGE_TOLERANCE` are clipped into it.

    Attributes:
        params: Parameters, float32 array of shape ``(T, D)``; ``D`` is the space's
            channel count.
        space: Id of the parameter space (``"arkit"`` or ``"flame"``).
        fps: Frame rate in frames per second; frame ``i`` is at time ``i / fps``.
        meta: JSON-serialisable dict (prompt, labels, source, timecode, ...).

    """

    params: np.ndarray
    space: str = "arkit"
    fps: float = DEFAULT_FPS
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.params = np.asarray(self.params, dtype=np.float32)
        self.validate()

    # -- validation ---------------------------------------------------------------------------

    def validate(self) -> None:
        """Check the sequence, clipping tiny range excursions in place.

        Raises:
            UnknownSpaceError: ``space`` is not a known space id.
            InvalidInputError: ``params`` is not ``(T, D)`` with the space's ``D``, holds
                NaN/inf or out-of-range values; ``fps`` is not positive; ``meta`` is not a
                JSON-serialisable dict. The message names the first offending frame and
                channel.

        """
        space = get_space(self.space)
        self.fps = _checked_fps(self.fps)
        if self.params.ndim != 2:
            raise InvalidInputError(
                f"params must have shape (frames, {space.dim}), got shape {self.params.shape}"
            )
        if self.params.shape[1] != space.dim:
            raise InvalidInputError(
                f"params has {self.params.shape[1]} channels but space {space.id!r} has {space.dim}"
            )
        self._check_finite(space)
        self._check_range(space)
        if not isinstance(self.meta, dict):
            raise InvalidInputError(f"meta must be a dict, got {type(self.meta).__name__}")
        try:
            json.dumps(self.meta)
        except (TypeError, ValueError) as error:
            raise InvalidInputError(f"meta is not JSON-serialisable: {error}") from None

    def _check_finite(self, space: Space) -> None:
        bad = ~np.isfinite(self.params)
        if bad.any():
            frame, channel = np.argwhere(bad)[0]
            raise InvalidInputError(
                f"{_frames_phrase(int(bad.any(axis=1).sum()))} NaN/inf values; first at "
                f"frame {frame} in channel {space.channels[channel]}"
            )

    def _check_range(self, space: Space) -> None:
        bad = (self.params < space.low - RANGE_TOLERANCE) | (
            self.params > space.high + RANGE_TOLERANCE
        )
        if bad.any():
            frame, channel = np.argwhere(bad)[0]
            raise InvalidInputError(
                f"{_frames_phrase(int(bad.any(axis=1).sum()))} out-of-range values; first at "
                f"frame {frame}: channel {space.channels[channel]} = "
                f"{self.params[frame, channel]:.6g} is outside "
                f"[{space.low[channel]:.6g}, {space.high[channel]:.6g}]"
            )
        if (self.params < space.low).any() or (self.params > space.high).any():
            self.params = np.clip(self.params, space.low, space.high)

    # -- properties ---------------------------------------------------------------------------

    @property
    def space_def(self) -> Space:
        """The :class:`Space` named by ``space``."""
        return get_space(self.space)

    @property
    def channels(self) -> tuple[str, ...]:
        """Channel names, in column order."""
        return self.space_def.channels

    @property
    def n_frames(self) -> int:
        """Number of frames ``T``."""
        return int(self.params.shape[0])

    @property
    def seconds(self) -> float:
        """Duration in seconds, ``T / fps`` (each frame lasts ``1 / fps``)."""
        return self.n_frames / self.fps

    def __len__(self) -> int:
        return self.n_frames

    def __repr__(self) -> str:
        return (
            f"FaceSequence(space={self.space!r}, frames={self.n_frames}, fps={self.fps:g}, "
            f"seconds={self.seconds:.3f})"
        )

    def info(self) -> dict[str, Any]:
        """Return the fields of ``tdmm info --json``.

        Returns:
            ``{"frames", "fps", "space", "channels", "seconds", "meta"}``; JSON-serialisable.

        """
        return {
            "frames": self.n_frames,
            "fps": self.fps,
            "space": self.space,
            "channels": list(self.channels),
            "seconds": self.seconds,
            "meta": copy.deepcopy(self.meta),
        }

    # -- derived sequences --------------------------------------------------------------------

    def with_params(self, params: np.ndarray) -> FaceSequence:
        """Return a sequence with new ``params`` (validated) and this space, fps and meta."""
        return FaceSequence(params, self.space, self.fps, copy.deepcopy(self.meta))

    def channel(self, name: str) -> np.ndarray:
        """Return channel ``name`` over time, shape ``(T,)``, a view into ``params``.

        Raises:
            InvalidInputError: The space has no channel ``name``.

        """
        try:
            return self.params[:, self.space_def.index(name)]
        except KeyError as error:
            raise InvalidInputError(error.args[0]) from None

    def __getitem__(self, frames: slice) -> FaceSequence:
        """Return frames ``a:b`` (a step ``k`` keeps every k-th frame and divides fps by k)."""
        if not isinstance(frames, slice):
            raise TypeError(f"FaceSequence indices must be slices of frames, not {frames!r}")
        step = 1 if frames.step is None else frames.step
        if step <= 0:
            raise InvalidInputError(f"slice step must be a positive integer, got {step}")
        return FaceSequence(
            self.params[frames], self.space, self.fps / step, copy.deepcopy(self.meta)
        )

    def slice_seconds(self, start: float = 0.0, stop: float | None = None) -> FaceSequence:
        """Return the frames whose times ``i / fps`` lie in ``[start, stop)`` seconds.

        Args:
            start: First time to keep, in seconds.
            stop: End time (excluded), in seconds; ``None`` keeps everything after ``start``.

        """
        if start < 0 or (stop is not None and stop < start):
            raise InvalidInputError(f"bad time range [{start}, {stop}) seconds")
        # Frame i is kept when start <= i / fps; round so that t = i / fps itself counts.
        first = math.ceil(round(start * self.fps, _POSITION_DECIMALS))
        last = None if stop is None else math.ceil(round(stop * self.fps, _POSITION_DECIMALS))
        return self[first:last]

    @classmethod
    def concat(cls, sequences: Sequence[FaceSequence]) -> FaceSequence:
        """Join sequences end to end; they must share space and fps. Meta comes from the first.

        Raises:
            InvalidInputError: No sequences, or their spaces or frame rates differ.

        """
        if not sequences:
            raise InvalidInputError("concat needs at least one sequence")
        first = sequences[0]
        for index, other in enumerate(sequences[1:], start=1):
            if other.space != first.space:
                raise InvalidInputError(
                    f"cannot concat: sequence {index} is in space {other.space!r}, "
                    f"sequence 0 in {first.space!r}"
                )
            if not math.isclose(other.fps, first.fps):
                raise InvalidInputError(
                    f"cannot concat: sequence {index} is at {other.fps:g} fps, sequence 0 at "
                    f"{first.fps:g} fps; resample first"
                )
        params = np.concatenate([s.params for s in sequences], axis=0)
        return cls(params, first.space, first.fps, copy.deepcopy(first.meta))

    def resample(self, fps: float) -> FaceSequence:
        """Return the same motion at another frame rate, covering the same duration.

        The new sequence has ``round(T * fps / self.fps)`` frames, frame ``j`` sampling the
        motion at time ``j / fps``; times past the last source frame hold its value.

        * Blendshape (and other plain) channels are interpolated linearly.
        * ``"euler"`` rotation groups (arkit head and eye yaw/pitch/roll) are interpolated
          angle by angle, linearly: they are small independent angles in radians, and
          linear interpolation of the angles is what Live Link does.
        * ``"axis_angle"`` rotation groups (flame jaw and head pose) are converted to
          quaternions and interpolated along the shortest arc with
          :class:`scipy.spatial.transform.Slerp`.

        Results are clipped to the space's ranges. Downsampling does not low-pass filter.

        Args:
            fps: The new frame rate, > 0.

        Returns:
            A new sequence; ``meta`` is copied.

        """
        new_fps = _checked_fps(fps)
        n_source = self.n_frames
        if new_fps == self.fps or n_source == 0:
            return FaceSequence(self.params.copy(), self.space, new_fps, copy.deepcopy(self.meta))
        n_target = max(1, round(n_source * new_fps / self.fps))
        times = np.arange(n_target) / new_fps
        positions = np.round(times * self.fps, _POSITION_DECIMALS)  # in source frames
        positions = np.clip(positions, 0.0, n_source - 1)
        lower = np.floor(positions).astype(np.int64)
        upper = np.minimum(lower + 1, n_source - 1)
        weight = (positions - lower)[:, None]  # (T', 1)
        source = self.params.astype(np.float64)  # (T, D)
        resampled = source[lower] * (1.0 - weight) + source[upper] * weight  # (T', D)
        space = self.space_def
        for start, stop, kind in space.rotation_slices:
            if kind == "axis_angle":
                resampled[:, start:stop] = _slerp_axis_angle(source[:, start:stop], positions)
            elif kind != "euler":
                raise AssertionError(f"space {space.id!r}: unknown rotation kind {kind!r}")
        resampled = np.clip(resampled, space.low, space.high)
        return FaceSequence(
            resampled.astype(np.float32), self.space, new_fps, copy.deepcopy(self.meta)
        )

    # -- npz ------------------------------------------------------------------------------------

    def save(self, path: PathLike) -> None:
        """Write the sequence to an ``.npz`` archive at ``path``, atomically."""
        arrays = {
            "params": self.params,
            "space": np.array(self.space),
            "fps": np.array(self.fps, dtype=np.float64),
            "channels": np.array(self.channels, dtype=np.str_),
            "meta": np.array(json.dumps(self.meta)),
        }
        with atomic_write(path) as handle:
            np.savez(handle, **arrays)

    @classmethod
    def load(cls, path: PathLike) -> FaceSequence:
        """Read and validate a sequence ``.npz`` archive (never unpickling anything).

        Raises:
            InvalidInputError: The file is missing, truncated or corrupt, lacks a key, or
                holds an invalid sequence; the message starts with the file name.

        """
        source = Path(path)
        if not source.is_file():
            raise InvalidInputError(f"{source}: no such file")
        try:
            loaded = np.load(source, allow_pickle=False)
            if not isinstance(loaded, np.lib.npyio.NpzFile):  # a bare .npy array
                raise InvalidInputError(f"{source}: not an .npz archive")
            with loaded as archive:
                missing = [key for key in NPZ_KEYS if key not in archive.files]
                if missing:
                    raise InvalidInputError(f"{source}: missing keys {', '.join(missing)}")
                arrays = {key: archive[key] for key in NPZ_KEYS}
        except InvalidInputError:
            raise
        except _NPZ_READ_ERRORS as error:
            raise InvalidInputError(
                f"{source}: cannot read the .npz archive (truncated or corrupt?): {error}"
            ) from error
        try:
            return cls._from_arrays(arrays)
        except (InvalidInputError, UnknownSpaceError) as error:
            raise InvalidInputError(f"{source}: {error}") from error

    @classmethod
    def _from_arrays(cls, arrays: dict[str, np.ndarray]) -> FaceSequence:
        """Build a sequence from the arrays of an archive, checking each one."""
        space = get_space(_scalar_string(arrays["space"], "space"))
        params = arrays["params"]
        if params.dtype.kind not in "fiu":
            raise InvalidInputError(f"params must be numeric, got dtype {params.dtype}")
        if params.ndim != 2 or params.shape[1] != space.dim:
            raise InvalidInputError(
                f"params has shape {params.shape}; space {space.id!r} needs (frames, {space.dim})"
            )
        channels = arrays["channels"]
        if channels.dtype.kind != "U" or channels.shape != (space.dim,):
            raise InvalidInputError(
                f"channels must be {space.dim} names, got {channels.dtype} {channels.shape}"
            )
        for index, (stored, expected) in enumerate(zip(channels, space.channels, strict=True)):
            if stored != expected:
                raise InvalidInputError(
                    f"channel {index} is named {str(stored)!r} but space {space.id!r} "
                    f"calls it {expected!r}"
                )
        fps = arrays["fps"]
        if fps.dtype.kind not in "fiu" or fps.size != 1:
            raise InvalidInputError(f"fps must be one number, got {fps!r}")
        try:
            meta = json.loads(_scalar_string(arrays["meta"], "meta"))
        except json.JSONDecodeError as error:
            raise InvalidInputError(f"meta is not valid JSON: {error}") from None
        return cls(params, space.id, float(fps.reshape(())), meta)


def _scalar_string(array: np.ndarray, key: str) -> str:
    """Return the single string stored under ``key``."""
    if array.dtype.kind != "U" or array.size != 1:
        raise InvalidInputError(f"{key} must be a single string, got {array.dtype} {array.shape}")
    return str(array.reshape(()))


def _slerp_axis_angle(rotvecs: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """Slerp axis-angle rotations, shape ``(T, 3)``, at fractional frame ``positions`` (T',)."""
    from scipy.spatial.transform import Rotation, Slerp

    if len(rotvecs) < 2:  # Slerp needs two key frames; one frame is constant anyway
        return np.repeat(rotvecs[:1], len(positions), axis=0)
    slerp = Slerp(np.arange(len(rotvecs)), Rotation.from_rotvec(rotvecs))
    return slerp(positions).as_rotvec()
