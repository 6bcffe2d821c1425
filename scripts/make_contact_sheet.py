"""Render docs/blendshapes.png: every ARKit blendshape of the built-in face at weight 1.0.

Usage: python scripts/make_contact_sheet.py [--out docs/blendshapes.png] [--style mesh|photo]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np

from tdmm_lm.face import ARKIT, ARKIT_BLENDSHAPES, FaceModel
from tdmm_lm.render import MeshRenderer, renderer_for
from tdmm_lm.render.camera import Framing

DEFAULT_OUT = Path(__file__).resolve().parents[1] / "docs/blendshapes.png"
TILE = 208
COLUMNS = 8
LABEL_HEIGHT = 22
SHEET_FIELD_MM = 170.0
SHEET_CENTRE_MM = (0.0, -36.0)


def tile(renderer, model: FaceModel, name: str | None) -> np.ndarray:
    params = np.zeros((1, ARKIT.dim), np.float32)
    if name is not None:
        params[0, ARKIT.index(name)] = 1.0
    image = next(iter(renderer.frames(params)))
    label = np.full((LABEL_HEIGHT, TILE, 3), 255, np.uint8)
    cv2.putText(
        label, name or "neutral", (6, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1, cv2.LINE_AA
    )
    return np.concatenate([label, image], axis=0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--style", default="mesh")
    args = parser.parse_args()
    model = FaceModel()
    if args.style == "mesh":  # frame the face tightly: no head motion on the sheet
        framing = Framing(TILE, field_mm=SHEET_FIELD_MM, centre_mm=SHEET_CENTRE_MM)
        renderer = MeshRenderer(model, TILE, framing=framing)
    else:
        renderer = renderer_for(args.style, size=TILE, model=model)
    tiles = [tile(renderer, model, None)] + [tile(renderer, model, n) for n in ARKIT_BLENDSHAPES]
    while len(tiles) % COLUMNS:
        tiles.append(np.full_like(tiles[0], 255))
    rows = [np.concatenate(tiles[i : i + COLUMNS], axis=1) for i in range(0, len(tiles), COLUMNS)]
    sheet = np.concatenate(rows, axis=0)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    bgr = cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR)
    cv2.imwrite(str(args.out), bgr, [cv2.IMWRITE_PNG_COMPRESSION, 9])
    print(f"wrote {args.out} ({sheet.shape[1]}x{sheet.shape[0]})")


if __name__ == "__main__":
    main()
