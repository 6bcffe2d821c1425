"""glTF export: parse the .glb back with a small independent reader and check its contents."""

from __future__ import annotations

import json
import math
import struct
import sys
from pathlib import Path

import numpy as np
import pytest

from tdmm_lm.cli import main
from tdmm_lm.errors import InvalidInputError
from tdmm_lm.face import ARKIT, ARKIT_BLENDSHAPES, FaceModel, FaceSequence, rig
from tdmm_lm.face.gltf import EYE_TARGET_NAMES, euler_quaternions, write_glb
from tdmm_lm.face.io import convert_sequence, load_sequence, save_sequence

N_TARGETS = 58  # 52 blendshapes + 6 eye angles
DTYPES = {5126: np.dtype("<f4"), 5125: np.dtype("<u4"), 5123: np.dtype("<u2")}
COMPONENTS = {"SCALAR": 1, "VEC3": 3, "VEC4": 4}


@pytest.fixture(scope="module")
def model() -> FaceModel:
    return FaceModel()


# -- a minimal GLB reader, written from the spec and independent of the exporter ------------


def read_glb(path: Path) -> tuple[dict, bytes]:
    data = path.read_bytes()
    magic, version, length = struct.unpack_from("<4sII", data, 0)
    assert (magic, version, length) == (b"glTF", 2, len(data))
    json_length, json_type = struct.unpack_from("<I4s", data, 12)
    assert json_type == b"JSON" and json_length % 4 == 0
    text = data[20 : 20 + json_length]
    assert text.rstrip(b" ").endswith(b"}")  # JSON padding is spaces only
    bin_offset = 20 + json_length
    bin_length, bin_type = struct.unpack_from("<I4s", data, bin_offset)
    assert bin_type == b"BIN\x00" and bin_length % 4 == 0
    assert bin_offset + 8 + bin_length == len(data)
    return json.loads(text), data[bin_offset + 8 :]


def accessor(doc: dict, blob: bytes, index: int) -> np.ndarray:
    acc = doc["accessors"][index]
    view = doc["bufferViews"][acc["bufferView"]]
    assert view["byteOffset"] % 4 == 0 and "byteStride" not in view
    width = COMPONENTS[acc["type"]]
    dtype = DTYPES[acc["componentType"]]
    start = view["byteOffset"] + acc.get("byteOffset", 0)
    assert acc["count"] * width * dtype.itemsize <= view["byteLength"]
    array = np.frombuffer(blob, dtype, acc["count"] * width, start)
    return array.reshape(acc["count"], width) if width > 1 else array


def sampler_arrays(doc: dict, blob: bytes, path: str) -> tuple[np.ndarray, np.ndarray, int]:
    """(times, output, target node) of the animation channel animating ``path``."""
    (anim,) = doc["animations"]
    (channel,) = [c for c in anim["channels"] if c["target"]["path"] == path]
    sampler = anim["samplers"][channel["sampler"]]
    assert sampler["interpolation"] == "LINEAR"
    return (
        accessor(doc, blob, sampler["input"]),
        accessor(doc, blob, sampler["output"]),
        channel["target"]["node"],
    )


def quat_matrix(q: np.ndarray) -> np.ndarray:
    x, y, z, w = q
    return np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
            [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
            [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
        ]
    )


@pytest.fixture
def exported(tmp_path, make_sequence, model) -> tuple[FaceSequence, dict, bytes]:
    seq = make_sequence(n_frames=40, fps=25.0, meta={"prompt": "a wide smile"})
    path = write_glb(seq, tmp_path / "out.glb", model)
    assert path == tmp_path / "out.glb"
    doc, blob = read_glb(path)
    return seq, doc, blob


# -- structure --------------------------------------------------------------------------------


def test_container_and_buffer_layout(exported):
    _, doc, blob = exported
    assert doc["asset"]["version"] == "2.0"
    (buffer,) = doc["buffers"]
    assert "uri" not in buffer and buffer["byteLength"] <= len(blob) < buffer["byteLength"] + 4
    assert set(blob[buffer["byteLength"] :]) <= {0}  # BIN padding is zeros
    for view in doc["bufferViews"]:
        assert view["byteOffset"] + view["byteLength"] <= buffer["byteLength"]


def test_mesh_accessor_counts_and_target_names(exported, model):
    _, doc, blob = exported
    (mesh,) = doc["meshes"]
    names = mesh["extras"]["targetNames"]
    assert names[:52] == list(ARKIT_BLENDSHAPES)
    assert names[52:] == list(EYE_TARGET_NAMES) == list(ARKIT.channels[55:61])
    assert len(mesh["weights"]) == N_TARGETS
    topo = model.topology
    expected = [topo.skin, np.concatenate([topo.eye_left, topo.eye_right]), topo.mouth]
    assert len(mesh["primitives"]) == 3
    for prim, triangles in zip(mesh["primitives"], expected, strict=True):
        assert prim["mode"] == 4
        np.testing.assert_array_equal(accessor(doc, blob, prim["indices"]), triangles.ravel())
        assert doc["accessors"][prim["attributes"]["POSITION"]]["count"] == 478
        assert len(prim["targets"]) == N_TARGETS
        for target in prim["targets"]:
            assert doc["accessors"][target["POSITION"]]["count"] == 478
    colours = [doc["materials"][p["material"]]["pbrMetallicRoughness"] for p in mesh["primitives"]]
    assert colours[1]["baseColorFactor"][0] > colours[0]["baseColorFactor"][0]  # white eyes
    assert colours[2]["baseColorFactor"][0] < 0.5  # a dark mouth


def test_positions_normals_and_bounds(exported, model):
    _, doc, blob = exported
    prim = doc["meshes"][0]["primitives"][0]
    index = prim["attributes"]["POSITION"]
    positions = accessor(doc, blob, index)
    np.testing.assert_allclose(positions, model.neutral / 1000.0, rtol=1e-6, atol=1e-9)
    acc = doc["accessors"][index]
    assert acc["min"] == positions.min(axis=0).tolist()
    assert acc["max"] == positions.max(axis=0).tolist()
    normals = accessor(doc, blob, prim["attributes"]["NORMAL"])
    np.testing.assert_allclose(np.linalg.norm(normals, axis=1), 1.0, atol=1e-6)
    for k, target in enumerate(prim["targets"][:52]):
        delta = accessor(doc, blob, target["POSITION"])
        np.testing.assert_allclose(delta, model.blendshapes[k] / 1000.0, rtol=1e-6, atol=1e-9)
        assert doc["accessors"][target["POSITION"]]["min"] == delta.min(axis=0).tolist()
        assert doc["accessors"][target["POSITION"]]["max"] == delta.max(axis=0).tolist()


def test_head_pivot_hierarchy(exported, model):
    _, doc, _ = exported
    (root,) = doc["scenes"][doc["scene"]]["nodes"]
    (head_index,) = doc["nodes"][root]["children"]
    head = doc["nodes"][head_index]
    (face_index,) = head["children"]
    face = doc["nodes"][face_index]
    assert face["mesh"] == 0
    np.testing.assert_allclose(head["translation"], model.neck_pivot / 1000.0, rtol=1e-6)
    np.testing.assert_allclose(face["translation"], -model.neck_pivot / 1000.0, rtol=1e-6)
    extras = doc["nodes"][root]["extras"]
    assert extras["meta"] == {"prompt": "a wide smile"} and extras["fps"] == 25.0


# -- animation ----------------------------------------------------------------------------------


def test_weights_channel_holds_the_sequence_exactly(exported):
    seq, doc, blob = exported
    times, weights, node = sampler_arrays(doc, blob, "weights")
    assert "mesh" in doc["nodes"][node]
    np.testing.assert_array_equal(times, (np.arange(40) / 25.0).astype(np.float32))
    time_acc = doc["accessors"][doc["animations"][0]["samplers"][0]["input"]]
    assert (time_acc["min"], time_acc["max"]) == ([0.0], [float(np.float32(39 / 25.0))])
    assert weights.shape == (40 * N_TARGETS,)
    keyed = weights.reshape(40, N_TARGETS)
    np.testing.assert_array_equal(keyed[:, :52], seq.params[:, :52])
    np.testing.assert_array_equal(keyed[:, 52:], seq.params[:, 55:61])  # eye angles, radians


def test_head_yaw_quaternion(tmp_path):
    params = np.zeros((3, ARKIT.dim), np.float32)
    params[1, ARKIT.index("headYaw")] = 0.3
    doc, blob = read_glb(write_glb(FaceSequence(params), tmp_path / "yaw.glb"))
    _, rotations, node = sampler_arrays(doc, blob, "rotation")
    assert doc["nodes"][node]["name"] == "head"
    half = np.float32(0.3) / 2
    np.testing.assert_allclose(rotations[1], [0, math.sin(half), 0, math.cos(half)], atol=1e-7)
    np.testing.assert_allclose(rotations[0], [0, 0, 0, 1], atol=1e-7)


def test_quaternions_match_the_rig_matrices():
    rng = np.random.default_rng(3)
    yaw, pitch, roll = rng.uniform(-1.5, 1.5, size=(3, 50))
    quats = euler_quaternions(yaw, pitch, roll)
    matrices = rig.euler_matrices(yaw, pitch, roll)
    for q, matrix in zip(quats, matrices, strict=True):
        np.testing.assert_allclose(quat_matrix(q), matrix, atol=1e-12)
    assert np.all(np.sum(quats[1:] * quats[:-1], axis=1) >= 0)  # consecutive keys agree


@pytest.mark.parametrize("eye_angle", [0.0, 0.05])
def test_posed_mesh_matches_the_face_model(tmp_path, make_sequence, model, eye_angle):
    """Morphs + node transforms reproduce FaceModel.vertices (eye rotation to first order)."""
    seq = make_sequence(n_frames=4, seed=7)
    params = seq.params.copy()
    params[:, 55:61] = eye_angle
    if eye_angle:
        # The eyeLook shapes move the iris too; rotating those offsets is a product of two
        # weights, which linear morph targets cannot hold. Leave them out of this check.
        params[:, [i for i, name in enumerate(ARKIT_BLENDSHAPES) if "eyeLook" in name]] = 0
    seq = seq.with_params(params)
    doc, blob = read_glb(write_glb(seq, tmp_path / "posed.glb", model))
    prim = doc["meshes"][0]["primitives"][0]
    base = accessor(doc, blob, prim["attributes"]["POSITION"]).astype(np.float64)
    deltas = np.stack([accessor(doc, blob, t["POSITION"]) for t in prim["targets"]])
    _, weights, _ = sampler_arrays(doc, blob, "weights")
    _, rotations, _ = sampler_arrays(doc, blob, "rotation")
    head = doc["nodes"][1]
    pivot = np.array(head["translation"])
    offset = np.array(doc["nodes"][2]["translation"])
    expected = model.vertices(seq.params) / 1000.0  # (T, V, 3) metres
    for frame in range(seq.n_frames):
        local = base + np.tensordot(weights.reshape(-1, N_TARGETS)[frame], deltas, 1) + offset
        world = local @ quat_matrix(rotations[frame].astype(np.float64)).T + pivot
        # 1e-6 m is float32 noise. Linearised, all three eye angles at 0.05 rad (a 0.087 rad
        # turn) miss the arc by r θ² / 2 ≈ 13.5 mm × 0.087² / 2 ≈ 0.05 mm.
        tolerance = 1e-6 if eye_angle == 0 else 6e-5
        np.testing.assert_allclose(world, expected[frame], atol=tolerance)


def test_empty_sequence_exports_the_mesh_only(tmp_path):
    doc, _ = read_glb(write_glb(FaceSequence(np.zeros((0, ARKIT.dim))), tmp_path / "e.glb"))
    assert "animations" not in doc and len(doc["meshes"]) == 1


# -- errors, io and CLI -----------------------------------------------------------------------


def test_flame_is_refused_and_nothing_is_written(tmp_path, make_sequence):
    with pytest.raises(InvalidInputError, match="only arkit"):
        write_glb(make_sequence(space="flame"), tmp_path / "f.glb")
    assert list(tmp_path.iterdir()) == []


def test_io_writes_glb_and_refuses_to_read_it(tmp_path, make_sequence):
    seq = make_sequence(n_frames=45, fps=30.0)
    save_sequence(seq, tmp_path / "take.csv")
    written = convert_sequence(tmp_path / "take.csv", tmp_path / "take.glb")
    assert written.n_frames == 45
    assert (tmp_path / "take.glb").read_bytes()[:4] == b"glTF"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["take.csv", "take.glb"]  # no temp
    with pytest.raises(InvalidInputError, match="export format"):
        load_sequence(tmp_path / "take.glb")


def test_cli_convert_npz_to_glb(tmp_path, monkeypatch, make_sequence):
    make_sequence().save(tmp_path / "x.npz")
    monkeypatch.setattr(
        sys, "argv", ["tdmm", "convert", str(tmp_path / "x.npz"), str(tmp_path / "x.glb")]
    )
    with pytest.raises(SystemExit) as exit_info:
        main()
    assert exit_info.value.code in (0, None)
    assert (tmp_path / "x.glb").read_bytes().startswith(b"glTF")


# -- independent validators, when installed ------------------------------------------------------


def test_pygltflib_reads_the_file(exported, tmp_path):
    pygltflib = pytest.importorskip("pygltflib")
    seq, _, _ = exported
    gltf = pygltflib.GLTF2().load(str(tmp_path / "out.glb"))
    assert gltf.meshes[0].extras["targetNames"][:52] == list(ARKIT_BLENDSHAPES)
    assert gltf.accessors[gltf.animations[0].samplers[0].input].count == seq.n_frames


def test_trimesh_loads_the_scene(exported, tmp_path, model):
    trimesh = pytest.importorskip("trimesh")
    scene = trimesh.load(str(tmp_path / "out.glb"), force="scene")
    n_faces = sum(len(g.faces) for g in scene.geometry.values())
    topo = model.topology
    assert n_faces == sum(len(t) for t in (topo.skin, topo.eye_left, topo.eye_right, topo.mouth))
    # At rest the head rotation is identity, so the mesh sits where the model's neutral is.
    lo, hi = scene.bounds
    np.testing.assert_allclose(lo, model.neutral.min(axis=0) / 1000.0, atol=1e-6)
    np.testing.assert_allclose(hi, model.neutral.max(axis=0) / 1000.0, atol=1e-6)
