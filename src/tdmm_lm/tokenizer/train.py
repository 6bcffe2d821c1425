"""Training the motion tokenizer: ``train_tokenizer(cfg) -> report``.

The loop is built from named helpers (:func:`get_batch`, :func:`lr_at`, :func:`evaluate`,
:func:`save_checkpoint`, :func:`load_checkpoint`). A run folder holds::

    OUTPUT/train_config.json    the resolved config, written before the first step
    OUTPUT/train_log.jsonl      one JSON line per log interval ("train") and validation ("val")
    OUTPUT/checkpoint/          the last checkpoint (safetensors + JSON; no pickle)

and, once training ends, becomes the tokenizer artefact (``config.json``,
``model.safetensors``, ``stats.safetensors``; see :mod:`tdmm_lm.artifacts`) with the log,
the config and ``report.json`` (the test split) beside it; the checkpoint is then dropped.

Reproducibility: every random draw comes from a generator seeded by ``(seed, step)`` (the
windows of step ``s``, the codes reset at step ``s``) or by ``seed`` alone (the codebook's
k-means++ initialisation), so a resumed run draws exactly what an uninterrupted one does,
and with deterministic kernels it ends with bitwise the same weights.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import shutil
import time
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import torch

from tdmm_lm.artifacts import load_artifact, save_artifact
from tdmm_lm.errors import InvalidInputError
from tdmm_lm.files import write_json_atomic, write_text_atomic
from tdmm_lm.tokenizer.config import TokenizerTrainConfig
from tdmm_lm.tokenizer.data import MotionSplit, channel_range, channel_stats, load_split
from tdmm_lm.tokenizer.expression import (
    ExpressionReader,
    frame_labels,
    perceptual_loss,
    reader_accuracy,
    train_expression_reader,
)
from tdmm_lm.tokenizer.model import MotionTokenizer
from tdmm_lm.tokenizer.report import reconstruction_metrics, tokenizer_report

__all__ = [
    "evaluate",
    "get_batch",
    "load_checkpoint",
    "lr_at",
    "save_checkpoint",
    "train_tokenizer",
]

log = logging.getLogger(__name__)

CONFIG_FILE = "train_config.json"
LOG_FILE = "train_log.jsonl"
REPORT_FILE = "report.json"
CHECKPOINT_DIR = "checkpoint"
CHECKPOINT_TAG = "motion_tokenizer_checkpoint"
#: Stream tags that keep the (seed, step) generators of different purposes apart.
_WINDOWS, _RESETS, _KMEANS = 0, 1, 2


def _rng(seed: int, step: int, stream: int) -> np.random.Generator:
    return np.random.default_rng([seed, step, stream])


def _torch_generator(seed: int, step: int, stream: int) -> torch.Generator:
    state = np.random.SeedSequence([seed, step, stream]).generate_state(1, np.uint64)[0]
    return torch.Generator().manual_seed(int(state) & (2**63 - 1))


def get_batch(
    data: MotionSplit, tok: MotionTokenizer, cfg: TokenizerTrainConfig, rng: np.random.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """Draw ``cfg.batch_size`` windows of ``cfg.window`` frames, normalised by ``tok``.

    Returns:
        ((B, L, 61) normalised parameters, zero at padding; (B, L) bool mask of valid frames).
    """
    starts = data.sample_starts(rng, cfg.batch_size, cfg.window)
    x, mask = data.windows(starts, cfg.window)
    x_norm = tok.normalise(torch.from_numpy(x)) * torch.from_numpy(mask)[..., None]
    return x_norm, torch.from_numpy(mask)


def lr_at(step: int, cfg: TokenizerTrainConfig) -> float:
    """Learning rate at ``step``: linear warm-up, then cosine decay to ``lr * min_lr_ratio``."""
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    progress = (step - cfg.warmup_steps) / max(cfg.steps - cfg.warmup_steps, 1)
    cosine = 0.5 * (1.0 + math.cos(math.pi * min(progress, 1.0)))
    return cfg.lr * (cfg.min_lr_ratio + (1.0 - cfg.min_lr_ratio) * cosine)


def evaluate(tok: MotionTokenizer, data: MotionSplit, max_sequences: int | None) -> dict[str, Any]:
    """Reconstruction metrics on (the first ``max_sequences`` of) a split; see the report."""
    return reconstruction_metrics(tok, data.sequences(max_sequences))


@torch.no_grad()
def init_codebook(tok: MotionTokenizer, data: MotionSplit, cfg: TokenizerTrainConfig) -> None:
    """Initialise the codebook with k-means++ on encoder outputs of a few batches."""
    latents = []
    for i in range(cfg.kmeans_batches):
        x, mask = get_batch(data, tok, cfg, _rng(cfg.seed, i, _KMEANS))
        z, token_mask = tok.encode_latents(x, mask)  # (B, D, N), (B, N)
        latents.append(z.transpose(1, 2)[token_mask])  # (M, D)
    z = torch.cat(latents)
    largest = max(tok.codebook_size, tok.residual_codebook_size)
    if len(z) < largest:
        raise InvalidInputError(
            f"{len(z)} encoder outputs cannot initialise {largest} codes; raise "
            "kmeans_batches or batch_size, or use a bigger corpus"
        )
    tok.quantizer.initialise(z, _torch_generator(cfg.seed, 0, _KMEANS))
    log.info("codebook initialised by k-means++ on %d encoder outputs", len(z))


def save_checkpoint(
    path: Path,
    tok: MotionTokenizer,
    optimizer: torch.optim.Optimizer,
    state: dict[str, Any],
    reader: ExpressionReader | None = None,
) -> None:
    """Write model, optimiser and loop state atomically (safetensors + JSON, no pickle).

    Args:
        path: The checkpoint folder (replaced).
        tok: The model (weights and EMA codebook buffers; normalisation stats as stats).
        optimizer: AdamW; its tensors go to safetensors, its hyper-parameters to JSON.
        state: JSON-able loop state (step, elapsed time, the config).
        reader: The perceptual loss's expression reader, if the run has one (a resumed run
            reads through the same reader).
    """
    opt = optimizer.state_dict()
    weights = {f"model.{k}": v for k, v in tok.state_dict().items()}
    if reader is not None:
        weights.update({f"reader.{k}": v for k, v in reader.state_dict().items()})
    for index, slots in opt["state"].items():
        for key, value in slots.items():
            weights[f"optim.{index}.{key}"] = torch.as_tensor(value)
    weights["rng.torch"] = torch.get_rng_state()
    header = {**state, "param_groups": opt["param_groups"]}
    save_artifact(
        path, type_tag=CHECKPOINT_TAG, config=header, weights=weights, stats=tok.artifact_stats()
    )


def load_checkpoint(
    path: Path,
    tok: MotionTokenizer,
    optimizer: torch.optim.Optimizer,
    reader: ExpressionReader | None = None,
) -> dict[str, Any]:
    """Restore what :func:`save_checkpoint` wrote; return the loop state."""
    header, weights, stats = load_artifact(path, CHECKPOINT_TAG)
    tok.load_state_dict({k[6:]: v for k, v in weights.items() if k.startswith("model.")})
    if reader is not None:
        reader.load_state_dict({k[7:]: v for k, v in weights.items() if k.startswith("reader.")})
    tok.load_artifact_stats(stats)
    slots: dict[int, dict[str, torch.Tensor]] = {}
    for name, value in weights.items():
        if name.startswith("optim."):
            _, index, key = name.split(".", 2)
            slots.setdefault(int(index), {})[key] = value
    optimizer.load_state_dict({"state": slots, "param_groups": header.pop("param_groups")})
    torch.set_rng_state(weights["rng.torch"])
    return header


@contextmanager
def _deterministic():
    """Deterministic torch kernels for the duration of a run (the old setting restored)."""
    previous = torch.are_deterministic_algorithms_enabled()
    torch.use_deterministic_algorithms(True)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(previous)


def _prepare_output(cfg: TokenizerTrainConfig, resume: bool) -> bool:
    """Check the output folder; return True when it holds a checkpoint to resume from."""
    out = Path(cfg.output)
    if resume and (out / CHECKPOINT_DIR / "config.json").is_file():
        saved = TokenizerTrainConfig(**json.loads((out / CONFIG_FILE).read_text()))
        differs = cfg.same_run(saved)
        if differs:
            raise InvalidInputError(
                f"{out}: cannot resume, the run was started with other {', '.join(differs)}; "
                "use the same options or another output folder"
            )
        return True
    if out.exists() and any(out.iterdir()) and not resume:
        raise InvalidInputError(
            f"{out} is not empty; pass --resume to continue its run or choose another folder"
        )
    return False


class _Tracker:
    """Running sums between two log lines."""

    def __init__(self, codebook_size: int) -> None:
        self.codebook_size = codebook_size
        self.reset()

    def reset(self) -> None:
        self.sums: dict[str, float] = {}
        self.counts = np.zeros(self.codebook_size)
        self.steps, self.frames, self.start = 0, 0, time.perf_counter()

    def add(self, losses: dict[str, float], counts: torch.Tensor, frames: int) -> None:
        for key, value in losses.items():
            self.sums[key] = self.sums.get(key, 0.0) + value
        self.counts += counts.numpy()
        self.steps, self.frames = self.steps + 1, self.frames + frames

    def line(self, r: int) -> dict[str, Any]:
        seconds = max(time.perf_counter() - self.start, 1e-9)
        used = self.counts[self.counts > 0]
        p = used / max(used.sum(), 1)
        return {
            **{k: v / self.steps for k, v in self.sums.items()},
            "usage": float(len(used) / self.codebook_size),
            "perplexity": float(np.exp(-(p * np.log(p)).sum())) if len(used) else 0.0,
            "frames_per_s": self.frames / seconds,
            "tokens_per_s": self.frames / r / seconds,
        }


def train_tokenizer(
    cfg: TokenizerTrainConfig,
    resume: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Train a motion tokenizer and write it (with ``report.json`` on the test split).

    Args:
        cfg: The run's config (see :meth:`TokenizerTrainConfig.from_recipe`).
        resume: Continue from ``cfg.output``'s last checkpoint, or return the report of a
            run that already finished there.
        progress: Called with (step, steps) after every step.

    Returns:
        The test-split report (see :func:`tdmm_lm.tokenizer.report.tokenizer_report`).
    """
    out = Path(cfg.output)
    if resume and (out / REPORT_FILE).is_file() and not (out / CHECKPOINT_DIR).exists():
        log.info("%s already holds a trained tokenizer", out)
        return json.loads((out / REPORT_FILE).read_text())
    torch.manual_seed(cfg.seed)
    train = load_split(cfg.corpus, "train")
    val = load_split(cfg.corpus, "val", limit=cfg.eval_sequences)
    cfg = dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, fps=train.fps))
    resuming = _prepare_output(cfg, resume)
    tok = MotionTokenizer(cfg.model)
    tok.set_stats(*channel_stats(train), *channel_range(train))
    optimizer = torch.optim.AdamW(
        tok.parameters(), lr=cfg.lr, betas=(0.9, 0.99), weight_decay=cfg.weight_decay
    )
    step, elapsed = 0, 0.0
    reader = ExpressionReader(cfg.reader).freeze() if cfg.perceptual_weight > 0 else None
    if resuming:
        state = load_checkpoint(out / CHECKPOINT_DIR, tok, optimizer, reader)
        step, elapsed = state["step"], state["elapsed_s"]
        _truncate_log(out / LOG_FILE, step)
        log.info("resumed %s at step %d", out, step)
    else:
        out.mkdir(parents=True, exist_ok=True)
        write_json_atomic(out / CONFIG_FILE, cfg.to_dict())
        (out / LOG_FILE).write_text("")
    with _deterministic(), open(out / LOG_FILE, "a") as log_file:
        if reader is not None and not resuming:
            reader = _train_reader(tok, train, val, cfg, log_file)
        _loop(tok, optimizer, train, val, cfg, step, elapsed, log_file, progress, reader)
    report = tokenizer_report(tok, cfg.corpus, "test")
    _save_final(tok, cfg, report)
    return report


def _train_reader(
    tok: MotionTokenizer,
    train: MotionSplit,
    val: MotionSplit,
    cfg: TokenizerTrainConfig,
    log_file: Any,
) -> ExpressionReader:
    """Train the perceptual loss's expression reader and log its validation accuracy."""
    started = time.perf_counter()
    margin = cfg.reader.boundary_margin_s
    labels = frame_labels(cfg.corpus, "train", train, margin)
    reader = train_expression_reader(train, labels, tok.normalise, cfg.reader, cfg.window, cfg.seed)
    accuracy = reader_accuracy(
        reader, val, frame_labels(cfg.corpus, "val", val, margin), tok.normalise
    )
    record = {
        "kind": "reader",
        "step": 0,
        **accuracy,
        "wall_s": round(time.perf_counter() - started, 3),
    }
    log_file.write(json.dumps(record) + "\n")
    log_file.flush()
    log.info("expression reader: val emotion %.3f, intensity %.3f", accuracy["emotion_accuracy"],
             accuracy["intensity_accuracy"])  # fmt: skip
    return reader


def _loop(
    tok: MotionTokenizer,
    optimizer: torch.optim.Optimizer,
    train: MotionSplit,
    val: MotionSplit,
    cfg: TokenizerTrainConfig,
    step: int,
    elapsed: float,
    log_file: Any,
    progress: Callable[[int, int], None] | None,
    reader: ExpressionReader | None = None,
) -> None:
    """The optimisation loop from ``step`` to ``cfg.steps``."""
    out = Path(cfg.output)
    tracker = _Tracker(cfg.model.codebook_size)
    started = time.perf_counter() - elapsed

    def write(record: dict[str, Any]) -> None:
        record["wall_s"] = round(time.perf_counter() - started, 3)
        log_file.write(json.dumps(record) + "\n")
        log_file.flush()

    tok.train()
    while step < cfg.steps:
        quantize = step >= cfg.ae_warmup_steps
        if quantize and not bool(tok.quantizer.initialised):
            init_codebook(tok, train, cfg)
        for group in optimizer.param_groups:
            group["lr"] = lr_at(step, cfg)
        x, mask = get_batch(train, tok, cfg, _rng(cfg.seed, step, _WINDOWS))
        result, losses = tok(x, mask, _torch_generator(cfg.seed, step, _RESETS), quantize)
        total, terms = losses.total, losses.as_floats()
        if reader is not None:
            perceptual = perceptual_loss(reader, result.params, x, mask)
            total = total + cfg.perceptual_weight * perceptual
            terms.update(total=float(total.detach()), perceptual=float(perceptual.detach()))
        optimizer.zero_grad(set_to_none=True)
        total.backward()
        grad_norm = torch.nn.utils.clip_grad_norm_(tok.parameters(), cfg.grad_clip)
        optimizer.step()
        tracker.add(terms, result.counts, int(mask.sum()))
        step += 1
        if step % cfg.log_interval == 0 or step == cfg.steps:
            line = tracker.line(cfg.model.frames_per_token)
            write({"kind": "train", "step": step, "lr": lr_at(step - 1, cfg),
                   "grad_norm": float(grad_norm), "quantized": quantize, **line})  # fmt: skip
            tracker.reset()
        if step % cfg.eval_interval == 0 or step == cfg.steps:
            metrics = evaluate(tok, val, cfg.eval_sequences)
            write({"kind": "val", "step": step, **metrics})
            log.info("step %d: val vertex error %.3f mm, usage %.2f", step,
                     metrics["vertex_error_mm"], metrics["codebook_usage"])  # fmt: skip
        if step % cfg.checkpoint_interval == 0 and step < cfg.steps:
            state = {"step": step, "elapsed_s": time.perf_counter() - started,
                     "train_config": cfg.to_dict()}  # fmt: skip
            save_checkpoint(out / CHECKPOINT_DIR, tok, optimizer, state, reader)
        if progress is not None:
            progress(step, cfg.steps)
    tok.eval()


def _truncate_log(path: Path, step: int) -> None:
    """Drop log lines written after the checkpoint at ``step`` (they will be redone)."""
    if not path.exists():
        return
    lines = [line for line in path.read_text().splitlines() if line.strip()]
    kept = [line for line in lines if json.loads(line)["step"] <= step]
    write_text_atomic(path, "".join(line + "\n" for line in kept))


def _save_final(tok: MotionTokenizer, cfg: TokenizerTrainConfig, report: dict[str, Any]) -> None:
    """Replace the run folder by the artefact, with the config, log and report beside it."""
    out = Path(cfg.output)
    extra = {name: (out / name).read_text() for name in (CONFIG_FILE, LOG_FILE)}
    extra[REPORT_FILE] = json.dumps(report, indent=2)
    save_artifact(
        out,
        type_tag=MotionTokenizer.type_tag,
        config=tok.config,
        weights=tok.state_dict(),
        stats=tok.artifact_stats(),
        extra_files=extra,
    )
    shutil.rmtree(out / CHECKPOINT_DIR, ignore_errors=True)  # gone with the swap; be sure
    log.info("wrote the tokenizer %s", out)
