"""How often a model's captions and motion carry the labelled attributes: runs side by side.

    python scripts/attribute_readout.py --model DIR --corpus CORPUS [--m2l-split test]
        [--l2m-split val] [--l2m-prompts 300] [--seeds 0 1] [--evaluators DIR]
        [--guidance G] [--temperature T] [--change-temperature C] [--no-captions]

A quicker reading than ``tdmm eval`` (about 4 minutes for a release model on one thread),
made to compare training runs of one recipe, not to replace the report:

* **Motion2Language:** greedy captions (``describe_batch``) of every clip of ``--m2l-split``,
  read by the caption parser against each clip's labels (what the report's M2L CorE, CorM and
  CorI measure, on every clip at once and without repeats);
* **Language2Motion:** ``animate_batch`` of a seeded subset of ``--l2m-split``'s prompts, once
  per seed, read by the evaluators' classifiers (what L2M CorE, CorM and CorI measure). Head
  motion is also given for oscillations (nod, bob, shake, sway) and held poses apart. Two
  more figures show what the decoding settings (``--guidance``, ``--temperature``,
  ``--change-temperature``; the model's defaults otherwise) trade: ``intensity_bias``, the
  mean signed error of the classified intensity level (+1: one level stronger than asked),
  and ``R@1``, text-to-motion R-precision in shuffled groups of 32 (mean of 10 shuffles).

Default splits keep Language2Motion on validation prompts, so that choosing between runs does
not look at the test split's motion.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np

from tdmm_lm.eval import MotionEvaluator
from tdmm_lm.eval.captions import caption_attributes
from tdmm_lm.eval.data import ATTRIBUTES, load_clips
from tdmm_lm.eval.metrics import r_precision
from tdmm_lm.lm import load_model
from tdmm_lm.lm.api import RELEASE_DIR
from tdmm_lm.prompts import INTENSITY_LEVELS

#: Head motions that swing back and forth (the rest are held poses and ``still``).
OSCILLATIONS = ("nod", "bob", "shake", "sway")
#: Clips per ``describe_batch`` / ``animate_batch`` call.
BATCH = 32


def caption_readout(model: Any, params: list[np.ndarray], labels: list[dict]) -> dict[str, float]:
    """Share of greedy captions whose parsed attributes match each clip's labels."""
    captions: list[str] = []
    for k in range(0, len(params), BATCH):
        captions += model.describe_batch(params[k : k + BATCH])
    parsed = [caption_attributes(c, lab) for c, lab in zip(captions, labels, strict=True)]
    pairs = list(zip(parsed, labels, strict=True))
    return {a: float(np.mean([p[a] == lab[a] for p, lab in pairs])) for a in ATTRIBUTES}


def motion_readout(
    model: Any,
    evaluator: MotionEvaluator,
    prompts: list[str],
    seconds: list[float],
    labels: list[dict],
    seeds: list[int],
    decoding: dict[str, float] | None = None,
) -> dict[str, float]:
    """Share of generated motions whose classified attributes match the prompts' labels.

    Args:
        decoding: Overrides of ``animate_batch``'s sampling settings (None: the model's).

    Returns:
        The mean over seeds per attribute, plus ``head_oscillation`` and ``head_held``: head
        motion on the prompts whose head motion swings (:data:`OSCILLATIONS`) and the rest;
        ``intensity_bias`` and ``R@1`` (see the module's docstring).
    """
    swings = np.array([lab["head_motion"] in OSCILLATIONS for lab in labels])
    asked = np.array([INTENSITY_LEVELS.index(lab["intensity"]) for lab in labels])
    text = evaluator.embed_texts(prompts)
    hits: dict[str, list[float]] = {}
    for seed in seeds:
        motions = []
        for k in range(0, len(prompts), BATCH):
            motions += model.animate_batch(
                prompts[k : k + BATCH], seconds[k : k + BATCH], seed=seed, **(decoding or {})
            )
        read = evaluator.read(motions)
        shown = np.array([INTENSITY_LEVELS.index(p) for p in read.predictions["intensity"]])
        hits.setdefault("intensity_bias", []).append(float(np.mean(shown - asked)))
        rng = np.random.default_rng(seed)
        r1 = [r_precision(read.embeddings, text, rng)[0] for _ in range(10)]
        hits.setdefault("R@1", []).append(float(np.mean(r1)))
        for a in ATTRIBUTES:
            said = zip(read.predictions[a], labels, strict=True)
            right = np.array([p == lab[a] for p, lab in said])
            hits.setdefault(a, []).append(float(right.mean()))
            if a == "head_motion":
                for name, rows in (("head_oscillation", swings), ("head_held", ~swings)):
                    if rows.any():
                        hits.setdefault(name, []).append(float(right[rows].mean()))
    return {name: float(np.mean(values)) for name, values in hits.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=RELEASE_DIR, help="the model folder")
    parser.add_argument("--corpus", type=Path, required=True, help="the corpus folder")
    parser.add_argument("--m2l-split", default="test")
    parser.add_argument("--l2m-split", default="val")
    parser.add_argument("--l2m-prompts", type=int, default=300)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--evaluators", type=Path, default=RELEASE_DIR / "evaluators")
    parser.add_argument("--guidance", type=float, help="decoding override (model's default)")
    parser.add_argument("--temperature", type=float, help="decoding override")
    parser.add_argument("--change-temperature", type=float, help="decoding override")
    parser.add_argument("--no-captions", action="store_true", help="Language2Motion only")
    parser.add_argument("--no-motion", action="store_true", help="Motion2Language only")
    args = parser.parse_args()
    if args.no_captions and args.no_motion:
        parser.error("--no-captions and --no-motion leave nothing to measure")
    decoding = {
        name: value
        for name in ("guidance", "temperature", "change_temperature")
        if (value := getattr(args, name)) is not None
    }

    model = load_model(args.model)
    prompted = load_clips(args.corpus, args.l2m_split).sample(args.l2m_prompts, 0)
    evaluator = MotionEvaluator.from_pretrained(args.evaluators)
    report: dict[str, Any] = {"model": str(args.model), "decoding": decoding}
    if not args.no_captions:
        captioned = load_clips(args.corpus, args.m2l_split)
        m2l = caption_readout(model, list(captioned.params), list(captioned.labels))
        report[f"m2l_{args.m2l_split}"] = m2l
    if not args.no_motion:
        report[f"l2m_{args.l2m_split}"] = motion_readout(
            model, evaluator, list(prompted.prompts), list(prompted.seconds),
            list(prompted.labels), args.seeds, decoding,
        )  # fmt: skip
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
