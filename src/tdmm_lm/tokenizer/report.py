"""How well a tokenizer reconstructs motion: the report of ``tdmm tokenizer eval``.

Sequences go through the public API exactly as the language model uses it (``encode_batch``
then ``decode``, which clips to the ``arkit`` ranges), and are compared with the originals:

* ``vertex_error_mm``: mean Euclidean distance between reconstructed and true vertices of
  the built-in face model (all 478 vertices, every frame), in mm, the face being 140 mm
  wide, in the head's own frame: the face geometry (expression, jaw, eyelids, eyes), with
  the head's rotation reported apart as ``head_angle_error_deg``. This is the figure the
  release target (≤ 1 mm) is about: the issue asks for the geometry loss with extra terms for
  the head and eye rotations "which geometry alone under-weights", i.e. the geometry of the
  face, not of the face swung about the neck. ``vertex_error_p95_mm`` is the 95th
  percentile of the per-frame mean.
* ``posed_vertex_error_mm``: the same with the head rotation applied to both sides. One
  degree of head rotation moves the face by about 2 mm, so this figure is mostly the head
  angle error seen through the geometry.
* ``param_mae``: mean absolute error of the 52 blendshape weights (each in [0, 1]).
* ``head_angle_error_deg`` / ``eye_angle_error_deg``: mean absolute error of the head's and
  the eyes' yaw, pitch and roll, in degrees.
* ``codebook_usage``: the fraction of the K codes used at least once on the split;
  ``perplexity``: exp of the entropy of the code histogram (K if all codes are equally
  frequent); ``repeat_rate``: the fraction of tokens equal to the token before them (how
  "slow" the token stream is, which makes it easier for a language model to predict).
* With a residual codebook, ``residual_codebook_usage``, ``residual_perplexity`` and
  ``residual_repeat_rate`` are the same figures for its second codes (the ones above are
  the first codebook's).
* ``peak_retention``: for every sequence and blendshape whose true peak reaches
  :data:`PEAK_FLOOR`, the reconstructed peak over the true one, averaged; a tokenizer that
  flattens strong expressions (a broad smile coming back as a faint one) shows here before
  it shows in the mean errors. ``peak_retention_worst`` names the blendshape that keeps the
  least of its peaks.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import torch

from tdmm_lm.face import ARKIT, FaceModel
from tdmm_lm.tokenizer.data import load_split
from tdmm_lm.tokenizer.model import N_BLENDSHAPES, MotionTokenizer

__all__ = ["REPORT_KEYS", "format_report", "reconstruction_metrics", "tokenizer_report"]

#: Keys every report holds.
REPORT_KEYS = (
    "vertex_error_mm",
    "vertex_error_p95_mm",
    "posed_vertex_error_mm",
    "param_mae",
    "head_angle_error_deg",
    "eye_angle_error_deg",
    "codebook_usage",
    "perplexity",
    "repeat_rate",
    "peak_retention",
    "peak_retention_worst",
    "n_sequences",
    "n_frames",
)
#: The targets of the release tokenizer on the test split (issue 5).
TARGET_VERTEX_ERROR_MM = 1.0
TARGET_CODEBOOK_USAGE = 0.8
_HEAD = slice(52, 55)
_EYES = slice(55, 61)
#: Blendshape peaks at or above this count in ``peak_retention``.
PEAK_FLOOR = 0.5


def reconstruction_metrics(tok: MotionTokenizer, sequences: list[np.ndarray]) -> dict[str, Any]:
    """Encode, decode and compare sequences.

    Args:
        tok: The tokenizer (its mode is restored afterwards).
        sequences: (T_i, 61) float32 ``arkit`` parameter arrays.

    Returns:
        A dict with the :data:`REPORT_KEYS` (floats and ints).
    """
    was_training = tok.training
    tok.eval()
    try:
        tokens = tok.encode_batch(sequences)
        recons = [tok.decode(t)[: len(p)] for t, p in zip(tokens, sequences, strict=True)]
    finally:
        tok.train(was_training)
    face = FaceModel()
    frame_errors, posed_errors, shape_err, head_err, eye_err = [], [], [], [], []
    peak_ratios: dict[int, list[float]] = {}
    for true, pred in zip(sequences, recons, strict=True):
        true_v = face.vertices(true)  # (T, V, 3)
        posed = np.linalg.norm(face.vertices(pred) - true_v, axis=-1)  # (T, V)
        posed_errors.append(posed.mean(1))
        unposed = pred.copy()
        unposed[:, _HEAD] = true[:, _HEAD]  # the true head rotation on both sides
        frame_errors.append(np.linalg.norm(face.vertices(unposed) - true_v, axis=-1).mean(1))
        true_peak, pred_peak = true[:, :N_BLENDSHAPES].max(0), pred[:, :N_BLENDSHAPES].max(0)
        for channel in np.flatnonzero(true_peak >= PEAK_FLOOR):
            ratio = pred_peak[channel] / true_peak[channel]
            peak_ratios.setdefault(int(channel), []).append(float(ratio))
        diff = np.abs(pred - true)  # (T, 61)
        shape_err.append(diff[:, :N_BLENDSHAPES].mean(1))
        head_err.append(np.degrees(diff[:, _HEAD]).mean(1))
        eye_err.append(np.degrees(diff[:, _EYES]).mean(1))
    codes = _code_statistics([t if t.ndim == 1 else t[:, 0] for t in tokens], tok.codebook_size)
    if tok.codebooks >= 2:
        for level in range(2, tok.codebooks + 1):  # "residual_…" for level 2, then "level3_…"
            prefix = "residual_" if level == 2 else f"level{level}_"
            stats = _code_statistics([t[:, level - 1] for t in tokens], tok.residual_codebook_size)
            codes.update({prefix + key: value for key, value in stats.items()})
        # A frame's token is the pair: this repeat rate bounds a copying model's Tok.
        held = sum(int((t[1:] == t[:-1]).all(1).sum()) for t in tokens)
        codes["pair_repeat_rate"] = held / max(sum(len(t) - 1 for t in tokens), 1)
    per_frame = np.concatenate(frame_errors)
    ratios = [r for rs in peak_ratios.values() for r in rs]
    worst = min(peak_ratios, key=lambda c: np.mean(peak_ratios[c]), default=None)
    return {
        "vertex_error_mm": float(per_frame.mean()),
        "vertex_error_p95_mm": float(np.percentile(per_frame, 95)),
        "posed_vertex_error_mm": float(np.concatenate(posed_errors).mean()),
        "param_mae": float(np.concatenate(shape_err).mean()),
        "head_angle_error_deg": float(np.concatenate(head_err).mean()),
        "eye_angle_error_deg": float(np.concatenate(eye_err).mean()),
        **codes,
        "peak_retention": float(np.mean(ratios)) if ratios else float("nan"),
        "peak_retention_worst": (
            {"channel": ARKIT.channels[worst], "ratio": float(np.mean(peak_ratios[worst]))}
            if worst is not None
            else None
        ),
        "n_sequences": len(sequences),
        "n_frames": int(sum(len(s) for s in sequences)),
    }


def _code_statistics(tokens: list[np.ndarray], size: int) -> dict[str, float]:
    """Usage, perplexity and repeat rate of one codebook's (N_i,) token streams."""
    all_tokens = np.concatenate(tokens)
    counts = np.bincount(all_tokens, minlength=size)
    p = counts[counts > 0] / counts.sum()
    repeats = sum(int((t[1:] == t[:-1]).sum()) for t in tokens)
    return {
        "codebook_usage": float((counts > 0).mean()),
        "perplexity": float(math.exp(-(p * np.log(p)).sum())),
        "repeat_rate": repeats / max(len(all_tokens) - len(tokens), 1),
    }


def streaming_context(tok: MotionTokenizer) -> dict[str, int]:
    """Measure how far a change travels: frames either side that a token / frame depends on.

    One frame of a long constant sequence is perturbed, and the encoder outputs that change
    are counted (``encoder_frames``); likewise one token is changed and the decoded frames
    that change are counted (``decoder_frames``). Both are half-widths in frames.
    """
    r, n = tok.frames_per_token, 256
    with torch.inference_mode():
        x = torch.zeros(1, n, tok.mean.numel())
        mask = torch.ones(1, n, dtype=torch.bool)
        base, _ = tok.encode_latents(x, mask)
        x[0, n // 2] += 1.0
        moved, _ = tok.encode_latents(x, mask)
        changed = torch.nonzero((moved - base).abs().amax(1)[0] > 0).squeeze(1) * r
        enc = int(max(abs(changed.min() - n // 2), abs(changed.max() - n // 2)))
        codes = torch.zeros(1, tok.config.code_dim, n // r)
        token_mask = torch.ones(1, n // r, dtype=torch.bool)
        base = tok.decode_codes(codes, token_mask)
        codes[0, :, n // (2 * r)] += 1.0
        moved = tok.decode_codes(codes, token_mask)
        changed = torch.nonzero((moved - base).abs().amax(2)[0] > 0).squeeze(1)
        dec = int(max(abs(changed.min() - n // 2), abs(changed.max() - n // 2)))
    return {"encoder_frames": enc, "decoder_frames": dec}


def tokenizer_report(
    tok: MotionTokenizer, corpus: str | Path, split: str = "test"
) -> dict[str, Any]:
    """The reconstruction report of a tokenizer on one corpus split (JSON-able).

    Args:
        tok: The tokenizer.
        corpus: The corpus folder.
        split: The split to measure.

    Returns:
        :func:`reconstruction_metrics` plus ``split``, the tokenizer's size and rate, its
        streaming context, and whether the release targets are met.
    """
    data = load_split(corpus, split)
    metrics = reconstruction_metrics(tok, data.sequences())
    return {
        "split": split,
        "corpus": str(corpus),
        "codebook_size": tok.codebook_size,
        "residual_codebook_size": tok.residual_codebook_size,
        "frames_per_token": tok.frames_per_token,
        "fps": tok.fps,
        **metrics,
        "context": streaming_context(tok),
        "targets": {
            "vertex_error_mm": TARGET_VERTEX_ERROR_MM,
            "codebook_usage": TARGET_CODEBOOK_USAGE,
            "met": metrics["vertex_error_mm"] <= TARGET_VERTEX_ERROR_MM
            and metrics["codebook_usage"] >= TARGET_CODEBOOK_USAGE
            and metrics.get("residual_codebook_usage", 1.0) >= TARGET_CODEBOOK_USAGE,
        },
    }


def format_report(report: dict[str, Any]) -> str:
    """A readable multi-line summary of a :func:`tokenizer_report`."""
    ctx = report.get("context", {})
    targets = report.get("targets", {})
    residual = []
    if report.get("residual_codebook_size"):
        residual.append(
            f"  residual codes   {report['residual_codebook_size']}: "
            f"{100 * report['residual_codebook_usage']:.1f} % used "
            f"(perplexity {report['residual_perplexity']:.1f}, "
            f"repeat rate {report['residual_repeat_rate']:.3f}"
            + (
                f"; pairs repeat {pairs:.3f})"
                if (pairs := report.get("pair_repeat_rate")) is not None
                else ")"
            )
        )
    lines = [
        f"motion tokenizer on {report.get('split', '?')} "
        f"({report['n_sequences']} sequences, {report['n_frames']} frames)",
        f"  codebook {report.get('codebook_size', '?')} codes, "
        f"{report.get('frames_per_token', '?')} frame(s) per token at {report.get('fps', 0):g} fps",
        f"  vertex error     {report['vertex_error_mm']:.3f} mm in the head's frame "
        f"(p95 {report['vertex_error_p95_mm']:.3f} mm; "
        f"posed {report['posed_vertex_error_mm']:.3f} mm)",
        f"  blendshape MAE   {report['param_mae']:.4f}",
        f"  head angle error {report['head_angle_error_deg']:.3f} deg",
        f"  eye angle error  {report['eye_angle_error_deg']:.3f} deg",
        f"  codebook usage   {100 * report['codebook_usage']:.1f} % "
        f"(perplexity {report['perplexity']:.1f}, repeat rate {report['repeat_rate']:.3f})",
        *residual,
        f"  peaks kept       {100 * report['peak_retention']:.1f} % of blendshape peaks "
        f">= {PEAK_FLOOR}"
        + (
            f" (least: {worst['channel']} {100 * worst['ratio']:.0f} %)"
            if (worst := report.get("peak_retention_worst"))
            else ""
        ),
    ]
    if ctx:
        lines.append(
            f"  context          ±{ctx['encoder_frames']} frames to encode, "
            f"±{ctx['decoder_frames']} frames to decode"
        )
    if targets:
        verdict = "met" if targets["met"] else "NOT met"
        lines.append(
            f"  targets          ≤ {targets['vertex_error_mm']} mm and ≥ "
            f"{100 * targets['codebook_usage']:.0f} % of codes: {verdict}"
        )
    return "\n".join(lines)
