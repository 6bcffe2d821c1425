"""Read and write a :class:`FaceSequence` in any supported file format, chosen by suffix.

=========  ===================================================  =======
suffix     format                                               module
=========  ===================================================  =======
``.npz``   the project's archive (SPEC §2)                      :mod:`tdmm_lm.face.sequence`
``.csv``   a Live Link Face take (``arkit`` space only)          :mod:`tdmm_lm.face.livelink`
``.glb``   glTF 2.0 mesh + animation (write only; arkit only)   :mod:`tdmm_lm.face.gltf`
=========  ===================================================  =======
"""

from __future__ import annotations

from pathlib import Path

from tdmm_lm.errors import InvalidInputError
from tdmm_lm.face.gltf import write_glb
from tdmm_lm.face.livelink import read_livelink_csv, write_livelink_csv
from tdmm_lm.face.sequence import FaceSequence, PathLike

__all__ = ["READ_SUFFIXES", "WRITE_SUFFIXES", "convert_sequence", "load_sequence", "save_sequence"]

NPZ_SUFFIX = ".npz"
CSV_SUFFIX = ".csv"
GLB_SUFFIX = ".glb"
#: Suffixes :func:`load_sequence` reads.
READ_SUFFIXES = (NPZ_SUFFIX, CSV_SUFFIX)
#: Suffixes :func:`save_sequence` writes (``.glb`` only for ``arkit`` sequences).
WRITE_SUFFIXES = (NPZ_SUFFIX, CSV_SUFFIX, GLB_SUFFIX)


def _suffix(path: Path, allowed: tuple[str, ...], action: str) -> str:
    """Return ``path``'s lower-cased suffix; raise if it is not one of ``allowed``."""
    suffix = path.suffix.lower()
    if suffix not in allowed:
        shown = repr(suffix) if suffix else "no suffix"
        raise InvalidInputError(
            f"{path}: cannot {action} files with {shown}; use one of {', '.join(allowed)}"
        )
    return suffix


def _check_writable(path: Path) -> str:
    """Return the suffix of an output ``path``; raise if sequences cannot be written there."""
    return _suffix(path, WRITE_SUFFIXES, "write")


def load_sequence(path: PathLike) -> FaceSequence:
    """Read a sequence from an ``.npz`` archive or a Live Link Face ``.csv``.

    Raises:
        InvalidInputError: The suffix is not supported, or the file is invalid (the message
            names the file and the problem).

    """
    source = Path(path)
    if source.suffix.lower() == GLB_SUFFIX:
        raise InvalidInputError(
            f"{source}: glTF (.glb) is an export format and cannot be read back; "
            "load the .npz or .csv it was made from"
        )
    if _suffix(source, READ_SUFFIXES, "read") == CSV_SUFFIX:
        return read_livelink_csv(source)
    return FaceSequence.load(source)


def save_sequence(sequence: FaceSequence, path: PathLike) -> None:
    """Write ``sequence`` to ``path`` atomically, in the format its suffix names.

    Raises:
        InvalidInputError: The suffix is not supported, or the format cannot hold the
            sequence (a Live Link CSV and a glTF file hold only the ``arkit`` space).

    """
    target = Path(path)
    suffix = _check_writable(target)
    if suffix == CSV_SUFFIX:
        write_livelink_csv(sequence, target)
    elif suffix == GLB_SUFFIX:
        write_glb(sequence, target)
    else:
        sequence.save(target)


def convert_sequence(source: PathLike, target: PathLike) -> FaceSequence:
    """Read ``source`` and write it to ``target``, each format chosen by its suffix.

    The output suffix is checked before the input is read, so an unsupported target fails
    fast.

    Returns:
        The sequence that was written.

    """
    _check_writable(Path(target))
    sequence = load_sequence(source)
    save_sequence(sequence, target)
    return sequence
