"""Copy a finished release run into the package, where ``load_model()`` finds it.

    python scripts/ship_release.py runs/release

The run comes from ``tdmm train --recipe release -o runs/release``. Only the model files are
copied (config, weights, vocabulary, tokenizer, evaluators, baseline, training log and
``release.json``); checkpoints, caches and the build folder (corpus, tokenizer run) stay
behind. Prints the size of what is shipped: the repository's budget for it is 30 MB.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from tdmm_lm.lm.api import RELEASE_DIR
from tdmm_lm.release import ship


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path, help="the release run folder")
    parser.add_argument("--to", type=Path, default=RELEASE_DIR, help="target folder")
    args = parser.parse_args()
    target = ship(args.run, args.to)
    size = sum(p.stat().st_size for p in target.rglob("*") if p.is_file())
    print(f"shipped {args.run} -> {target} ({size / 2**20:.1f} MB)")


if __name__ == "__main__":
    main()
