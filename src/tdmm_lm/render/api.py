"""Render a whole sequence to a video file."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from enum import Enum
from pathlib import Path

from tdmm_lm.errors import InvalidInputError
from tdmm_lm.face import FaceModel, FaceSequence
from tdmm_lm.render.mesh_style import MeshRenderer
from tdmm_lm.render.photo_style import PhotoRenderer
from tdmm_lm.render.video import write_video

__all__ = ["RenderStyle", "render_sequence", "renderer_for"]


class RenderStyle(str, Enum):
    """How a face is drawn."""

    MESH = "mesh"
    PHOTO = "photo"


def renderer_for(
    style: RenderStyle | str, size: int = 512, model: FaceModel | None = None
) -> MeshRenderer | PhotoRenderer:
    """The renderer of ``style`` for the built-in face model."""
    try:
        style = RenderStyle(style)
    except ValueError:
        valid = ", ".join(s.value for s in RenderStyle)
        raise InvalidInputError(f"unknown render style {style!r}; valid: {valid}") from None
    model = model or FaceModel()
    return MeshRenderer(model, size) if style is RenderStyle.MESH else PhotoRenderer(model, size)


def render_sequence(
    seq: FaceSequence,
    path: str | Path,
    style: RenderStyle | str = RenderStyle.MESH,
    size: int = 512,
    on_frame: Callable[[], None] | None = None,
) -> Path:
    """Render ``seq`` to ``path`` (.mp4 or .gif) at the sequence's frame rate.

    Frames are rendered and encoded one at a time, so memory does not grow with length.
    ``on_frame`` is called after each frame (for progress bars).
    """
    if seq.space != "arkit":
        raise InvalidInputError(
            f"only arkit sequences can be rendered with the built-in face model, got "
            f"{seq.space!r} (flame rendering needs a FLAME model file; see --flame-model)"
        )
    renderer = renderer_for(style, size)
    path = Path(path)

    def frames() -> Iterator:
        for frame in renderer.frames(seq.params):
            yield frame
            if on_frame is not None:
                on_frame()

    write_video(frames(), path, fps=seq.fps)
    return path
