"""Headless rendering of ``arkit`` sequences: shaded mesh or warped photograph, to mp4/gif."""

from __future__ import annotations

from tdmm_lm.render.api import RenderStyle, render_sequence, renderer_for
from tdmm_lm.render.mesh_style import MeshRenderer
from tdmm_lm.render.photo_style import PhotoRenderer

__all__ = ["MeshRenderer", "PhotoRenderer", "RenderStyle", "render_sequence", "renderer_for"]
