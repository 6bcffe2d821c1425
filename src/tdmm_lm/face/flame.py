"""FLAME geometry for the ``flame`` parameter space, from a model file the user supplies.

FLAME's licence forbids shipping the model, so the user points us at their copy with
``--flame-model PATH`` or the ``TDMM_FLAME_MODEL`` environment variable (SPEC §3). The file
is read safely, without running anything it names, by :mod:`tdmm_lm.face.flame_file`.

:class:`FlameModel` turns ``(T, 58)`` parameters in the ``flame`` layout (expression 50,
jaw 3, eyelids 2, head 3) into ``(T, V, 3)`` vertices, from NumPy or differentiably from
torch. The math lives in :mod:`tdmm_lm.face.lbs`.
"""

from __future__ import annotations

import logging
import os
from typing import overload

import numpy as np
import torch
from torch import Tensor, nn

from tdmm_lm.errors import InvalidInputError
from tdmm_lm.face.flame_file import (
    DEFAULT_N_SHAPE,
    FLAME_MODEL_ENV,
    N_EXPRESSION,
    FlameArrays,
    read_eyelid_blendshapes,
    read_flame_file,
    resolve_flame_path,
)
from tdmm_lm.face.lbs import linear_blend_skinning
from tdmm_lm.face.spaces import FLAME

__all__ = [
    "FLAME_MODEL_ENV",
    "FlameArrays",
    "FlameModel",
    "load_flame",
    "read_eyelid_blendshapes",
    "read_flame_file",
    "resolve_flame_path",
]

logger = logging.getLogger(__name__)

# Channel groups of the ``flame`` space (SPEC §3), located by name so a layout change fails
# loudly here instead of silently mis-posing the mesh.
_JAW = slice(FLAME.index("jawX"), FLAME.index("jawZ") + 1)
_EYELIDS = slice(FLAME.index("eyelidLeft"), FLAME.index("eyelidRight") + 1)
_HEAD = slice(FLAME.index("headX"), FLAME.index("headZ") + 1)
# Long sequences are posed in chunks: skinning holds ~12 floats per vertex per frame.
_FRAMES_PER_CHUNK = 256


# ---------------------------------------------------------------------------------------------
# Model


class FlameModel(nn.Module):
    """FLAME as a differentiable torch module over the ``flame`` parameter space.

    The arrays are non-persistent buffers: ``.to(device)`` moves them, but they never enter
    a ``state_dict``, so no checkpoint can redistribute the licensed model.

    Args:
        arrays: The model file's arrays, from :func:`read_flame_file`.
        n_shape: Number of identity components at the front of ``shapedirs``; the 50
            expression components used by the ``flame`` space start right after them.
        eyelid_blendshapes: SMIRK's eyelid blendshapes, shape ``(2, V, 3)``, left then
            right. Without them the eyelid channels have no effect (a warning is logged
            once per model when they are nonzero).
        dtype: Floating-point dtype of the buffers and outputs.

    """

    def __init__(
        self,
        arrays: FlameArrays,
        n_shape: int = DEFAULT_N_SHAPE,
        eyelid_blendshapes: np.ndarray | None = None,
        dtype: torch.dtype = torch.float32,
    ) -> None:
        super().__init__()
        n_verts, _, n_dirs = arrays.shapedirs.shape
        if not 0 <= n_shape <= n_dirs - N_EXPRESSION:
            raise InvalidInputError(
                f"n_shape={n_shape} does not fit shapedirs with {n_dirs} components: need "
                f"0 <= n_shape <= {n_dirs - N_EXPRESSION} so that {N_EXPRESSION} expression "
                "components follow (FLAME files have n_shape=300)"
            )
        if eyelid_blendshapes is not None and eyelid_blendshapes.shape != (2, n_verts, 3):
            raise InvalidInputError(
                f"eyelid blendshapes have shape {eyelid_blendshapes.shape}, expected "
                f"(2, {n_verts}, 3) to match the FLAME model"
            )
        self.n_shape = n_shape
        self.parents = arrays.parents
        self.has_eyelids = eyelid_blendshapes is not None
        self._warned_eyelids = False
        self._faces = arrays.faces.copy()
        self._faces.setflags(write=False)

        def buffer(name: str, array: np.ndarray) -> None:
            self.register_buffer(name, torch.as_tensor(array, dtype=dtype), persistent=False)

        eyelids = eyelid_blendshapes if self.has_eyelids else np.zeros((2, n_verts, 3))
        buffer("v_template", arrays.v_template)  # (V, 3)
        # Identity then expression directions, back to back, so one einsum applies both.
        blend_dirs = arrays.shapedirs[:, :, : n_shape + N_EXPRESSION]
        buffer("blend_dirs", blend_dirs)  # (V, 3, n_shape + 50)
        buffer("posedirs", arrays.posedirs)  # (V, 3, 36)
        buffer("j_regressor", arrays.j_regressor)  # (J, V)
        buffer("lbs_weights", arrays.weights)  # (V, J)
        buffer("eyelid_dirs", eyelids)  # (2, V, 3)

    @property
    def faces(self) -> np.ndarray:
        """Triangles as vertex indices, shape ``(F, 3)``, int64, read-only."""
        return self._faces

    @property
    def num_vertices(self) -> int:
        """Number of mesh vertices ``V``."""
        return int(self.v_template.shape[0])

    def forward(self, params: Tensor, shape: Tensor | None = None) -> Tensor:
        """Pose the mesh for a batch of frames (the torch path of :meth:`vertices`).

        Args:
            params: ``flame``-space parameters, shape ``(T, 58)``.
            shape: Identity coefficients, shape ``(S,)`` for all frames or ``(T, S)`` per
                frame, with ``S <= n_shape``; ``None`` keeps the mean identity.

        Returns:
            Vertices, shape ``(T, V, 3)``, in the buffers' dtype and device.

        """
        if params.ndim != 2 or params.shape[1] != FLAME.dim:
            raise InvalidInputError(
                f"FLAME parameters have shape {tuple(params.shape)}, expected (T, {FLAME.dim})"
            )
        params = params.to(self.v_template)
        n_frames = params.shape[0]
        identity = params.new_zeros(n_frames, self.n_shape)  # (T, n_shape)
        if shape is not None:
            shape = torch.as_tensor(shape).to(self.v_template)
            if shape.ndim == 1:
                shape = shape.expand(n_frames, -1)  # (T, S)
            if shape.ndim != 2 or shape.shape[0] != n_frames or shape.shape[1] > self.n_shape:
                raise InvalidInputError(
                    f"FLAME shape has shape {tuple(shape.shape)}, expected (S,) or "
                    f"({n_frames}, S) with S <= {self.n_shape}"
                )
            identity[:, : shape.shape[1]] = shape  # missing trailing components stay 0
        coefficients = torch.cat([identity, params[:, :N_EXPRESSION]], dim=1)  # (T, K)

        eyelids = params[:, _EYELIDS]  # (T, 2)
        if not self.has_eyelids and not self._warned_eyelids and bool(torch.any(eyelids != 0)):
            logger.warning(
                "FLAME eyelid channels are nonzero but no eyelid blendshapes were loaded "
                "(pass eyelid_path, e.g. SMIRK's l_eyelid/r_eyelid); they are ignored."
            )
            self._warned_eyelids = True
        # SMIRK adds its eyelid shapes to the template, before skinning.
        template = self.v_template + torch.einsum("bi,ivc->bvc", eyelids, self.eyelid_dirs)

        zeros = params.new_zeros(n_frames, 3)
        # FLAME joint order: global, neck, jaw, left eye, right eye; the flame space drives
        # the head (global) and jaw and leaves neck and eyeballs at rest.
        pose = torch.stack([params[:, _HEAD], zeros, params[:, _JAW], zeros, zeros], dim=1)
        return linear_blend_skinning(
            template,  # (T, V, 3)
            coefficients,
            self.blend_dirs,
            pose,  # (T, 5, 3)
            self.posedirs,
            self.j_regressor,
            self.lbs_weights,
            self.parents,
        )

    @overload
    def vertices(self, params: np.ndarray, shape: np.ndarray | None = None) -> np.ndarray: ...
    @overload
    def vertices(self, params: Tensor, shape: Tensor | None = None) -> Tensor: ...
    def vertices(
        self, params: np.ndarray | Tensor, shape: np.ndarray | Tensor | None = None
    ) -> np.ndarray | Tensor:
        """Return the posed mesh for every frame.

        NumPy in, NumPy out (no autograd); a torch tensor in gives a differentiable torch
        tensor out. Long sequences are processed in chunks to bound memory.

        Args:
            params: ``flame``-space parameters, shape ``(T, 58)``: expression 50, jaw
                axis-angle 3, eyelids 2, head axis-angle 3.
            shape: Identity coefficients, shape ``(S,)`` or ``(T, S)`` with
                ``S <= n_shape``; ``None`` keeps the mean identity.

        Returns:
            Vertices, shape ``(T, V, 3)``, in the model's dtype.

        """
        if isinstance(params, Tensor):
            return self._chunked(params, None if shape is None else torch.as_tensor(shape))
        params_t = torch.as_tensor(np.asarray(params), device=self.v_template.device)
        shape_t = None if shape is None else torch.as_tensor(np.asarray(shape))
        with torch.no_grad():
            return self._chunked(params_t, shape_t).cpu().numpy()

    def _chunked(self, params: Tensor, shape: Tensor | None) -> Tensor:
        if params.ndim != 2 or params.shape[0] <= _FRAMES_PER_CHUNK:
            return self(params, shape)  # also reports a malformed ``params``
        per_frame = shape is not None and shape.ndim == 2
        chunks = []
        for start in range(0, params.shape[0], _FRAMES_PER_CHUNK):
            stop = start + _FRAMES_PER_CHUNK
            chunks.append(self(params[start:stop], shape[start:stop] if per_frame else shape))
        return torch.cat(chunks)


def load_flame(
    path: str | os.PathLike[str] | None = None,
    eyelid_path: str | os.PathLike[str] | None = None,
    n_shape: int = DEFAULT_N_SHAPE,
) -> FlameModel:
    """Load the user's FLAME model file as a :class:`FlameModel`.

    Args:
        path: The model file (``.pkl`` or ``.npz``); ``None`` reads ``$TDMM_FLAME_MODEL``.
        eyelid_path: Optional SMIRK eyelid blendshapes, see :func:`read_eyelid_blendshapes`.
        n_shape: Identity components before the expression ones in ``shapedirs``.

    Returns:
        The model, float32, on the CPU.

    """
    resolved = resolve_flame_path(path)
    arrays = read_flame_file(resolved)
    eyelids = None if eyelid_path is None else read_eyelid_blendshapes(eyelid_path)
    model = FlameModel(arrays, n_shape=n_shape, eyelid_blendshapes=eyelids)
    logger.info(
        "loaded FLAME model %s: %d vertices, %d faces, eyelids %s",
        resolved,
        model.num_vertices,
        len(model.faces),
        "loaded" if model.has_eyelids else "absent",
    )
    return model
