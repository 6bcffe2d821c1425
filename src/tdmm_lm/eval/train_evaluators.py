"""Train the evaluators on ground-truth motion (``tdmm eval train-evaluators``).

``train_evaluators(cfg)`` reads the corpus's train split, embeds some of each clip's texts
once with the frozen MiniLM, trains :class:`~tdmm_lm.eval.evaluators.MotionEvaluator` with

* InfoNCE between motion and text embeddings (temperature ``model.temperature``, both
  directions), where in-batch negatives whose text is a near-duplicate of the positive's
  (MiniLM cosine above ``duplicate_threshold``) are dropped from the softmax, and
* cross-entropy of the three attribute heads,

then measures it on the ground truth of every test split and writes, in ``cfg.output``::

    train_config.json   the resolved config (written before training starts)
    config.json, model.safetensors, stats.safetensors   the evaluator artefact
    report.json         its own accuracy on ground truth (also returned)

The report holds each head's accuracy and the text-motion R@1/R@3 (groups of 32) per test
split: a figure measured on generated motion means little if the evaluator is weak on real.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.nn import functional as F

from tdmm_lm.artifacts import save_artifact
from tdmm_lm.errors import InvalidInputError
from tdmm_lm.eval.data import ATTRIBUTES, TEST_SPLITS, ClipSet, load_clips, pad_batch
from tdmm_lm.eval.evaluator_recipes import EVALUATOR_RECIPES, EvaluatorTrainConfig
from tdmm_lm.eval.evaluators import MotionEvaluator, sentence_vectors
from tdmm_lm.eval.metrics import accuracy, r_precision
from tdmm_lm.files import write_json_atomic

# The config and its recipes are re-exported: they lived here before evaluator_recipes.py.
__all__ = [
    "EVALUATOR_RECIPES",
    "EvaluatorTrainConfig",
    "evaluate_evaluator",
    "get_batch",
    "lr_at",
    "train_evaluators",
]

log = logging.getLogger(__name__)

TRAIN_CONFIG_NAME = "train_config.json"
REPORT_NAME = "report.json"
#: Batches drawn at once and grouped by clip length (less padding per batch).
POOL_BATCHES = 8


def lr_at(step: int, cfg: EvaluatorTrainConfig) -> float:
    """Learning rate of ``step``: linear warm-up, then cosine decay to a tenth of ``lr``."""
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    progress = (step - cfg.warmup_steps) / max(1, cfg.steps - cfg.warmup_steps)
    return cfg.lr * (0.1 + 0.45 * (1.0 + math.cos(math.pi * min(1.0, progress))))


def batch_order(lengths: np.ndarray, batch_size: int, rng: np.random.Generator) -> list[np.ndarray]:
    """A pool of random batches whose clips have similar lengths (less padding).

    ``POOL_BATCHES`` batches of distinct clips are drawn, sorted by length, cut into batches
    and returned in random order.
    """
    n = len(lengths)
    pool = rng.choice(n, size=min(n, batch_size * POOL_BATCHES), replace=False)
    pool = pool[np.argsort(lengths[pool], kind="stable")]
    batches = [pool[k : k + batch_size] for k in range(0, len(pool), batch_size)]
    batches = [b for b in batches if len(b) >= 2]
    return [batches[i] for i in rng.permutation(len(batches))]


def time_stretch(params: np.ndarray, factor: float) -> np.ndarray:
    """Resample a (T, C) clip to ``round(T * factor)`` frames by linear interpolation."""
    n = max(2, round(len(params) * factor))
    pos = np.linspace(0.0, len(params) - 1, n)
    lo = np.floor(pos).astype(np.int64)
    hi = np.minimum(lo + 1, len(params) - 1)
    w = (pos - lo)[:, None].astype(np.float32)
    return params[lo] * (1 - w) + params[hi] * w


def get_batch(
    clips: ClipSet,
    text_vectors: np.ndarray,
    index: np.ndarray,
    rng: np.random.Generator,
    stretch: float = 0.0,
    head_swap: float = 0.0,
) -> dict[str, torch.Tensor]:
    """One training batch.

    Args:
        clips: The training clips.
        text_vectors: (N, K, 384) MiniLM sentence vectors, K texts per clip.
        index: The clips of the batch.
        rng: Picks one of each clip's K texts, and the stretch factors.
        stretch: Each clip is time-stretched by a factor drawn from [1 - s, 1 + s].
        head_swap: Share of clips that take the head angles of another clip of the batch.

    Returns:
        ``params`` (B, T, C), ``mask`` (B, T), ``text`` (B, 384), ``head_from`` (B,) (row
        ``i`` takes its head angles from row ``head_from[i]``) and one (B,) int64 target per
        attribute (``head_motion`` follows the head angles).
    """
    params = [clips.params[i] for i in index]
    if stretch > 0:
        factors = rng.uniform(1.0 - stretch, 1.0 + stretch, size=len(params))
        params = [time_stretch(p, f) for p, f in zip(params, factors, strict=True)]
    x, mask = pad_batch(params)
    pick = rng.integers(0, text_vectors.shape[1], size=len(index))
    batch = {
        "params": torch.from_numpy(x),
        "mask": torch.from_numpy(mask),
        "text": torch.from_numpy(text_vectors[index, pick]),
    }
    head_from = np.arange(len(index))
    swap = rng.random(len(index)) < head_swap
    if swap.sum() >= 2:
        donors = np.flatnonzero(swap)
        head_from[donors] = donors[rng.permutation(len(donors))]
    batch["head_from"] = torch.from_numpy(head_from)
    for a in ATTRIBUTES:
        batch[a] = torch.from_numpy(clips.targets(a)[index])
    batch["head_motion"] = batch["head_motion"][batch["head_from"]]
    return batch


def contrastive_loss(
    motion: torch.Tensor,
    text: torch.Tensor,
    sentences: torch.Tensor,
    cfg: EvaluatorTrainConfig,
    keep: torch.Tensor | None = None,
) -> torch.Tensor:
    """Symmetric InfoNCE without near-duplicate negatives.

    Args:
        motion: (B, E) unit-length motion embeddings.
        text: (B, E) unit-length text embeddings (pair i belongs together).
        sentences: (B, 384) the frozen sentence vectors, to find near-duplicate texts.
        cfg: Temperature and duplicate threshold.
        keep: (B,) bool: the pairs that take part (default: all).

    Returns:
        The mean of the motion-to-text and text-to-motion cross-entropies.
    """
    if keep is not None:
        motion, text, sentences = motion[keep], text[keep], sentences[keep]
    logits = motion @ text.T / cfg.model.temperature  # (B, B)
    same = sentences @ sentences.T > cfg.duplicate_threshold  # (B, B)
    same.fill_diagonal_(False)
    logits = logits.masked_fill(same, float("-inf"))
    target = torch.arange(len(motion))
    return 0.5 * (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target))


def _training_texts(clips: ClipSet, k: int, rng: np.random.Generator) -> list[str]:
    """``k`` texts per clip (prompt and captions, drawn without replacement), flattened."""
    texts = []
    for prompt, captions in zip(clips.prompts, clips.captions, strict=True):
        pool = [prompt, *captions]
        picks = rng.choice(len(pool), size=k, replace=len(pool) < k)
        texts.extend(pool[i] for i in picks)
    return texts


def evaluate_evaluator(
    model: MotionEvaluator, clips: ClipSet, seed: int = 0, repeats: int = 20
) -> dict[str, Any]:
    """The evaluator's own accuracy on ground-truth clips.

    Returns:
        ``{"n": clips, "accuracy": {attribute: share}, "retrieval": {"R@1", "R@3"}}``:
        R-precision of motion -> prompt in groups of 32, averaged over ``repeats`` shuffles.
    """
    readout = model.read(clips.params)
    acc = {
        a: accuracy(readout.predictions[a], [lab[a] for lab in clips.labels]) for a in ATTRIBUTES
    }
    texts = model.embed_texts(clips.prompts)
    rng = np.random.default_rng(seed)
    hits = np.mean([r_precision(readout.embeddings, texts, rng) for _ in range(repeats)], axis=0)
    return {
        "n": len(clips),
        "accuracy": acc,
        "retrieval": {"R@1": float(hits[0]), "R@3": float(hits[2])},
    }


def train_evaluators(
    cfg: EvaluatorTrainConfig, progress: Callable[[int, int], None] | None = None
) -> dict[str, Any]:
    """Train the evaluators on a corpus's ground truth and save them in ``cfg.output``.

    Args:
        cfg: The run's settings.
        progress: Called as ``progress(step, total)`` after each step.

    Returns:
        The report written to ``cfg.output/report.json``: per test split, each head's
        accuracy and the retrieval R@1/R@3; plus timings.

    Raises:
        InvalidInputError: The corpus is missing, or its train split is empty or too small.
    """
    start = time.perf_counter()
    threads = torch.get_num_threads()
    torch.set_num_threads(cfg.threads)
    try:
        out = Path(cfg.output)
        out.mkdir(parents=True, exist_ok=True)
        write_json_atomic(out / TRAIN_CONFIG_NAME, cfg.to_dict())
        rng = np.random.default_rng(cfg.seed)
        torch.manual_seed(cfg.seed)
        clips = load_clips(cfg.corpus, "train", cfg.max_train_clips, cfg.seed)
        if len(clips) < 2:
            raise InvalidInputError(
                f"{cfg.corpus}: the train split has {len(clips)} clip(s); need >= 2"
            )
        model = MotionEvaluator(dataclasses.replace(cfg.model, fps=clips.fps))
        model.set_stats(clips.params)
        t0 = time.perf_counter()
        texts = _training_texts(clips, cfg.texts_per_clip, rng)
        vectors = sentence_vectors(texts).reshape(len(clips), cfg.texts_per_clip, -1)
        text_seconds = time.perf_counter() - t0
        log.info("embedded %d texts in %.1f s", len(texts), text_seconds)
        t0 = time.perf_counter()
        losses = _fit(model, clips, vectors, cfg, rng, progress)
        train_seconds = time.perf_counter() - t0
        model.eval()
        report: dict[str, Any] = {"train_clips": len(clips), "splits": {}}
        for split in TEST_SPLITS:
            try:
                test = load_clips(cfg.corpus, split)
            except InvalidInputError:
                continue  # an empty split of a tiny corpus: nothing to measure
            report["splits"][split] = evaluate_evaluator(model, test, cfg.seed)
        report["final_loss"] = losses
        report["seconds"] = {
            "text_embedding": round(text_seconds, 1),
            "training": round(train_seconds, 1),
            "total": round(time.perf_counter() - start, 1),
        }
        save_artifact(
            out,
            type_tag=model.type_tag,
            config=model.config,
            weights=model.state_dict(),
            stats=model.artifact_stats(),
            extra_files={
                TRAIN_CONFIG_NAME: json.dumps(cfg.to_dict(), indent=2),
                REPORT_NAME: json.dumps(report, indent=2),
            },
        )
        return report
    finally:
        torch.set_num_threads(threads)


def _fit(
    model: MotionEvaluator,
    clips: ClipSet,
    vectors: np.ndarray,
    cfg: EvaluatorTrainConfig,
    rng: np.random.Generator,
    progress: Callable[[int, int], None] | None,
) -> dict[str, float]:
    """The optimisation loop; returns the mean losses of the last ``log_every`` steps."""
    decay = [p for p in model.parameters() if p.dim() >= 2]
    rest = [p for p in model.parameters() if p.dim() < 2]
    optimizer = torch.optim.AdamW(
        [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": rest, "weight_decay": 0}],
        lr=cfg.lr,
    )
    lengths = np.array([len(p) for p in clips.params])
    queue: list[np.ndarray] = []
    window: dict[str, list[float]] = {}
    model.train()
    for step in range(cfg.steps):
        if not queue:
            queue = batch_order(lengths, cfg.batch_size, rng)
        batch = get_batch(clips, vectors, queue.pop(), rng, cfg.stretch, cfg.head_swap)
        for group in optimizer.param_groups:
            group["lr"] = lr_at(step, cfg)
        motion, logits = model(batch["params"], batch["mask"], batch["head_from"])
        text = model.project_text(batch["text"])
        keep = batch["head_from"] == torch.arange(len(motion))  # swapped clips lie to InfoNCE
        parts = {"contrastive": contrastive_loss(motion, text, batch["text"], cfg, keep)}
        for a in ATTRIBUTES:
            parts[a] = F.cross_entropy(logits[a], batch[a])
        loss = cfg.contrastive_weight * parts["contrastive"] + sum(parts[a] for a in ATTRIBUTES)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        for name, value in parts.items():
            window.setdefault(name, []).append(float(value.detach()))
        if (step + 1) % cfg.log_every == 0 or step + 1 == cfg.steps:
            means = {k: round(float(np.mean(v)), 4) for k, v in window.items()}
            log.info("step %d/%d %s", step + 1, cfg.steps, means)
            if step + 1 < cfg.steps:
                window = {}
        if progress is not None:
            progress(step + 1, cfg.steps)
    return {k: round(float(np.mean(v)), 4) for k, v in window.items()}
