"""Read a FLAME model file safely: the user's ``.pkl`` (or a converted ``.npz``), validated.

FLAME ``.pkl`` files are Python pickles (often written by Python 2, some holding chumpy
objects), and unpickling normally runs whatever the file names. Here a restricted unpickler
rebuilds only numpy arrays, scipy sparse matrices and inert stand-ins for chumpy objects; any
other global is refused before anything runs, and chumpy is never imported. Converted
``.npz`` files with the same keys are read with ``allow_pickle=False``. The model built from
these arrays is :class:`~tdmm_lm.face.flame.FlameModel`.
"""

from __future__ import annotations

import os
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from tdmm_lm.errors import InvalidInputError, TdmmError
from tdmm_lm.face.spaces import FLAME

__all__ = [
    "DEFAULT_N_SHAPE",
    "FLAME_MODEL_ENV",
    "N_EXPRESSION",
    "FlameArrays",
    "read_eyelid_blendshapes",
    "read_flame_file",
    "resolve_flame_path",
]

#: Environment variable naming the FLAME model file when ``--flame-model`` is not given.
FLAME_MODEL_ENV = "TDMM_FLAME_MODEL"
#: Shape (identity) components in FLAME 2017/2020/2023 files; expression ones follow them.
DEFAULT_N_SHAPE = 300
#: FLAME's joints: global (root), neck, jaw, left eye, right eye.
FLAME_NUM_JOINTS = 5
_REQUIRED_KEYS = ("v_template", "shapedirs", "posedirs", "J_regressor", "weights")
_REQUIRED_KEYS += ("kintree_table", "f")
#: Expression components the flame space drives (those before the jaw channels).
N_EXPRESSION = FLAME.index("jawX")


# ---------------------------------------------------------------------------------------------
# Restricted unpickling


class _StateHolder:
    """Inert stand-in for a pickled object: records its arguments and state, runs nothing."""

    args: tuple[Any, ...] = ()
    state: Any = None

    def __init__(self, *args: Any) -> None:
        self.args = args

    def __setstate__(self, state: Any) -> None:
        self.state = state


class _ChumpyObject(_StateHolder):
    """Stand-in for any ``chumpy`` class; a plain ``Ch`` keeps its array under ``'x'``."""

    global_name = "chumpy"


class _SparseState(_StateHolder):
    """Stand-in for a pickled ``scipy.sparse`` CSC/CSR matrix, rebuilt from its state dict."""

    fmt = "csc"


def _reconstructor(cls: type, base: type, state: Any) -> object:
    # copyreg._reconstructor, limited to creating our inert stand-ins.
    if not (isinstance(cls, type) and issubclass(cls, _StateHolder)) or base is not object:
        raise pickle.UnpicklingError(f"refused copyreg._reconstructor({cls!r}, {base!r})")
    return object.__new__(cls)


def _latin1_encode(text: str, encoding: str = "utf-8") -> bytes:
    # Python 3 writes bytes into protocol-2 pickles as _codecs.encode(text, "latin1").
    if not isinstance(text, str) or encoding.replace("-", "") != "latin1":
        raise pickle.UnpicklingError(f"refused _codecs.encode with encoding {encoding!r}")
    return text.encode("latin1")


def _empty_bytes(*args: Any) -> bytes:
    # Python 3 writes b"" into protocol-2 pickles as bytes(); nothing else is needed.
    if args:
        raise pickle.UnpicklingError("refused bytes() with arguments")
    return b""


def _ndarray_reconstruct(subtype: type, shape: Any, dtype: Any) -> np.ndarray:
    if not (isinstance(subtype, type) and issubclass(subtype, np.ndarray)):
        raise pickle.UnpicklingError(f"refused numpy _reconstruct of {subtype!r}")
    return _NP_RECONSTRUCT(subtype, shape, dtype)


# numpy's private pickle helpers, taken from what numpy's own __reduce__ returns, so this
# works whether they live in numpy.core (1.x) or numpy._core (2.x).
_NP_RECONSTRUCT = np.empty(0).__reduce__()[0]
_NP_SCALAR = np.float64(0).__reduce__()[0]
_NP_FROMBUFFER = np.empty(1).__reduce_ex__(5)[0]

_SAFE_GLOBALS: dict[tuple[str, str], Any] = {
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
}
for _np_core in ("numpy.core", "numpy._core"):
    _SAFE_GLOBALS[f"{_np_core}.multiarray", "_reconstruct"] = _ndarray_reconstruct
    _SAFE_GLOBALS[f"{_np_core}.multiarray", "scalar"] = _NP_SCALAR
    _SAFE_GLOBALS[f"{_np_core}.numeric", "_frombuffer"] = _NP_FROMBUFFER
for _builtins in ("__builtin__", "builtins"):  # Python 2 and 3 spellings
    _SAFE_GLOBALS[_builtins, "object"] = object
    _SAFE_GLOBALS[_builtins, "set"] = set  # chumpy's Ch state holds a set
    _SAFE_GLOBALS[_builtins, "frozenset"] = frozenset
    _SAFE_GLOBALS[_builtins, "bytes"] = _empty_bytes
for _copyreg in ("copy_reg", "copyreg"):
    _SAFE_GLOBALS[_copyreg, "_reconstructor"] = _reconstructor
_SAFE_GLOBALS["_codecs", "encode"] = _latin1_encode
for _fmt in ("csc", "csr"):
    _holder = type(f"{_fmt}_matrix", (_SparseState,), {"fmt": _fmt})
    for _module in (f"scipy.sparse.{_fmt}", f"scipy.sparse._{_fmt}"):  # old and new scipy
        _SAFE_GLOBALS[_module, f"{_fmt}_matrix"] = _SAFE_GLOBALS[_module, f"{_fmt}_array"] = _holder


class _RefusedGlobalError(pickle.UnpicklingError):
    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


_CHUMPY_STAND_INS: dict[str, type[_ChumpyObject]] = {}


class _RestrictedUnpickler(pickle.Unpickler):
    """Unpickler that resolves only the globals a FLAME file needs (see ``_SAFE_GLOBALS``)."""

    def find_class(self, module: str, name: str) -> Any:
        """Return the allowed object for ``module.name``; refuse anything else."""
        if (module, name) in _SAFE_GLOBALS:
            return _SAFE_GLOBALS[module, name]
        if module == "chumpy" or module.startswith("chumpy."):
            # Any chumpy class becomes an inert stand-in: chumpy is not imported, and only
            # plain Ch objects (which store an array) are accepted for the keys we use.
            full = f"{module}.{name}"
            if full not in _CHUMPY_STAND_INS:
                _CHUMPY_STAND_INS[full] = type(name, (_ChumpyObject,), {"global_name": full})
            return _CHUMPY_STAND_INS[full]
        raise _RefusedGlobalError(f"{module}.{name}")


def _unpickle(path: Path) -> Any:
    try:
        with path.open("rb") as f:
            # latin1 lets Python 2 ``str`` payloads (numpy buffers) come through byte for byte.
            return _RestrictedUnpickler(f, encoding="latin1").load()
    except _RefusedGlobalError as e:
        raise InvalidInputError(
            f"{path}: refused to load global {e.name!r} from the pickle; nothing was run. A "
            "FLAME file only needs numpy arrays and scipy sparse matrices, so this file is not "
            "a FLAME model or has been altered. Use the file from flame.is.tue.mpg.de."
        ) from e
    except (pickle.UnpicklingError, EOFError, OSError, ValueError, TypeError, AttributeError) as e:
        raise InvalidInputError(f"{path}: not a readable FLAME pickle ({e})") from e


def _to_array(value: Any, key: str, path: Path) -> np.ndarray:
    """Turn an unpickled value (array, chumpy stand-in, sparse stand-in) into a dense array."""
    if isinstance(value, _ChumpyObject):
        state = value.state if isinstance(value.state, dict) else {}
        if "x" not in state:
            raise InvalidInputError(
                f"{path}: key {key!r} holds a chumpy {value.global_name} expression rather than "
                "a stored array; re-export the model with plain numpy arrays."
            )
        return _to_array(state["x"], key, path)
    if isinstance(value, _SparseState):
        import scipy.sparse  # only needed for sparse regressors

        state = value.state if isinstance(value.state, dict) else {}
        try:
            parts = (state["data"], state["indices"], state["indptr"])
            shape = tuple(int(n) for n in state.get("_shape", state.get("shape")))
            cls = scipy.sparse.csc_matrix if value.fmt == "csc" else scipy.sparse.csr_matrix
            return cls(parts, shape=shape).toarray()
        except (KeyError, TypeError, ValueError) as e:
            raise InvalidInputError(
                f"{path}: key {key!r} is a malformed sparse matrix ({e})"
            ) from e
    try:
        array = np.asarray(value)
    except (TypeError, ValueError) as e:
        raise InvalidInputError(f"{path}: key {key!r} is not an array ({type(value)})") from e
    if array.dtype.kind not in "biuf":
        raise InvalidInputError(f"{path}: key {key!r} is not numeric (dtype {array.dtype})")
    return array


# ---------------------------------------------------------------------------------------------
# Reading and validating model files


@dataclass(frozen=True)
class FlameArrays:
    """The arrays of a FLAME model file, validated (float64 unless noted).

    Attributes:
        v_template: Mean face, shape ``(V, 3)``.
        shapedirs: Shape then expression blendshapes, shape ``(V, 3, K)``.
        posedirs: Pose-corrective blendshapes, shape ``(V, 3, (J - 1) * 9)``.
        j_regressor: Dense joint regressor, shape ``(J, V)``.
        weights: Skinning weights, shape ``(V, J)``.
        parents: Parent index per joint, ``-1`` for the root; parents precede children.
        faces: Triangles, shape ``(F, 3)``, int64.

    """

    v_template: np.ndarray
    shapedirs: np.ndarray
    posedirs: np.ndarray
    j_regressor: np.ndarray
    weights: np.ndarray
    parents: tuple[int, ...]
    faces: np.ndarray


def _parents_from_kintree(kintree: np.ndarray, path: Path) -> tuple[int, ...]:
    # Row 1 holds joint ids and row 0 their parents' ids; the root's parent is an invalid id
    # (2**32 - 1 in the official files, -1 in some conversions).
    ids = [int(i) for i in kintree[1]]
    column = {joint_id: col for col, joint_id in enumerate(ids)}
    parents = tuple(column.get(int(p), -1) for p in kintree[0])
    if parents[0] != -1 or any(not 0 <= p < j for j, p in enumerate(parents) if j > 0):
        raise InvalidInputError(
            f"{path}: kintree_table {kintree.tolist()} is not a tree rooted at joint 0 with "
            "parents listed before their children"
        )
    return parents


def _validate(raw: dict[str, np.ndarray], path: Path) -> FlameArrays:
    def fail(key: str, expected: str) -> InvalidInputError:
        return InvalidInputError(f"{path}: {key} has shape {raw[key].shape}, expected {expected}")

    v_template = raw["v_template"].astype(np.float64)
    if v_template.ndim != 2 or v_template.shape[1] != 3:
        raise fail("v_template", "(V, 3)")
    n_verts = v_template.shape[0]
    kintree = raw["kintree_table"]
    if kintree.ndim != 2 or kintree.shape != (2, FLAME_NUM_JOINTS):
        raise fail("kintree_table", f"(2, {FLAME_NUM_JOINTS}) for FLAME's 5 joints")
    parents = _parents_from_kintree(kintree.astype(np.int64), path)
    n_pose = (FLAME_NUM_JOINTS - 1) * 9
    expected = {
        "shapedirs": ((n_verts, 3, None), f"({n_verts}, 3, K) with K >= {N_EXPRESSION}"),
        "posedirs": ((n_verts, 3, n_pose), f"({n_verts}, 3, {n_pose})"),
        "J_regressor": ((FLAME_NUM_JOINTS, n_verts), f"({FLAME_NUM_JOINTS}, {n_verts})"),
        "weights": ((n_verts, FLAME_NUM_JOINTS), f"({n_verts}, {FLAME_NUM_JOINTS})"),
        "f": ((None, 3), "(F, 3)"),
    }
    for key, (want, text) in expected.items():
        got = raw[key].shape
        if len(got) != len(want) or any(w not in (None, g) for w, g in zip(want, got, strict=True)):
            raise fail(key, text)
    if raw["shapedirs"].shape[2] < N_EXPRESSION:
        raise fail("shapedirs", expected["shapedirs"][1])
    faces = raw["f"].astype(np.int64)
    if faces.size and (faces.min() < 0 or faces.max() >= n_verts):
        raise InvalidInputError(f"{path}: f indexes vertices outside 0..{n_verts - 1}")
    arrays = FlameArrays(
        v_template=v_template,
        shapedirs=raw["shapedirs"].astype(np.float64),
        posedirs=raw["posedirs"].astype(np.float64),
        j_regressor=raw["J_regressor"].astype(np.float64),
        weights=raw["weights"].astype(np.float64),
        parents=parents,
        faces=faces,
    )
    for name in ("v_template", "shapedirs", "posedirs", "j_regressor", "weights"):
        if not np.isfinite(getattr(arrays, name)).all():
            raise InvalidInputError(f"{path}: {name} contains NaN or infinite values")
    return arrays


def read_flame_file(path: str | os.PathLike[str]) -> FlameArrays:
    """Read and validate a FLAME model file (``.pkl`` pickle or converted ``.npz``).

    Args:
        path: The model file, e.g. ``generic_model.pkl`` or ``flame2023.pkl``.

    Returns:
        The validated arrays.

    Raises:
        InvalidInputError: If the file is unreadable, refers to anything besides arrays,
            sparse matrices and chumpy arrays, lacks a key, or has inconsistent shapes.

    """
    path = Path(path)
    if path.suffix.lower() == ".npz":
        try:
            with np.load(path, allow_pickle=False) as npz:
                data: dict[str, Any] = {k: npz[k] for k in npz.files if k in _REQUIRED_KEYS}
        except (OSError, ValueError) as e:
            raise InvalidInputError(f"{path}: not a readable .npz of plain arrays ({e})") from e
    else:
        data = _unpickle(path)
        if not isinstance(data, dict):
            raise InvalidInputError(f"{path}: expected a pickled dict, got {type(data).__name__}")
    missing = [k for k in _REQUIRED_KEYS if k not in data]
    if missing:
        raise InvalidInputError(f"{path}: not a FLAME model file, missing keys {missing}")
    return _validate({k: _to_array(data[k], k, path) for k in _REQUIRED_KEYS}, path)


def read_eyelid_blendshapes(path: str | os.PathLike[str]) -> np.ndarray:
    """Read SMIRK's two eyelid blendshapes, left then right.

    Args:
        path: An ``.npy`` holding a ``(2, V, 3)`` array, or an ``.npz`` with keys
            ``l_eyelid`` and ``r_eyelid`` (each ``(V, 3)``). SMIRK ships ``l_eyelid.npy``
            and ``r_eyelid.npy``; combine them with ``np.savez(out, l_eyelid=np.load(l),
            r_eyelid=np.load(r))``.

    Returns:
        Float64 array of shape ``(2, V, 3)``.

    """
    path = Path(path)
    try:
        loaded = np.load(path, allow_pickle=False)
        if isinstance(loaded, np.lib.npyio.NpzFile):
            with loaded:
                array = np.stack([loaded["l_eyelid"], loaded["r_eyelid"]])
        else:
            array = loaded
    except (OSError, ValueError, KeyError) as e:
        raise InvalidInputError(
            f"{path}: cannot read eyelid blendshapes ({e}); give a (2, V, 3) .npy or an .npz "
            "with keys l_eyelid and r_eyelid"
        ) from e
    if array.ndim != 3 or array.shape[0] != 2 or array.shape[2] != 3:
        raise InvalidInputError(
            f"{path}: eyelid blendshapes have shape {array.shape}, expected (2, V, 3)"
        )
    return array.astype(np.float64)


def resolve_flame_path(path: str | os.PathLike[str] | None) -> Path:
    """Return the FLAME model path from ``path`` or, if ``None``, ``$TDMM_FLAME_MODEL``.

    Raises:
        TdmmError: If neither is given, or the file does not exist.

    """
    source = "--flame-model"
    if path is None or str(path) == "":
        path, source = os.environ.get(FLAME_MODEL_ENV) or None, FLAME_MODEL_ENV
    if path is None:
        raise TdmmError(
            "no FLAME model file given: pass --flame-model PATH or set "
            f"{FLAME_MODEL_ENV}=PATH. FLAME cannot be shipped with tdmm-lm; register at "
            "https://flame.is.tue.mpg.de to download it (e.g. generic_model.pkl)."
        )
    resolved = Path(path).expanduser()
    if not resolved.is_file():
        raise TdmmError(f"FLAME model file {resolved} (from {source}) does not exist")
    return resolved
