"""Export an ``arkit`` :class:`FaceSequence` as a binary glTF 2.0 file (``.glb``, SPEC §2).

The file holds the built-in face model and one animation, and opens in Blender and three.js::

    scene
    └── root "tdmm_face"   extras: space, fps, frames, the sequence's meta
        └── "head"         translation = neck pivot; rotation animated (head yaw/pitch/roll)
            └── "face"     translation = -neck pivot; mesh with 58 morph targets; weights animated

* **Mesh:** the neutral shape in metres with per-vertex normals, as three primitives sharing
  one vertex array: skin (light grey), eyes (white) and mouth (dark, double-sided because
  its fill triangles are not consistently wound).
* **Morph targets:** the 52 ARKit blendshapes (``POSITION`` deltas in metres, weight = the
  blendshape value), then 6 eye-rotation targets ``leftEyeYaw`` … ``rightEyeRoll``. Eye
  rotations only move the iris points, which share triangles with the eyelids, so they
  cannot live on a separate rotating node; instead each is linearised: its target is the
  derivative of the iris points with respect to the angle at rest, so weight = angle in
  radians. Two second-order terms are lost: the arc's curvature (at 0.3 rad the iris is
  off by about 0.5 mm) and the rotation of the ``eyeLook*`` blendshapes' own iris offsets
  (up to 4 mm at weight 1, so about angle × 4 mm). Names are in ``mesh.extras.targetNames``,
  the convention Blender and three.js read.
* **Animation:** LINEAR keys at ``frame / fps`` seconds: the mesh node's ``weights`` and
  the head node's ``rotation`` (quaternions from :mod:`tdmm_lm.face.rig`'s convention,
  ``R = R_y(yaw) R_x(pitch) R_z(-roll)``).

The model's axes (x to the subject's left, y up, z toward the viewer) are glTF's (+y up,
the asset's front facing +z), so no axis change is needed; only mm become metres.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any

import numpy as np

from tdmm_lm.errors import InvalidInputError
from tdmm_lm.face import rig
from tdmm_lm.face.model import FaceModel
from tdmm_lm.face.sequence import FaceSequence, PathLike
from tdmm_lm.face.spaces import ARKIT, ARKIT_BLENDSHAPES
from tdmm_lm.face.topology import IRIS_LEFT, IRIS_RIGHT
from tdmm_lm.files import atomic_write

__all__ = [
    "EYE_TARGET_NAMES",
    "MORPH_TARGET_NAMES",
    "build_gltf",
    "euler_quaternions",
    "pack_glb",
    "write_glb",
]

# -- GLB container (glTF 2.0 spec, "GLB File Format Specification") -----------------------------
GLB_MAGIC = 0x46546C67  # b"glTF" read as a little-endian uint32
GLB_VERSION = 2
CHUNK_JSON = 0x4E4F534A  # b"JSON"
CHUNK_BIN = 0x004E4942  # b"BIN\0"
GLB_HEADER = struct.Struct("<III")  # magic, version, total length
CHUNK_HEADER = struct.Struct("<II")  # chunk length, chunk type
ALIGNMENT = 4  # chunks and buffer views start on 4-byte boundaries
JSON_PADDING = b" "
BIN_PADDING = b"\x00"

# -- glTF enums ------------------------------------------------------------------------------
FLOAT = 5126
UNSIGNED_INT = 5125
ARRAY_BUFFER = 34962
ELEMENT_ARRAY_BUFFER = 34963
TRIANGLES = 4
_COMPONENTS = {"SCALAR": 1, "VEC3": 3, "VEC4": 4}

# -- content -----------------------------------------------------------------------------------
METRES_PER_MM = 1e-3  # the face model is in mm, glTF in metres
#: The ``arkit`` eye-rotation channels that become morph targets, in channel order.
_EYE_CHANNELS = slice(55, 61)  # leftEyeYaw … rightEyeRoll
EYE_TARGET_NAMES: tuple[str, ...] = ARKIT.channels[_EYE_CHANNELS]
_HEAD_CHANNELS = (52, 53, 54)  # headYaw, headPitch, headRoll
#: All morph-target names: the 52 ARKit blendshapes, then the eye rotations.
MORPH_TARGET_NAMES: tuple[str, ...] = ARKIT_BLENDSHAPES + EYE_TARGET_NAMES
#: Half-step of the central difference that linearises the eye rotations (radians); small
#: enough that the O(h²) error is far below float32 resolution of the deltas.
_DERIVATIVE_STEP = 1e-4
_FALLBACK_NORMAL = (0.0, 0.0, 1.0)  # for a vertex no triangle touches: face the viewer
_ROUGHNESS = 0.7
_SKIN_COLOUR = (0.78, 0.76, 0.74, 1.0)
_EYE_COLOUR = (0.95, 0.95, 0.95, 1.0)
_MOUTH_COLOUR = (0.12, 0.04, 0.04, 1.0)


def euler_quaternions(yaw: np.ndarray, pitch: np.ndarray, roll: np.ndarray) -> np.ndarray:
    """Unit quaternions of the rig's rotation ``R = R_y(yaw) R_x(pitch) R_z(-roll)``.

    Consecutive quaternions are kept in the same hemisphere (q and -q are the same
    rotation) so that interpolating between keys takes the short way.

    Args:
        yaw: (T,) rotations about +y in radians.
        pitch: (T,) rotations about +x in radians.
        roll: (T,) rotations about -z in radians.

    Returns:
        (T, 4) float64 quaternions ``(x, y, z, w)``, glTF's order.
    """
    half_yaw, half_pitch, half_roll = (np.asarray(a, np.float64) / 2 for a in (yaw, pitch, roll))
    zeros = np.zeros_like(half_yaw)
    q_yaw = np.stack([zeros, np.sin(half_yaw), zeros, np.cos(half_yaw)], -1)
    q_pitch = np.stack([np.sin(half_pitch), zeros, zeros, np.cos(half_pitch)], -1)
    q_roll = np.stack([zeros, zeros, np.sin(-half_roll), np.cos(-half_roll)], -1)
    quats = _quat_multiply(_quat_multiply(q_yaw, q_pitch), q_roll)  # (T, 4)
    if len(quats) > 1:
        flips = np.sum(quats[1:] * quats[:-1], axis=-1) < 0
        # A flip at key i flips every later key too, so count flips cumulatively.
        signs = np.where(np.cumsum(np.concatenate([[False], flips])) % 2 == 1, -1.0, 1.0)
        quats = quats * signs[:, None]
    return quats


def _quat_multiply(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Hamilton product ``a ⊗ b`` of (T, 4) ``(x, y, z, w)`` quaternions (rotate by b, then a)."""
    ax, ay, az, aw = np.moveaxis(a, -1, 0)
    bx, by, bz, bw = np.moveaxis(b, -1, 0)
    return np.stack(
        [
            aw * bx + ax * bw + ay * bz - az * by,
            aw * by - ax * bz + ay * bw + az * bx,
            aw * bz + ax * by - ay * bx + az * bw,
            aw * bw - ax * bx - ay * by - az * bz,
        ],
        -1,
    )


def eye_rotation_targets(model: FaceModel) -> np.ndarray:
    """Displacement of the iris points per radian of each eye angle, at rest.

    Args:
        model: The face model.

    Returns:
        (6, V, 3) float64 displacements in mm per radian, in :data:`EYE_TARGET_NAMES` order
        (left yaw, pitch, roll, then right); zero except on that eye's iris points.
    """
    step = np.array([_DERIVATIVE_STEP, -_DERIVATIVE_STEP])
    zeros = np.zeros(2)
    # d/dθ R(θ) at 0 for yaw, pitch and roll, by central difference of the rig's own matrices.
    generators = []
    for axis in range(3):
        angles = [step if i == axis else zeros for i in range(3)]
        plus, minus = rig.euler_matrices(*angles)
        generators.append((plus - minus) / (2 * _DERIVATIVE_STEP))
    targets = np.zeros((len(EYE_TARGET_NAMES), model.n_vertices, 3))
    neutral = model.neutral.astype(np.float64)
    for eye, (iris, centre) in enumerate(
        ((IRIS_LEFT, model.eye_centres[0]), (IRIS_RIGHT, model.eye_centres[1]))
    ):
        offsets = neutral[list(iris)] - centre  # (5, 3)
        for axis, generator in enumerate(generators):
            targets[3 * eye + axis, list(iris)] = offsets @ generator.T
    return targets


def vertex_normals(vertices: np.ndarray, triangles: np.ndarray) -> np.ndarray:
    """Area-weighted unit vertex normals (counter-clockwise triangles face outward).

    Args:
        vertices: (V, 3) positions.
        triangles: (F, 3) vertex indices.

    Returns:
        (V, 3) float64 unit normals; :data:`_FALLBACK_NORMAL` where no triangle touches.
    """
    corners = vertices[triangles].astype(np.float64)  # (F, 3, 3)
    face_normals = np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0])
    normals = np.zeros((len(vertices), 3))
    for corner in range(3):
        np.add.at(normals, triangles[:, corner], face_normals)
    lengths = np.linalg.norm(normals, axis=1, keepdims=True)
    return np.where(lengths > 0, normals / np.where(lengths > 0, lengths, 1.0), _FALLBACK_NORMAL)


class _BufferBuilder:
    """Collects binary arrays into one buffer, with their buffer views and accessors."""

    def __init__(self) -> None:
        self.blob = bytearray()
        self.buffer_views: list[dict[str, Any]] = []
        self.accessors: list[dict[str, Any]] = []

    def add(
        self, array: np.ndarray, kind: str, target: int | None = None, bounds: bool = False
    ) -> int:
        """Append ``array`` (float32 or uint32) as one view and accessor; return its index."""
        dtype = np.dtype("<f4") if array.dtype.kind == "f" else np.dtype("<u4")
        data = np.ascontiguousarray(array, dtype=dtype)
        self.blob.extend(BIN_PADDING * (-len(self.blob) % ALIGNMENT))
        view: dict[str, Any] = {"buffer": 0, "byteOffset": len(self.blob)}
        view["byteLength"] = data.nbytes
        if target is not None:
            view["target"] = target
        self.blob.extend(data.tobytes())
        self.buffer_views.append(view)
        flat = data.reshape(-1, _COMPONENTS[kind])
        accessor: dict[str, Any] = {
            "bufferView": len(self.buffer_views) - 1,
            "componentType": FLOAT if dtype.kind == "f" else UNSIGNED_INT,
            "count": len(flat),
            "type": kind,
        }
        if bounds:  # the exact stored values, as the spec (and its validator) require
            accessor["min"] = [v.item() for v in flat.min(axis=0)]
            accessor["max"] = [v.item() for v in flat.max(axis=0)]
        self.accessors.append(accessor)
        return len(self.accessors) - 1


def _material(name: str, colour: tuple[float, ...], double_sided: bool = False) -> dict[str, Any]:
    return {
        "name": name,
        "pbrMetallicRoughness": {
            "baseColorFactor": list(colour),
            "metallicFactor": 0.0,
            "roughnessFactor": _ROUGHNESS,
        },
        "doubleSided": double_sided,
    }


def _mesh(model: FaceModel, buffers: _BufferBuilder) -> dict[str, Any]:
    """Add the face mesh's arrays to ``buffers``; return the glTF mesh (materials 0, 1, 2)."""
    topology = model.topology
    neutral = model.neutral.astype(np.float64)
    # Mouth triangles are left out of the normals: they are an inner fill of mixed winding.
    shaded = np.concatenate([topology.skin, topology.eye_left, topology.eye_right])
    attributes = {
        "POSITION": buffers.add(neutral * METRES_PER_MM, "VEC3", ARRAY_BUFFER, bounds=True),
        "NORMAL": buffers.add(vertex_normals(neutral, shaded), "VEC3", ARRAY_BUFFER),
    }
    deltas = np.concatenate([model.blendshapes.astype(np.float64), eye_rotation_targets(model)])
    targets = [
        {"POSITION": buffers.add(delta * METRES_PER_MM, "VEC3", ARRAY_BUFFER, bounds=True)}
        for delta in deltas
    ]
    parts = (
        (topology.skin, 0),
        (np.concatenate([topology.eye_left, topology.eye_right]), 1),
        (topology.mouth, 2),
    )
    primitives = [
        {
            "attributes": attributes,
            "indices": buffers.add(triangles.reshape(-1), "SCALAR", ELEMENT_ARRAY_BUFFER, True),
            "material": material,
            "mode": TRIANGLES,
            "targets": targets,
        }
        for triangles, material in parts
    ]
    return {
        "name": "face",
        "primitives": primitives,
        "weights": [0.0] * len(MORPH_TARGET_NAMES),
        "extras": {"targetNames": list(MORPH_TARGET_NAMES)},
    }


def _animation(seq: FaceSequence, buffers: _BufferBuilder) -> dict[str, Any]:
    """Add the keyframes to ``buffers``; return the animation of nodes 1 (head) and 2 (face)."""
    times = (np.arange(seq.n_frames) / seq.fps).astype(np.float32)  # (T,)
    if np.any(np.diff(times) <= 0):
        raise InvalidInputError(
            f"{seq.n_frames} frames at {seq.fps:g} fps are too many for float32 key times; "
            "split the sequence"
        )
    weights = np.concatenate(
        [seq.params[:, : len(ARKIT_BLENDSHAPES)], seq.params[:, _EYE_CHANNELS]], 1
    )
    yaw, pitch, roll = (seq.params[:, i] for i in _HEAD_CHANNELS)
    time_accessor = buffers.add(times, "SCALAR", bounds=True)
    weight_accessor = buffers.add(weights.reshape(-1), "SCALAR")  # (T * 58,), key-major
    rotation_accessor = buffers.add(euler_quaternions(yaw, pitch, roll), "VEC4")  # (T, 4)
    return {
        "name": str(seq.meta.get("prompt") or "tdmm motion"),
        "samplers": [
            {"input": time_accessor, "output": weight_accessor, "interpolation": "LINEAR"},
            {"input": time_accessor, "output": rotation_accessor, "interpolation": "LINEAR"},
        ],
        "channels": [
            {"sampler": 0, "target": {"node": 2, "path": "weights"}},
            {"sampler": 1, "target": {"node": 1, "path": "rotation"}},
        ],
    }


def build_gltf(seq: FaceSequence, model: FaceModel) -> tuple[dict[str, Any], bytes]:
    """Build the glTF document and its binary buffer for an ``arkit`` sequence.

    Args:
        seq: The sequence, in the ``arkit`` space.
        model: The face model whose mesh and blendshapes are exported.

    Returns:
        ``(document, blob)``: the glTF JSON as a dict, and the bytes of its one buffer.
    """
    from tdmm_lm import __version__  # here, not at import: tdmm_lm may still be initialising

    if seq.space != ARKIT.id:
        raise InvalidInputError(
            f"cannot export a {seq.space!r} sequence to glTF: only arkit sequences can be "
            "exported with the built-in face model"
        )
    buffers = _BufferBuilder()
    mesh = _mesh(model, buffers)
    animations = [_animation(seq, buffers)] if seq.n_frames else []
    pivot = [float(v) * METRES_PER_MM for v in model.neck_pivot]
    document: dict[str, Any] = {
        "asset": {"version": "2.0", "generator": f"tdmm-lm {__version__}"},
        "scene": 0,
        "scenes": [{"name": "tdmm_face", "nodes": [0]}],
        "nodes": [
            {
                "name": "tdmm_face",
                "children": [1],
                "extras": {
                    "space": seq.space,
                    "fps": seq.fps,
                    "frames": seq.n_frames,
                    "meta": seq.meta,
                },
            },
            # The head turns about the neck pivot: the pivot is its origin, and the face mesh
            # is shifted back by it, so world = pivot + R (v - pivot) as in the rig.
            {"name": "head", "translation": pivot, "children": [2]},
            {"name": "face", "mesh": 0, "translation": [-v for v in pivot]},
        ],
        "meshes": [mesh],
        "materials": [
            _material("skin", _SKIN_COLOUR),
            _material("eyes", _EYE_COLOUR),
            _material("mouth", _MOUTH_COLOUR, double_sided=True),
        ],
        "accessors": buffers.accessors,
        "bufferViews": buffers.buffer_views,
        "buffers": [{"byteLength": len(buffers.blob)}],
    }
    if animations:
        document["animations"] = animations
    return document, bytes(buffers.blob)


def pack_glb(document: dict[str, Any], blob: bytes) -> bytes:
    """Pack a glTF document and its buffer into the GLB container.

    Args:
        document: The glTF JSON; its one buffer has no ``uri`` (it is the BIN chunk).
        blob: The buffer's bytes.

    Returns:
        The ``.glb`` file's bytes: header, JSON chunk (space-padded), BIN chunk (zero-padded).
    """
    text = json.dumps(document, separators=(",", ":")).encode("utf-8")
    text += JSON_PADDING * (-len(text) % ALIGNMENT)
    binary = blob + BIN_PADDING * (-len(blob) % ALIGNMENT)
    total = GLB_HEADER.size + 2 * CHUNK_HEADER.size + len(text) + len(binary)
    return b"".join(
        [
            GLB_HEADER.pack(GLB_MAGIC, GLB_VERSION, total),
            CHUNK_HEADER.pack(len(text), CHUNK_JSON),
            text,
            CHUNK_HEADER.pack(len(binary), CHUNK_BIN),
            binary,
        ]
    )


def write_glb(seq: FaceSequence, path: PathLike, model: FaceModel | None = None) -> Path:
    """Write an ``arkit`` sequence as a binary glTF 2.0 file, atomically.

    Args:
        seq: The sequence; its blendshapes and eye angles drive the morph weights and its
            head angles the head rotation. A sequence of 0 frames gives the mesh alone.
        path: The ``.glb`` file to write (parent directories are created).
        model: The face model to export; the built-in one by default.

    Returns:
        ``path`` as a :class:`Path`.

    Raises:
        InvalidInputError: ``seq`` is not in the ``arkit`` space.
    """
    target = Path(path)
    try:
        document, blob = build_gltf(seq, model if model is not None else FaceModel())
    except InvalidInputError as error:
        raise InvalidInputError(f"{target}: {error}") from error
    data = pack_glb(document, blob)
    with atomic_write(target) as handle:
        handle.write(data)
    return target
