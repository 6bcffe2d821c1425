"""Tests for the FLAME layer: safe loading, skinning math, numpy/torch paths."""

from __future__ import annotations

import logging
import os
import pickle
import struct
import sys
import types
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import scipy.sparse
import torch
from scipy.spatial.transform import Rotation

from tdmm_lm.errors import InvalidInputError, TdmmError
from tdmm_lm.face.flame import (
    FLAME_MODEL_ENV,
    FlameModel,
    load_flame,
    read_flame_file,
    resolve_flame_path,
)
from tdmm_lm.face.lbs import axis_angle_to_matrix

N_VERTS = 20
N_PARAMS = 58
EXPR = slice(0, 50)
JAW = slice(50, 53)
EYELIDS = slice(53, 55)
HEAD = slice(55, 58)
JAW_JOINT = 2
KINTREE = np.array([[4294967295, 0, 1, 1, 1], [0, 1, 2, 3, 4]], dtype=np.int64)


def make_flame_dict(
    n_dirs: int = 400, sparse_regressor: bool = False, zero_posedirs: bool = False
) -> dict[str, Any]:
    """A tiny model in the FLAME file layout; lower half of the face hangs on the jaw."""
    rng = np.random.default_rng(0)
    v_template = rng.uniform(-1.0, 1.0, size=(N_VERTS, 3))
    regressor = rng.uniform(0.0, 1.0, size=(5, N_VERTS))
    regressor /= regressor.sum(axis=1, keepdims=True)
    # Weights are dyadic so each row sums to exactly 1 in floating point.
    weights = np.zeros((N_VERTS, 5))
    lower = v_template[:, 1] < 0
    weights[lower, JAW_JOINT] = 1.0
    weights[~lower, 0] = 0.5
    weights[~lower, 1] = 0.5
    posedirs = (
        np.zeros((N_VERTS, 3, 36)) if zero_posedirs else rng.normal(0, 0.01, (N_VERTS, 3, 36))
    )
    return {
        "v_template": v_template,
        "shapedirs": rng.normal(0.0, 0.01, size=(N_VERTS, 3, n_dirs)),
        "posedirs": posedirs,
        "J_regressor": scipy.sparse.csc_matrix(regressor) if sparse_regressor else regressor,
        "weights": weights,
        "kintree_table": KINTREE,
        "f": np.array([[0, 1, 2], [2, 3, 4], [5, 6, 19]], dtype=np.uint32),
        "bs_style": "lbs",  # extra keys are ignored
    }


def write_pickle(path: Path, obj: Any, protocol: int = 2) -> Path:
    with path.open("wb") as f:
        pickle.dump(obj, f, protocol=protocol)
    return path


def dense(d: dict[str, Any], key: str) -> np.ndarray:
    value = d[key]
    return value.toarray() if scipy.sparse.issparse(value) else value


def model64(path: Path, eyelids: np.ndarray | None = None) -> FlameModel:
    """A float64 model, so comparisons with the float64 reference can be tight."""
    return FlameModel(read_flame_file(path), eyelid_blendshapes=eyelids, dtype=torch.float64)


@pytest.fixture
def flame_dict() -> dict[str, Any]:
    return make_flame_dict()


@pytest.fixture
def model(tmp_path: Path, flame_dict: dict[str, Any]) -> FlameModel:
    return load_flame(write_pickle(tmp_path / "generic_model.pkl", flame_dict))


# ---------------------------------------------------------------------------------------------
# loading


@pytest.mark.parametrize("sparse_regressor", [False, True])
@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_loads_flame_pickle(tmp_path: Path, sparse_regressor: bool, protocol: int) -> None:
    d = make_flame_dict(sparse_regressor=sparse_regressor)
    arrays = read_flame_file(write_pickle(tmp_path / "m.pkl", d, protocol))
    np.testing.assert_array_equal(arrays.j_regressor, dense(d, "J_regressor"))
    np.testing.assert_array_equal(arrays.v_template, d["v_template"])
    assert arrays.parents == (-1, 0, 1, 1, 1)
    model = FlameModel(arrays)
    assert model.vertices(np.zeros((4, N_PARAMS))).shape == (4, N_VERTS, 3)
    assert model.faces.shape == (3, 3) and model.faces.dtype == np.int64
    assert model.state_dict() == {}  # the licensed arrays never reach a checkpoint


def test_npz_matches_pickle(tmp_path: Path, flame_dict: dict[str, Any]) -> None:
    npz = tmp_path / "flame.npz"
    np.savez(npz, **{k: dense(flame_dict, k) for k in flame_dict if k != "bs_style"})
    params = np.random.default_rng(1).normal(0, 0.2, (3, N_PARAMS))
    from_npz = load_flame(npz).vertices(params)
    from_pkl = load_flame(write_pickle(tmp_path / "m.pkl", flame_dict)).vertices(params)
    np.testing.assert_array_equal(from_npz, from_pkl)


def test_npz_with_object_array_is_refused(tmp_path: Path, flame_dict: dict[str, Any]) -> None:
    npz = tmp_path / "flame.npz"
    arrays = {k: dense(flame_dict, k) for k in flame_dict if k != "bs_style"}
    arrays["f"] = np.array([object()] * 3, dtype=object)
    np.savez(npz, **arrays)
    with pytest.raises(InvalidInputError, match=r"flame\.npz"):
        read_flame_file(npz)


@pytest.mark.parametrize(
    ("key", "value", "match"),
    [
        ("posedirs", np.zeros((N_VERTS, 3, 35)), "posedirs has shape"),
        ("weights", np.zeros((N_VERTS + 1, 5)), "weights has shape"),
        ("shapedirs", np.zeros((N_VERTS, 3, 10)), "shapedirs has shape"),
        ("kintree_table", np.array([[-1, 0, 1, 3, 1], [0, 1, 2, 3, 4]]), "kintree_table"),
        ("f", np.array([[0, 1, N_VERTS]]), "outside"),
        ("v_template", np.full((N_VERTS, 3), np.nan), "NaN"),
    ],
)
def test_bad_shapes_are_reported(
    tmp_path: Path, flame_dict: dict[str, Any], key: str, value: np.ndarray, match: str
) -> None:
    flame_dict[key] = value
    with pytest.raises(InvalidInputError, match=match):
        read_flame_file(write_pickle(tmp_path / "m.pkl", flame_dict))


def test_missing_key_is_reported(tmp_path: Path, flame_dict: dict[str, Any]) -> None:
    del flame_dict["weights"]
    with pytest.raises(InvalidInputError, match=r"missing keys.*weights"):
        read_flame_file(write_pickle(tmp_path / "m.pkl", flame_dict))


def test_truncated_pickle_is_reported(tmp_path: Path, flame_dict: dict[str, Any]) -> None:
    path = write_pickle(tmp_path / "m.pkl", flame_dict)
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(InvalidInputError, match=r"m\.pkl"):
        read_flame_file(path)


def test_reduced_shape_count(tmp_path: Path) -> None:
    arrays = read_flame_file(write_pickle(tmp_path / "m.pkl", make_flame_dict(n_dirs=60)))
    with pytest.raises(InvalidInputError, match="n_shape=300"):
        FlameModel(arrays)
    model = FlameModel(arrays, n_shape=10)
    expression = np.zeros((1, N_PARAMS))
    expression[0, 0] = 1.0
    expected = arrays.v_template + arrays.shapedirs[:, :, 10]
    np.testing.assert_allclose(model.vertices(expression)[0], expected, atol=1e-6)


# ---------------------------------------------------------------------------------------------
# safety


class _RunsShell:
    def __init__(self, command: str) -> None:
        self.command = command

    def __reduce__(self) -> tuple[Any, ...]:
        return (os.system, (self.command,))


class _CallsEval:
    def __reduce__(self) -> tuple[Any, ...]:
        return (eval, ("1 + 1",))


def test_os_system_payload_is_refused(tmp_path: Path, flame_dict: dict[str, Any]) -> None:
    marker = tmp_path / "pwned"
    flame_dict["weights"] = _RunsShell(f"echo pwned > {marker}")
    path = write_pickle(tmp_path / "evil.pkl", flame_dict)
    with pytest.raises(InvalidInputError, match=r"evil\.pkl.*(posix|os)\.system"):
        read_flame_file(path)
    assert not marker.exists()


def test_eval_payload_is_refused(tmp_path: Path) -> None:
    path = write_pickle(tmp_path / "evil.pkl", {"v_template": _CallsEval()}, protocol=4)
    with pytest.raises(InvalidInputError, match=r"builtins\.eval"):
        read_flame_file(path)


class _FakeCh:
    """Mimics chumpy's Ch pickling: the state dict holds the array under 'x' and a set."""

    def __init__(self, x: np.ndarray) -> None:
        self.x = x
        self._dirty_vars: set[str] = set()
        self._itr = None

    def __getstate__(self) -> dict[str, Any]:
        return dict(self.__dict__)


class _FakeChExpression(_FakeCh):
    def __getstate__(self) -> dict[str, Any]:
        return {"a": self.x, "_dirty_vars": set()}


def _write_chumpy_pickle(path: Path, d: dict[str, Any], protocol: int) -> Path:
    # Register the fake classes as chumpy.ch.Ch etc. only while writing the file.
    chumpy = types.ModuleType("chumpy")
    chumpy_ch = types.ModuleType("chumpy.ch")
    chumpy_ops = types.ModuleType("chumpy.ch_ops")
    chumpy.ch, chumpy.ch_ops = chumpy_ch, chumpy_ops  # type: ignore[attr-defined]
    saved = (_FakeCh.__module__, _FakeCh.__qualname__)
    _FakeCh.__module__, _FakeCh.__qualname__ = "chumpy.ch", "Ch"
    _FakeChExpression.__module__, _FakeChExpression.__qualname__ = "chumpy.ch_ops", "add"
    chumpy_ch.Ch, chumpy_ops.add = _FakeCh, _FakeChExpression  # type: ignore[attr-defined]
    sys.modules.update({"chumpy": chumpy, "chumpy.ch": chumpy_ch, "chumpy.ch_ops": chumpy_ops})
    try:
        return write_pickle(path, d, protocol)
    finally:
        for name in ("chumpy", "chumpy.ch", "chumpy.ch_ops"):
            del sys.modules[name]
        _FakeCh.__module__, _FakeCh.__qualname__ = saved
        _FakeChExpression.__module__ = saved[0]
        _FakeChExpression.__qualname__ = "_FakeChExpression"


@pytest.mark.parametrize("protocol", [0, 1, 2])
def test_chumpy_pickle_loads_without_chumpy(
    tmp_path: Path, flame_dict: dict[str, Any], protocol: int
) -> None:
    expected = {k: flame_dict[k] for k in ("v_template", "shapedirs")}
    flame_dict["v_template"] = _FakeCh(flame_dict["v_template"])
    flame_dict["shapedirs"] = _FakeCh(_FakeCh(flame_dict["shapedirs"]))  # Ch wrapping a Ch
    flame_dict["J"] = _FakeChExpression(np.zeros(3))  # an ignored key may hold an expression
    path = _write_chumpy_pickle(tmp_path / "generic_model.pkl", flame_dict, protocol)
    assert "chumpy" not in sys.modules
    arrays = read_flame_file(path)
    assert "chumpy" not in sys.modules
    np.testing.assert_array_equal(arrays.v_template, expected["v_template"])
    np.testing.assert_array_equal(arrays.shapedirs, expected["shapedirs"])


class _Py2StylePickler(pickle._Pickler):  # type: ignore[name-defined]
    """Writes bytes as Python 2 ``str`` opcodes, as the official FLAME files do."""

    dispatch = pickle._Pickler.dispatch.copy()  # type: ignore[attr-defined]

    def save_py2_str(self, obj: bytes) -> None:
        if len(obj) < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([len(obj)]) + obj)
        else:
            self.write(pickle.BINSTRING + struct.pack("<i", len(obj)) + obj)
        self.memoize(obj)

    dispatch[bytes] = save_py2_str


def test_python2_style_pickle_loads(tmp_path: Path) -> None:
    d = make_flame_dict(sparse_regressor=True)
    path = tmp_path / "generic_model.pkl"
    with path.open("wb") as f:
        _Py2StylePickler(f, protocol=2).dump(d)
    assert b"_codecs" not in path.read_bytes()
    arrays = read_flame_file(path)
    np.testing.assert_array_equal(arrays.shapedirs, d["shapedirs"])
    np.testing.assert_array_equal(arrays.j_regressor, d["J_regressor"].toarray())


def test_chumpy_expression_in_required_key_is_reported(
    tmp_path: Path, flame_dict: dict[str, Any]
) -> None:
    flame_dict["posedirs"] = _FakeChExpression(flame_dict["posedirs"])
    path = _write_chumpy_pickle(tmp_path / "m.pkl", flame_dict, 2)
    with pytest.raises(InvalidInputError, match=r"posedirs.*chumpy\.ch_ops\.add"):
        read_flame_file(path)


# ---------------------------------------------------------------------------------------------
# geometry


def test_rest_pose_is_the_template(model: FlameModel, flame_dict: dict[str, Any]) -> None:
    out = model.vertices(np.zeros((3, N_PARAMS), dtype=np.float32))
    assert out.dtype == np.float32
    for frame in out:
        np.testing.assert_array_equal(frame, flame_dict["v_template"].astype(np.float32))


def test_jaw_rotation_moves_only_the_jaw(tmp_path: Path) -> None:
    d = make_flame_dict(zero_posedirs=True)
    model = model64(write_pickle(tmp_path / "m.pkl", d))
    params = np.zeros((1, N_PARAMS))
    params[0, JAW] = [0.3, 0.0, 0.0]
    out = model.vertices(params)[0]

    v = d["v_template"]
    jaw_joint = d["J_regressor"][JAW_JOINT] @ v
    rotation = Rotation.from_rotvec([0.3, 0.0, 0.0]).as_matrix()
    on_jaw = d["weights"][:, JAW_JOINT] == 1.0
    assert on_jaw.any() and (~on_jaw).any()
    np.testing.assert_allclose(out[on_jaw], (v[on_jaw] - jaw_joint) @ rotation.T + jaw_joint)
    np.testing.assert_array_equal(out[~on_jaw], v[~on_jaw])


def test_head_rotation_rotates_everything_about_the_root(
    tmp_path: Path, flame_dict: dict[str, Any]
) -> None:
    model = model64(write_pickle(tmp_path / "m.pkl", flame_dict))
    params = np.zeros((1, N_PARAMS))
    params[0, HEAD] = [0.1, -0.4, 0.25]
    out = model.vertices(params)[0]
    v = flame_dict["v_template"]
    root = flame_dict["J_regressor"][0] @ v
    rotation = Rotation.from_rotvec(params[0, HEAD]).as_matrix()
    np.testing.assert_allclose(out, (v - root) @ rotation.T + root, atol=1e-12)


def test_expression_and_shape_blendshapes_add(tmp_path: Path, flame_dict: dict[str, Any]) -> None:
    model = model64(write_pickle(tmp_path / "m.pkl", flame_dict))
    rng = np.random.default_rng(2)
    params = np.zeros((2, N_PARAMS))
    params[:, EXPR] = rng.normal(size=(2, 50))
    shape = rng.normal(size=7)
    out = model.vertices(params, shape=shape)
    dirs = flame_dict["shapedirs"]
    expected = flame_dict["v_template"] + dirs[:, :, :7] @ shape
    expected = expected + np.einsum("vck,tk->tvc", dirs[:, :, 300:350], params[:, EXPR])
    np.testing.assert_allclose(out, expected, atol=1e-12)


def test_numpy_and_torch_paths_agree(model: FlameModel) -> None:
    rng = np.random.default_rng(3)
    params = rng.normal(0.0, 0.3, (5, N_PARAMS)).astype(np.float32)
    shape = rng.normal(size=(5, 300)).astype(np.float32)
    out_np = model.vertices(params, shape=shape)
    out_t = model.vertices(torch.from_numpy(params), shape=torch.from_numpy(shape))
    assert isinstance(out_np, np.ndarray) and isinstance(out_t, torch.Tensor)
    np.testing.assert_allclose(out_np, out_t.numpy(), rtol=1e-6, atol=1e-6)


def test_long_sequences_are_chunked_consistently(model: FlameModel) -> None:
    rng = np.random.default_rng(4)
    params = torch.from_numpy(rng.normal(0.0, 0.3, (300, N_PARAMS)).astype(np.float32))
    shape = torch.from_numpy(rng.normal(size=(300, 5)).astype(np.float32))
    torch.testing.assert_close(model.vertices(params, shape), model(params, shape))


@pytest.mark.parametrize("scale", [0.0, 0.3])
def test_gradients_flow(model: FlameModel, scale: float) -> None:
    params = torch.full((2, N_PARAMS), scale, requires_grad=True)
    shape = torch.zeros(10, requires_grad=True)
    model.vertices(params, shape).pow(2).sum().backward()
    assert params.grad is not None and shape.grad is not None
    assert torch.isfinite(params.grad).all() and torch.isfinite(shape.grad).all()
    for group in (EXPR, JAW, HEAD):
        assert params.grad[:, group].abs().sum() > 0
    assert shape.grad.abs().sum() > 0


def test_eyelid_blendshapes_add_linearly(tmp_path: Path) -> None:
    d = make_flame_dict(zero_posedirs=True)
    eyelids = np.random.default_rng(5).normal(0.0, 0.1, (2, N_VERTS, 3))
    eyelid_path = tmp_path / "eyelids.npz"
    np.savez(eyelid_path, l_eyelid=eyelids[0], r_eyelid=eyelids[1])
    assert load_flame(write_pickle(tmp_path / "m.pkl", d), eyelid_path=eyelid_path).has_eyelids
    model = model64(tmp_path / "m.pkl", eyelids=eyelids)
    params = np.zeros((3, N_PARAMS))
    params[:, EYELIDS] = [[1.0, 0.0], [0.0, 0.5], [0.7, -0.2]]
    out = model.vertices(params)
    expected = d["v_template"] + np.einsum("ti,ivc->tvc", params[:, EYELIDS], eyelids)
    np.testing.assert_allclose(out, expected, atol=1e-12)


def test_eyelids_without_blendshapes_warn_once(
    model: FlameModel, flame_dict: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    params = np.zeros((1, N_PARAMS), dtype=np.float32)
    params[0, EYELIDS] = [1.0, 1.0]
    with caplog.at_level(logging.WARNING, logger="tdmm_lm.face.flame"):
        out = model.vertices(params)
        model.vertices(params)
    np.testing.assert_array_equal(out[0], flame_dict["v_template"].astype(np.float32))
    assert sum("eyelid" in r.message for r in caplog.records) == 1


def test_eyelid_npy_with_wrong_vertex_count(tmp_path: Path, flame_dict: dict[str, Any]) -> None:
    np.save(tmp_path / "eyelids.npy", np.zeros((2, N_VERTS + 1, 3)))
    path = write_pickle(tmp_path / "m.pkl", flame_dict)
    with pytest.raises(InvalidInputError, match="eyelid"):
        load_flame(path, eyelid_path=tmp_path / "eyelids.npy")


def test_bad_params_shape(model: FlameModel) -> None:
    with pytest.raises(InvalidInputError, match="expected \\(T, 58\\)"):
        model.vertices(np.zeros((2, 61)))
    with pytest.raises(InvalidInputError, match="S <= 300"):
        model.vertices(np.zeros((2, N_PARAMS)), shape=np.zeros(301))


def test_axis_angle_matches_scipy() -> None:
    rng = np.random.default_rng(6)
    vectors = np.concatenate([rng.normal(size=(50, 3)), rng.normal(size=(5, 3)) * 1e-5])
    vectors = np.concatenate([vectors, np.zeros((1, 3))])
    got = axis_angle_to_matrix(torch.from_numpy(vectors)).numpy()
    np.testing.assert_allclose(got, Rotation.from_rotvec(vectors).as_matrix(), atol=1e-12)
    np.testing.assert_array_equal(got[-1], np.eye(3))


# ---------------------------------------------------------------------------------------------
# path resolution


def test_resolve_needs_a_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(FLAME_MODEL_ENV, raising=False)
    with pytest.raises(TdmmError, match=f"--flame-model.*{FLAME_MODEL_ENV}"):
        resolve_flame_path(None)


def test_resolve_reads_env_and_reports_missing_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, flame_dict: dict[str, Any]
) -> None:
    path = write_pickle(tmp_path / "generic_model.pkl", flame_dict)
    monkeypatch.setenv(FLAME_MODEL_ENV, str(path))
    assert resolve_flame_path(None) == path
    assert load_flame().num_vertices == N_VERTS
    with pytest.raises(TdmmError, match="does not exist"):
        resolve_flame_path(tmp_path / "nope.pkl")
