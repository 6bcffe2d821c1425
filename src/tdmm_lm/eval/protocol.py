"""Both directions of ``tdmm eval`` on one split: every system's output and its metrics.

:func:`evaluate_split` measures every system on one split (an :class:`EvalContext` holds what
the splits share):

* **Language2Motion** on a seeded subset of ``l2m_clips`` clips. Each of ``repeats`` repeats
  generates every prompt anew (seed = repeat) and draws new R-precision groups and diversity
  pairs; deterministic systems (ground truth, retrieval, floor) are generated once and vary
  only in those draws. MultiModality reuses each repeat's generation of the first
  ``mm_prompts`` prompts and adds generations up to ``mm_generations`` per prompt; every
  repeat draws its own ``mm_pairs`` pairs per prompt. Tok is measured once per clip and
  resampled (bootstrap) in each repeat.
* **Motion2Language** on every clip of the splits in ``m2l_full_splits`` (``test``), and on
  a seeded subset of ``m2l_clips`` clips of the others (a superset of the L2M one).
  Captions are greedy, hence deterministic, so each repeat resamples the clips (bootstrap)
  for the captioning metrics and draws new R-precision groups.

Every figure is reported as mean and 95% interval over the repeats
(:func:`~tdmm_lm.eval.metrics.mean_ci`).
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import numpy as np

from tdmm_lm.eval import metrics as mx
from tdmm_lm.eval import text_metrics as tx
from tdmm_lm.eval.baselines import FloorBaseline, ModelSystem, RetrievalBaseline
from tdmm_lm.eval.captions import caption_attributes
from tdmm_lm.eval.config import (
    COR_NAMES,
    L2M_METRICS,
    L2M_SYSTEMS,
    M2L_METRICS,
    M2L_SYSTEMS,
    EvalConfig,
)
from tdmm_lm.eval.data import ATTRIBUTES, ClipSet
from tdmm_lm.eval.evaluators import MotionEvaluator, MotionReadout, token_states

__all__ = [
    "GENERATED_SYSTEMS",
    "EvalContext",
    "Generations",
    "TextCache",
    "evaluate_split",
    "generate_split",
    "split_work",
]

#: The Language2Motion systems that generate (the others are fixed outputs): most of a
#: split's time, so a run may generate them apart (:func:`generate_split`).
GENERATED_SYSTEMS = ("tdmm-lm", "t2m-gpt")
#: One system's generations on one split: (per repeat: (motions, their reading), per
#: MultiModality generation: (n_mm, E) embeddings of its prompts).
Generations = tuple[list[tuple[list[np.ndarray], MotionReadout]], list[np.ndarray]]


class TextCache:
    """MiniLM token states and sentence vectors of texts, each text encoded once."""

    def __init__(self) -> None:
        self._states: dict[str, np.ndarray] = {}

    def add(self, texts: list[str]) -> None:
        """Encode the texts not seen yet."""
        new = [t for t in dict.fromkeys(texts) if t not in self._states]
        if new:
            states, index = token_states(new)
            for text, i in zip(new, index, strict=True):
                self._states[text] = states[i].astype(np.float16)

    def copy(self) -> TextCache:
        """A cache holding what this one holds, to be filled apart from it."""
        other = TextCache()
        other._states = dict(self._states)
        return other

    def states(self, texts: list[str]) -> list[np.ndarray]:
        """(P, 384) float32 token states of each text."""
        self.add(texts)
        return [self._states[t].astype(np.float32) for t in texts]

    def vectors(self, texts: list[str]) -> np.ndarray:
        """(N, 384) float32 sentence vectors (mean-pooled states, unit length)."""
        pooled = np.stack([s.mean(0) for s in self.states(texts)])
        return pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)


@dataclass
class EvalContext:
    """What every split's evaluation shares."""

    cfg: EvalConfig
    evaluator: MotionEvaluator
    model: ModelSystem
    baseline: ModelSystem
    retrieval: RetrievalBaseline
    floor: FloorBaseline
    texts: TextCache


def split_work(cfg: EvalConfig, split: str, n_split: int) -> int:
    """Clips generated and captioned for one split (the progress total)."""
    n = min(cfg.l2m_clips, n_split)
    extra = max(0, cfg.mm_generations - cfg.repeats) * min(cfg.mm_prompts, n)
    return 2 * (cfg.repeats * n + extra) + cfg.m2l_count(split, n_split)


def _subsets(cfg: EvalConfig, clips: ClipSet, index: int) -> tuple[ClipSet, ClipSet]:
    """The split's seeded Language2Motion and Motion2Language clips."""
    order = np.random.default_rng([cfg.seed, index]).permutation(len(clips))
    return (
        clips.subset(np.sort(order[: cfg.l2m_clips])),
        clips.subset(np.sort(order[: cfg.m2l_count(clips.split, len(clips))])),
    )


def generate_split(ctx: EvalContext, clips: ClipSet, index: int, name: str) -> Generations:
    """All generations of the system ``name`` (one of :data:`GENERATED_SYSTEMS`) on a split.

    The same draws as :func:`evaluate_split` makes itself, so a run may generate apart (in
    another process) and pass the result in.
    """
    l2m, _ = _subsets(ctx.cfg, clips, index)
    system = {"tdmm-lm": ctx.model, "t2m-gpt": ctx.baseline}[name]
    n_mm = min(ctx.cfg.mm_prompts, len(l2m))
    return _generate_runs(ctx, system, l2m, n_mm, index, L2M_SYSTEMS.index(name))


def evaluate_split(
    ctx: EvalContext,
    clips: ClipSet,
    index: int,
    generated: dict[str, Generations] | None = None,
) -> tuple[dict, dict]:
    """Both directions on one split: (report section, data for the plots).

    ``generated`` holds systems' generations made by :func:`generate_split` already.
    """
    # Texts are encoded in padded batches, so a text's states can differ in the last bits
    # with the other texts new in its batch: each split starts from the context's own cache
    # (not from what earlier splits added), and measures the same in any process and order.
    ctx = dataclasses.replace(ctx, texts=ctx.texts.copy())
    l2m, m2l = _subsets(ctx.cfg, clips, index)
    l2m_section, l2m_extra = _language_to_motion(ctx, l2m, index, generated or {})
    m2l_section, m2l_extra = _motion_to_language(ctx, m2l, index)
    section = {
        "n_clips": len(clips),
        "n_l2m": len(l2m),
        "n_m2l": len(m2l),
        "group_size": min(ctx.cfg.group_size, len(l2m)),
        "l2m": l2m_section,
        "m2l": m2l_section,
        "examples": m2l_extra.pop("examples"),
    }
    return section, {**l2m_extra, **m2l_extra, "split": clips.split}


def _summarise(values: dict[str, dict[str, list[float]]], names: tuple[str, ...]) -> dict:
    """Per system and metric, the repeats' values summarised as {mean, ci95, n}."""
    return {s: {m: mx.mean_ci(v.get(m, [])) for m in names} for s, v in values.items()}


def _language_to_motion(
    ctx: EvalContext, clips: ClipSet, index: int, generated: dict[str, Generations]
) -> tuple[dict, dict]:
    """Every L2M system on one split: (metric summaries, data for the plots)."""
    cfg, ev = ctx.cfg, ctx.evaluator
    n = len(clips)
    truth = ev.read(clips.params)
    text = ev.embed_sentences(ctx.texts.vectors(clips.prompts))
    labels = {a: [lab[a] for lab in clips.labels] for a in ATTRIBUTES}
    # Clips whose prompt names the primary (labelled) emotion unambiguously: with two or
    # more non-neutral segments the primary is the longest, and a prompt gives no lengths.
    one_emotion = np.array(
        [sum(seg["emotion_category"] != "neutral" for seg in lab.get("segments") or []) <= 1
         for lab in clips.labels]
    )  # fmt: skip
    n_mm = min(cfg.mm_prompts, n)
    frames = np.array([len(p) for p in clips.params], dtype=np.float64)  # Tok weights
    values: dict[str, dict[str, list[float]]] = {}
    over_prompts: dict[str, dict[str, float]] = {}
    extra: dict[str, Any] = {"l2m_emotion": [], "sheet": {}}
    fixed = {
        "ground-truth": clips.params,
        "retrieval": ctx.retrieval.generate(clips.prompts, clips.seconds, 0, text_embeddings=text),
        "floor": ctx.floor.generate(clips.prompts, clips.seconds, 0),
    }
    for s, name in enumerate(L2M_SYSTEMS):
        system = {"tdmm-lm": ctx.model, "t2m-gpt": ctx.baseline}.get(name)
        out: dict[str, list[float]] = defaultdict(list)
        if system is None:
            read = truth if name == "ground-truth" else ev.read(fixed[name])
            runs = [(fixed[name], read)] * cfg.repeats
        else:
            if name in generated:
                runs, mm_runs = generated[name]
            else:
                runs, mm_runs = _generate_runs(ctx, system, clips, n_mm, index, s)
            stacked = np.stack([e for e in mm_runs], axis=1)  # (P, G, E)
            for r in range(cfg.repeats):
                rng = np.random.default_rng([cfg.seed, index, s, r, 1])
                out["MultiModality"].append(mx.multimodality(stacked, rng, cfg.mm_pairs))
            tok = system.token_accuracy(clips.prompts, clips.params)
            for r in range(cfg.repeats):
                pick = np.random.default_rng([cfg.seed, index, s, r, 3]).integers(0, n, size=n)
                out["Tok"].append(float((tok[pick] * frames[pick]).sum() / frames[pick].sum()))
            if name == "tdmm-lm":
                extra["l2m_emotion"] = [
                    p for _, rd in runs for p in rd.predictions["emotion_category"]
                ]
                extra["sheet"] = {"clips": clips, "generated": runs[0][0]}
        for r, (motions, read) in enumerate(runs):
            rng = np.random.default_rng([cfg.seed, index, s, r])
            _motion_metrics(cfg, out, clips, motions, read, truth, text, labels, rng)
            out["CorE-1"].append(_accuracy_on(read, labels, one_emotion, "emotion_category"))
        values[name] = out
        over_prompts[name] = {
            COR_NAMES[a]: mx.prompt_ci([np.equal(rd.predictions[a], labels[a]) for _, rd in runs])
            for a in ATTRIBUTES
        }
    extra["l2m_truth"] = labels["emotion_category"] * cfg.repeats
    summary = _summarise(values, L2M_METRICS)
    for name, intervals in over_prompts.items():  # see mx.prompt_ci: another draw of prompts
        for metric, half in intervals.items():
            summary[name][metric]["ci95_prompts"] = half
    return summary, extra


def _motion_metrics(
    cfg: EvalConfig,
    out: dict[str, list[float]],
    clips: ClipSet,
    motions: list[np.ndarray],
    read: MotionReadout,
    truth: MotionReadout,
    text: np.ndarray,
    labels: dict[str, list[str]],
    rng: np.random.Generator,
) -> None:
    """Append one repeat's L2, FD, R@k, MM-Dist, Diversity and Cor* to ``out``."""
    n = len(clips)
    pairs = zip(motions, clips.params, strict=True)
    out["L2"].append(float(np.mean([mx.l2_per_frame(g, t) for g, t in pairs])))
    enough = n >= 2  # FD and Diversity need two motions
    out["FD"].append(mx.frechet_distance(read.embeddings, truth.embeddings) if enough else np.nan)
    hits = mx.r_precision(read.embeddings, text, rng, cfg.group_size)
    for k in range(3):
        out[f"R@{k + 1}"].append(float(hits[k]))
    out["MM-Dist"].append(mx.matching_distance(read.embeddings, text))
    out["Diversity"].append(
        mx.diversity(read.embeddings, rng, cfg.diversity_pairs) if enough else np.nan
    )
    for a in ATTRIBUTES:
        out[COR_NAMES[a]].append(mx.accuracy(read.predictions[a], labels[a]))


def _accuracy_on(
    read: MotionReadout, labels: dict[str, list[str]], keep: np.ndarray, attribute: str
) -> float:
    """A classifier's accuracy on the clips ``keep`` selects (NaN when it selects none)."""
    if not keep.any():
        return float("nan")
    picked = np.flatnonzero(keep)
    predicted = read.predictions[attribute]
    return mx.accuracy([predicted[i] for i in picked], [labels[attribute][i] for i in picked])


def _generate_runs(
    ctx: EvalContext, system: ModelSystem, clips: ClipSet, n_mm: int, index: int, s: int
) -> Generations:
    """All generations of a model system on one split, decoded in as few batches as possible.

    Repeat ``r`` generates every prompt; generations ``repeats .. mm_generations - 1`` only the
    MultiModality prompts. The jobs are sorted by duration (then prompt), so that a batch
    decodes clips of similar length, and cut into batches of ``batch_size``.

    Returns:
        (per repeat: (motions, their reading), per MultiModality generation: (n_mm, E)
        embeddings of its prompts).
    """
    cfg = ctx.cfg
    n_runs = max(cfg.repeats, cfg.mm_generations)
    jobs = [(r, i) for r in range(n_runs) for i in range(len(clips) if r < cfg.repeats else n_mm)]
    seconds = clips.seconds
    jobs.sort(key=lambda job: (seconds[job[1]], job[1], job[0]))
    base = cfg.seed * 1_000_003 + index * 10_007 + s * 101
    motions = system.generate(
        [clips.prompts[i] for _, i in jobs], [seconds[i] for _, i in jobs], seed=base
    )
    by_run: list[list[np.ndarray | None]] = [[None] * len(clips) for _ in range(n_runs)]
    for (r, i), motion in zip(jobs, motions, strict=True):
        by_run[r][i] = motion
    runs, mm_runs = [], []
    for r in range(n_runs):
        done = [m for m in by_run[r] if m is not None]
        read = ctx.evaluator.read(done)
        if r < cfg.repeats:
            runs.append((done, read))
        if r < cfg.mm_generations:
            mm_runs.append(read.embeddings[:n_mm])
    return runs, mm_runs


def _motion_to_language(ctx: EvalContext, clips: ClipSet, index: int) -> tuple[dict, dict]:
    """Every M2L system on one split: (metric summaries, data for the plots)."""
    cfg, ev = ctx.cfg, ctx.evaluator
    truth = ev.read(clips.params)
    captions = {
        "tdmm-lm": ctx.model.describe(clips),
        "retrieval": ctx.retrieval.describe(clips, motion_embeddings=truth.embeddings),
        "floor": ctx.floor.describe(clips),
        "ground-truth": clips.prompts,
    }
    ref_states = [ctx.texts.states(r) for r in clips.captions]
    values: dict[str, dict[str, list[float]]] = {}
    for s, name in enumerate(M2L_SYSTEMS):
        scores = _score_captions(ctx, captions[name], clips, ref_states)
        out: dict[str, list[float]] = defaultdict(list)
        for r in range(cfg.repeats):
            rng = np.random.default_rng([cfg.seed, index, s, r, 2])
            for metric, value in _caption_metrics(cfg, scores, truth.embeddings, rng).items():
                out[metric].append(value)
        values[name] = out
    parsed = [
        caption_attributes(h, lab) for h, lab in zip(captions["tdmm-lm"], clips.labels, strict=True)
    ]
    extra = {
        "m2l_emotion": [p["emotion_category"] for p in parsed],
        "m2l_truth": [lab["emotion_category"] for lab in clips.labels],
        "examples": [
            {
                "id": clips.ids[i],
                "reference": clips.prompts[i],
                "tdmm-lm": captions["tdmm-lm"][i],
                "retrieval": captions["retrieval"][i],
            }
            for i in range(min(5, len(clips)))
        ],
    }
    return _summarise(values, M2L_METRICS), extra


@dataclass
class _CaptionScores:
    """Per-sample scores of one system's captions (resampled by the repeats)."""

    bleu: np.ndarray  # (N, 10) BLEU sufficient statistics
    rouge: np.ndarray  # (N,)
    cider: np.ndarray  # (N,)
    bert: np.ndarray  # (N, 3) precision, recall, F1
    correct: dict[str, np.ndarray]  # attribute -> (N,) 1.0 where the parser read it right
    embeddings: np.ndarray  # (N, E) evaluator text embeddings of the captions


def _score_captions(
    ctx: EvalContext, hyps: list[str], clips: ClipSet, ref_states: list[list[np.ndarray]]
) -> _CaptionScores:
    """Score each caption against its clip's references and labels."""
    refs = clips.captions
    parsed = [caption_attributes(h, lab) for h, lab in zip(hyps, clips.labels, strict=True)]
    return _CaptionScores(
        bleu=np.stack([tx.bleu_stats(h, r) for h, r in zip(hyps, refs, strict=True)]),
        rouge=tx.rouge_l(hyps, refs),
        cider=tx.cider_d(hyps, refs),
        bert=tx.bertscore(ctx.texts.states(hyps), ref_states),
        correct={
            a: np.array(
                [p[a] == lab[a] for p, lab in zip(parsed, clips.labels, strict=True)], float
            )
            for a in ATTRIBUTES
        },
        embeddings=ctx.evaluator.embed_sentences(ctx.texts.vectors(hyps)),
    )


def _caption_metrics(
    cfg: EvalConfig, scores: _CaptionScores, motions: np.ndarray, rng: np.random.Generator
) -> dict[str, float]:
    """One repeat of M2L.

    The captioning metrics are taken on a bootstrap resample of the clips; R@1/R@3 (the
    motion retrieved from its caption) on fresh groups of all clips.
    """
    n = len(scores.rouge)
    pick = rng.integers(0, n, size=n)
    bleu1, bleu4 = tx.bleu_from_stats(scores.bleu[pick])
    hits = mx.r_precision(scores.embeddings, motions, rng, cfg.group_size)
    out = {
        "BLEU-1": bleu1,
        "BLEU-4": bleu4,
        "ROUGE-L": float(scores.rouge[pick].mean()),
        "CIDEr": float(scores.cider[pick].mean()),
        "BERTScore-P": float(scores.bert[pick, 0].mean()),
        "BERTScore-R": float(scores.bert[pick, 1].mean()),
        "BERTScore-F1": float(scores.bert[pick, 2].mean()),
        "R@1": float(hits[0]),
        "R@3": float(hits[2]),
    }
    for a in ATTRIBUTES:
        out[COR_NAMES[a]] = float(scores.correct[a][pick].mean())
    return out
