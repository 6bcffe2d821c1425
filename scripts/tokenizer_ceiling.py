"""What a motion tokenizer leaves of the Language2Motion figures: the truth against its round trip.

    python scripts/tokenizer_ceiling.py --corpus CORPUS [--tokenizer DIR] [--split test]
        [--evaluators DIR] [--repeats 20]

Language2Motion writes tokens, and its motion is what the tokenizer decodes from them. So
however well a model follows its prompts, its motion can hold no more than the tokenizer's
round trip (encode, then decode) of the ground truth holds. This script reads every clip of
a split, and its round trip, with the motion evaluators, and prints for both:

* the attribute classifiers' accuracy against the clip's labels (what CorE, CorM and CorI
  measure on generated motion);
* text-to-motion R@1 against the clip's prompt, in shuffled groups of 32 as in SPEC §7
  (mean over ``--repeats`` shuffles);
* the Fréchet distance of the round trip's evaluator embeddings to the ground truth's.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from tdmm_lm.eval import MotionEvaluator
from tdmm_lm.eval.data import ATTRIBUTES, load_clips
from tdmm_lm.eval.evaluators import MotionReadout
from tdmm_lm.eval.metrics import accuracy, frechet_distance, r_precision
from tdmm_lm.lm.api import RELEASE_DIR
from tdmm_lm.tokenizer import MotionTokenizer


def round_trip(tokenizer: MotionTokenizer, params: list[np.ndarray]) -> list[np.ndarray]:
    """Each (T, 61) motion encoded and decoded again, cut to its own T frames."""
    return [tokenizer.decode(tokenizer.encode(p))[: len(p)] for p in params]


def figures(
    evaluator: MotionEvaluator,
    motions: list[np.ndarray],
    truth: MotionReadout,
    text: np.ndarray,
    labels: list[dict],
    fps: float,
    repeats: int = 20,
    seed: int = 0,
) -> dict[str, float]:
    """Classifier accuracies, R@1 against ``text`` and FD against the ``truth`` readout."""
    read = evaluator.read(motions, fps=fps)
    rng = np.random.default_rng(seed)
    out = {a: accuracy(read.predictions[a], [clip[a] for clip in labels]) for a in ATTRIBUTES}
    out["R@1"] = float(np.mean([r_precision(read.embeddings, text, rng)[0]
                                for _ in range(repeats)]))  # fmt: skip
    out["FD"] = frechet_distance(read.embeddings, truth.embeddings)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, required=True, help="the corpus folder")
    parser.add_argument("--tokenizer", type=Path, default=RELEASE_DIR / "tokenizer")
    parser.add_argument("--split", default="test")
    parser.add_argument("--evaluators", type=Path, default=RELEASE_DIR / "evaluators")
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()

    evaluator = MotionEvaluator.from_pretrained(args.evaluators)
    tokenizer = MotionTokenizer.from_pretrained(args.tokenizer)
    clips = load_clips(args.corpus, args.split)
    truth = list(clips.params)
    # The truth's readout and the prompts' embeddings serve both rows: read them once.
    truth_read = evaluator.read(truth, fps=clips.fps)
    text = evaluator.embed_texts(list(clips.prompts))
    print(f"{args.split}: {len(clips)} clips, tokenizer {args.tokenizer}")
    for name, motions in (("ground truth", truth), ("round trip", round_trip(tokenizer, truth))):
        row = figures(evaluator, motions, truth_read, text, list(clips.labels), clips.fps,
                      args.repeats)  # fmt: skip
        print(f"  {name:>12}: " + ", ".join(f"{k} {v:.3f}" for k, v in row.items()))


if __name__ == "__main__":
    main()
