"""How high Language2Motion CorE and CorM can go on a corpus, for a perfect prompt follower.

    python scripts/l2m_ceiling.py --corpus CORPUS [--split test] [--evaluators DIR]

CorE and CorM (SPEC §7) check the motion classifiers' reading of generated motion against
the clip's labels, which are those of its *primary* segment: the longest non-neutral one.
About a third of the procedural prompts hold two emotions or more ("looks skeptical, then
smirks"), and the prompt names them in order without saying which lasts longer. A model that
follows the prompt perfectly still has to guess. This script measures what that guess costs,
with the procedural generators standing in for the perfect follower:

* every test prompt of two or more emotions is generated again as labelled, and once more
  with the primary segment's span and the longest other emotional segment's span swapped
  (the same prompt, the other reading of it);
* the classifiers read both; a follower that cannot tell the two readings apart scores their
  mean on these clips, and one that reads every "briefly" / "for a moment" right scores as
  labelled on the prompts that carry one;
* one-emotion clips score what the classifiers score on the ground truth.

The printed ceilings are the overall CorE and CorM of such a follower.
"""

from __future__ import annotations

import argparse
import copy
import re
from pathlib import Path

import numpy as np

from tdmm_lm.eval import MotionEvaluator
from tdmm_lm.eval.data import load_clips
from tdmm_lm.lm.api import RELEASE_DIR
from tdmm_lm.prompts.lexicon import NEUTRAL
from tdmm_lm.prompts.phrasing import DYNAMICS_WORDS
from tdmm_lm.prompts.schema import Labels, PromptSpec
from tdmm_lm.synth import DynamicsGenerator, KeyframeGenerator

#: The words a prompt uses for a short middle segment (the prompt suite's "brief" dynamics,
#: seen and held-out phrasings alike).
BRIEF = re.compile(r"\b(" + "|".join(w for pool in DYNAMICS_WORDS["brief"] for w in pool) + r")\b")
#: What the ceilings are of.
ATTRIBUTES = ("emotion_category", "head_motion")


def emotional(labels: dict) -> list[int]:
    """Indices of a clip's non-neutral segments."""
    return [k for k, s in enumerate(labels["segments"]) if s["emotion_category"] != NEUTRAL]


def with_spans(labels: dict, spans: list[float]) -> dict:
    """A copy of ``labels`` whose segments take ``spans`` (seconds) back to back."""
    out = copy.deepcopy(labels)
    t = 0.0
    for segment, span in zip(out["segments"], spans, strict=True):
        segment["start_s"], segment["end_s"] = t, t + span
        t += span
    return out


def regenerate(prompt: str, labels: dict, seed: int, fps: float) -> np.ndarray:
    """(T, 61) motion of ``labels`` from one of the corpus's procedural generators."""
    generator = (DynamicsGenerator, KeyframeGenerator)[seed % 2]()
    duration = labels["segments"][-1]["end_s"]
    spec = PromptSpec(id=f"ceiling{seed}", prompt=prompt, captions=[prompt] * 4,
                      labels=Labels.from_dict(labels), duration_s=duration, seed=seed)  # fmt: skip
    return generator.generate(spec, fps=fps).params


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, required=True, help="the corpus folder")
    parser.add_argument("--split", default="test")
    parser.add_argument("--evaluators", type=Path, default=RELEASE_DIR / "evaluators")
    args = parser.parse_args()

    evaluator = MotionEvaluator.from_pretrained(args.evaluators)
    clips = load_clips(args.corpus, args.split)
    multi = [i for i, labels in enumerate(clips.labels) if len(emotional(labels)) >= 2]
    single = sorted(set(range(len(clips))) - set(multi))
    as_labelled, swapped = [], []
    for i in multi:
        labels = clips.labels[i]
        spans = [s["end_s"] - s["start_s"] for s in labels["segments"]]
        by_span = sorted(emotional(labels), key=lambda k: spans[k], reverse=True)
        primary, other = by_span[0], by_span[1]  # the longest two emotional segments
        other_reading = list(spans)
        other_reading[primary], other_reading[other] = spans[other], spans[primary]
        as_labelled.append(regenerate(clips.prompts[i], labels, i, clips.fps))
        other_labels = with_spans(labels, other_reading)
        swapped.append(regenerate(clips.prompts[i], other_labels, i, clips.fps))
    hinted = np.array([bool(BRIEF.search(clips.prompts[i].lower())) for i in multi])
    truth = evaluator.read(clips.params, fps=clips.fps).predictions
    read = evaluator.read(as_labelled, fps=clips.fps).predictions
    read_swapped = evaluator.read(swapped, fps=clips.fps).predictions
    share = len(multi) / len(clips)
    print(f"{args.split}: {len(clips)} clips, {len(multi)} with two emotions or more "
          f"({share:.3f}), {int(hinted.sum())} of them with a 'briefly'")  # fmt: skip
    for attribute in ATTRIBUTES:
        target = [clips.labels[i][attribute] for i in multi]
        right = np.array([p == t for p, t in zip(read[attribute], target, strict=True)])
        right_swapped = np.array(
            [p == t for p, t in zip(read_swapped[attribute], target, strict=True)]
        )
        on_single = np.mean([truth[attribute][i] == clips.labels[i][attribute] for i in single])
        guess = (right.astype(float) + right_swapped) / 2  # bool + bool would be "or"
        hint_aware = np.where(hinted, right, guess)
        for name, on_multi in (("guessing", guess.mean()), ("reading hints", hint_aware.mean())):
            ceiling = (1 - share) * on_single + share * on_multi
            print(f"  {attribute}: {name}: {on_multi:.3f} on the clips of several emotions "
                  f"(as labelled {right.mean():.3f}, other reading {right_swapped.mean():.3f}); "
                  f"ceiling {ceiling:.3f}")  # fmt: skip


if __name__ == "__main__":
    main()
