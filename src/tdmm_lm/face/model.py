"""The built-in ARKit face model: MediaPipe Face Mesh topology rigged with 52 blendshapes.

The asset (``tdmm_lm/assets/face_model.npz``) is derived from scikit-image's public-domain
astronaut portrait by ``scripts/build_face_asset.py``. Units are millimetres; the face is
140 mm wide. See :mod:`tdmm_lm.face.rig` for the angle conventions.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from tdmm_lm.errors import InvalidInputError
from tdmm_lm.face import rig
from tdmm_lm.face import topology as tp
from tdmm_lm.face.spaces import ARKIT, ARKIT_BLENDSHAPES

__all__ = ["FaceModel", "FaceTopology"]

ASSET_NAME = "face_model.npz"
SUPPORTED_ASSET_VERSION = 1
N_BLENDSHAPES = len(ARKIT_BLENDSHAPES)
_HEAD = slice(52, 55)
_EYE_LEFT = slice(55, 58)
_EYE_RIGHT = slice(58, 61)

Array = Any  # np.ndarray or torch.Tensor


@dataclass(frozen=True)
class FaceTopology:
    """Triangles of the face model, by role.

    Attributes:
        skin: (F, 3) the face surface.
        eye_left, eye_right: triangles filling each eye opening, through its iris points.
        mouth: triangles filling the mouth opening (they collapse when the lips close).
    """

    skin: np.ndarray
    eye_left: np.ndarray
    eye_right: np.ndarray
    mouth: np.ndarray


class FaceModel:
    """Evaluate the built-in face model.

    Args:
        asset: Path of a face-model ``.npz``; the packaged asset by default.

    Example:
        >>> model = FaceModel()
        >>> verts = model.vertices(np.zeros((10, 61), np.float32))  # (10, 478, 3)
    """

    def __init__(self, asset: str | Path | None = None) -> None:
        data = _load_asset(str(asset) if asset is not None else None)
        self.neutral: np.ndarray = data["neutral"]
        self.blendshapes: np.ndarray = data["blendshapes"]  # (52, V, 3)
        self.calibration_offset: np.ndarray = data["calibration_offset"]
        self.neck_pivot: np.ndarray = data["neck_pivot"]
        self.jaw_pivot: np.ndarray = data["jaw_pivot"]
        self.eye_centres: np.ndarray = data["eye_centres"]  # (2, 3): left, right
        self.topology = FaceTopology(
            skin=data["skin_triangles"],
            eye_left=data["eye_left_triangles"],
            eye_right=data["eye_right_triangles"],
            mouth=data["mouth_triangles"],
        )
        self.portrait_pixels: np.ndarray = data["portrait_pixels"]
        self.portrait_mm_per_pixel = float(data["portrait_mm_per_pixel"])
        self.portrait_origin_pixels: np.ndarray = data["portrait_origin_pixels"]
        self.photo_ring_pixels: np.ndarray = data["photo_ring_pixels"]
        self.photo_ring_triangles: np.ndarray = data["photo_ring_triangles"]
        self._flat = self.blendshapes.reshape(N_BLENDSHAPES, -1)
        self._torch_cache: dict[tuple[str, str], tuple[Any, ...]] = {}

    @property
    def n_vertices(self) -> int:
        """Number of vertices V (478)."""
        return len(self.neutral)

    @property
    def channels(self) -> tuple[str, ...]:
        """The 61 channel names of the ``arkit`` space this model consumes."""
        return ARKIT.channels

    def vertices(self, params: Array) -> Array:
        """Deformed vertices for a batch of ``arkit`` parameter frames.

        Args:
            params: (T, 61) or (61,) float parameters, NumPy or torch. Blendshape weights are
                used as given (not clipped), so the map stays linear and differentiable.

        Returns:
            (T, V, 3) vertices in mm, of the same library (and, for torch, dtype and
            device) as ``params``. A single frame gives (1, V, 3).
        """
        if params.shape[-1] != ARKIT.dim:
            raise InvalidInputError(
                f"face model expects {ARKIT.dim} arkit channels, got shape {tuple(params.shape)}"
            )
        params = params.reshape(-1, ARKIT.dim)
        if isinstance(params, np.ndarray):
            consts = (self.neutral, self._flat, self.neck_pivot, self.eye_centres)
            params = params.astype(np.float32, copy=False)
        else:
            consts = self._torch_constants(params)
        neutral, flat, neck_pivot, eye_centres = consts
        verts = rig.blend(neutral, flat, params[:, :N_BLENDSHAPES])  # (T, V, 3)
        verts = self._rotate_eyes(verts, params, eye_centres)
        head = rig.euler_matrices(params[:, 52], params[:, 53], params[:, 54])  # (T, 3, 3)
        return rig.rotate_about(verts, head, neck_pivot)

    def _rotate_eyes(self, verts: Array, params: Array, eye_centres: Array) -> Array:
        """Rotate each iris about its eyeball centre by that eye's yaw/pitch/roll."""
        parts = [verts[:, : tp.IRIS_RIGHT[0]]]
        for centre, iris, angles in (
            (eye_centres[1], tp.IRIS_RIGHT, _EYE_RIGHT),
            (eye_centres[0], tp.IRIS_LEFT, _EYE_LEFT),
        ):
            rot = rig.euler_matrices(*(params[:, i] for i in range(angles.start, angles.stop)))
            parts.append(rig.rotate_about(verts[:, iris[0] : iris[-1] + 1], rot, centre))
        lib = np if isinstance(verts, np.ndarray) else _torch()
        return lib.concatenate(parts, 1) if lib is np else lib.cat(parts, 1)

    def _torch_constants(self, params: Any) -> tuple[Any, ...]:
        torch = _torch()
        key = (str(params.dtype), str(params.device))
        if key not in self._torch_cache:
            self._torch_cache[key] = tuple(
                torch.tensor(np.array(a), dtype=params.dtype, device=params.device)
                for a in (self.neutral, self._flat, self.neck_pivot, self.eye_centres)
            )
        return self._torch_cache[key]

    def portrait_transform(self) -> tuple[float, np.ndarray]:
        """(pixels per mm, pixel position of the model origin) in the portrait image."""
        return 1.0 / self.portrait_mm_per_pixel, self.portrait_origin_pixels


def _torch() -> Any:
    import torch

    return torch


@lru_cache(maxsize=4)
def _load_asset(path: str | None) -> dict[str, np.ndarray]:
    """Read and check a face-model asset (cached: the arrays are shared, never mutated)."""
    if path is None:
        ref = resources.files("tdmm_lm") / "assets" / ASSET_NAME
        with resources.as_file(ref) as p:
            return _load_asset(str(p))
    try:
        with np.load(path, allow_pickle=False) as z:
            data = {k: z[k] for k in z.files}
    except (OSError, ValueError, EOFError) as e:
        raise InvalidInputError(f"{path}: cannot read the face-model asset ({e})") from e
    version = int(data.get("format_version", -1))
    if version != SUPPORTED_ASSET_VERSION:
        raise InvalidInputError(
            f"{path}: face-model asset format {version}, expected {SUPPORTED_ASSET_VERSION}; "
            "rebuild it with scripts/build_face_asset.py"
        )
    for arr in data.values():
        arr.flags.writeable = False
    return data
