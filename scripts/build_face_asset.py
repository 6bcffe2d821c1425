"""Rebuild the built-in face model asset from scikit-image's astronaut portrait.

Usage: python scripts/build_face_asset.py [--out src/tdmm_lm/assets/face_model.npz]
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from tdmm_lm.face.authoring.build import build_face_asset

DEFAULT_OUT = Path(__file__).resolve().parents[1] / "src/tdmm_lm/assets/face_model.npz"

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    arrays = build_face_asset(args.out)
    print(
        f"wrote {args.out}: {len(arrays['neutral'])} vertices, "
        f"{len(arrays['skin_triangles'])} skin triangles, {len(arrays['blendshapes'])} shapes"
    )
