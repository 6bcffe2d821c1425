"""A per-frame expression reader: what the tokenizer's perceptual loss listens through.

Why: the geometry and parameter losses spend the codebooks' resolution where the face moves
most (the jaw, the blinks), not where an expression is told apart from its neighbours. On
release 7's tokenizer, the round trip of the test split kept the emotion of 83 % of clips
(the ground truth 97 %) and its intensity 50 % (75 %), and the lost part sat in small,
slow errors of the mouth channels. A loss that compares how a small network *reads* the
reconstruction with how it reads the truth tells the encoder which of those small errors
matter. It is the idea of EMOCA's emotion-consistency loss, on parameters instead of images.

The reader is trained first, inside the tokenizer run, on the train split's blendshapes and
the per-frame labels of its segments (emotion category and intensity level; frames near a
segment boundary, where one expression blends into the next, are left out). It is not the
evaluators of :mod:`tdmm_lm.eval`, which are trained apart, read whole clips and are never
seen by the tokenizer: a per-frame dilated convolution here, frozen once trained.

:func:`perceptual_loss` then compares the reader's hidden features and class distributions
on the reconstruction with those on the truth, frame by frame.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from tdmm_lm.data import read_split
from tdmm_lm.prompts import CATEGORIES, INTENSITY_LEVELS
from tdmm_lm.tokenizer.data import MotionSplit

#: Raw (..., 61) parameters -> the tokenizer's normalised ones (``MotionTokenizer.normalise``).
Normaliser = Callable[[torch.Tensor], torch.Tensor]

__all__ = [
    "ExpressionReader",
    "ExpressionReaderConfig",
    "FrameLabels",
    "frame_labels",
    "perceptual_loss",
    "reader_accuracy",
    "train_expression_reader",
]

#: The blendshapes come first in ``arkit``; the reader reads only them (the head angles
#: carry head motion, which the angle loss already weighs).
N_BLENDSHAPES = 52
#: Label of a frame with no target (padding, or near a segment boundary).
IGNORE = -1


@dataclass
class ExpressionReaderConfig:
    """The reader's size and its training.

    Attributes:
        width: Channels of every convolution.
        dilations: Dilation of each residual block (receptive field 5 + 2 * sum frames).
        steps: Optimiser steps.
        batch_size: Windows per step.
        lr: Peak learning rate (cosine decay to 0).
        input_noise: Standard deviation of Gaussian noise added to the normalised inputs
            while training, so that the reader's features change smoothly near the data
            (a reconstruction is the truth plus small errors).
        boundary_margin_s: Frames this close to a change of segment carry no label.
    """

    width: int = 128
    dilations: tuple[int, ...] = (1, 2, 4, 1)
    steps: int = 3000
    batch_size: int = 64
    lr: float = 2e-3
    input_noise: float = 0.05
    boundary_margin_s: float = 0.25

    def __post_init__(self) -> None:
        self.dilations = tuple(self.dilations)  # from JSON
        if self.width < 1 or self.steps < 1 or self.batch_size < 1 or not self.dilations:
            raise ValueError("the expression reader needs width, steps, batch_size >= 1")
        if self.lr <= 0 or self.input_noise < 0 or self.boundary_margin_s < 0:
            raise ValueError("need lr > 0, input_noise >= 0 and boundary_margin_s >= 0")


class _Block(nn.Module):
    """A dilated same-width convolution, normalised, through a GELU, added to its input."""

    def __init__(self, width: int, dilation: int) -> None:
        super().__init__()
        self.conv = nn.Conv1d(width, width, 3, padding=dilation, dilation=dilation)
        self.norm = nn.GroupNorm(1, width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + F.gelu(self.norm(self.conv(x)))


class ExpressionReader(nn.Module):
    """(B, T, 61) normalised ``arkit`` frames -> per-frame features and class logits."""

    def __init__(self, config: ExpressionReaderConfig) -> None:
        super().__init__()
        self.config = config
        self.stem = nn.Conv1d(N_BLENDSHAPES, config.width, 5, padding=2)
        self.blocks = nn.Sequential(*(_Block(config.width, d) for d in config.dilations))
        self.emotion = nn.Conv1d(config.width, len(CATEGORIES), 1)
        self.intensity = nn.Conv1d(config.width, len(INTENSITY_LEVELS), 1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Returns ((B, W, T) features, (B, 22, T) emotion and (B, 5, T) intensity logits)."""
        h = self.blocks(F.gelu(self.stem(x[..., :N_BLENDSHAPES].transpose(1, 2))))
        return h, self.emotion(h), self.intensity(h)

    def freeze(self) -> ExpressionReader:
        """Eval mode and no gradients for its own weights (gradients still flow to inputs)."""
        self.eval()
        for p in self.parameters():
            p.requires_grad_(False)
        return self


@dataclass(frozen=True)
class FrameLabels:
    """Per-frame class indices of a split, aligned with its ``MotionSplit.frames``.

    Attributes:
        emotion: (F,) int64 index into ``CATEGORIES``, or ``IGNORE``.
        intensity: (F,) int64 index into ``INTENSITY_LEVELS``, or ``IGNORE``.
    """

    emotion: np.ndarray
    intensity: np.ndarray


def frame_labels(corpus: str | Path, split: str, data: MotionSplit, margin_s: float) -> FrameLabels:
    """Label every frame of ``data`` (read from ``corpus``/``split``) by its segment.

    Args:
        corpus: The corpus folder.
        split: The split ``data`` was read from (the same rows, in the same order).
        data: The split's frames.
        margin_s: Frames within this many seconds of a change of segment get ``IGNORE``.
    """
    table = read_split(Path(corpus), split, columns=["labels"]).slice(0, len(data))
    emotion_index = {name: i for i, name in enumerate(CATEGORIES)}
    intensity_index = {name: i for i, name in enumerate(INTENSITY_LEVELS)}
    emotion = np.full(len(data.frames), IGNORE, np.int64)
    intensity = np.full(len(data.frames), IGNORE, np.int64)
    for i, labels in enumerate(table.column("labels").to_pylist()):
        first, n = int(data.starts[i]), int(data.lengths[i])
        t = np.arange(n) / data.fps
        for segment in labels["segments"]:
            lead = margin_s if segment["start_s"] > 0 else 0.0
            inside = (t >= segment["start_s"] + lead) & (t < segment["end_s"] - margin_s)
            emotion[first : first + n][inside] = emotion_index[segment["emotion_category"]]
            intensity[first : first + n][inside] = intensity_index[segment["intensity"]]
    return FrameLabels(emotion, intensity)


def train_expression_reader(
    data: MotionSplit,
    labels: FrameLabels,
    normalise: Normaliser,
    config: ExpressionReaderConfig,
    window: int,
    seed: int,
) -> ExpressionReader:
    """Train a reader on ``data``'s windows and return it frozen, in eval mode.

    Args:
        data: The train split.
        labels: Its per-frame labels (:func:`frame_labels`).
        normalise: Maps (..., 61) raw parameters to the tokenizer's normalised ones (the
            tokenizer itself), so that the reader reads what the decoder writes.
        config: Size and schedule.
        window: Frames per training window (the tokenizer's).
        seed: Seed of the initialisation, the windows and the noise.
    """
    torch.manual_seed(seed)
    reader = ExpressionReader(config)
    optimizer = torch.optim.AdamW(reader.parameters(), lr=config.lr, weight_decay=0.01)
    rng = np.random.default_rng([seed, 3])
    reader.train()
    for step in range(config.steps):
        for group in optimizer.param_groups:
            group["lr"] = config.lr * 0.5 * (1 + math.cos(math.pi * step / config.steps))
        starts = data.sample_starts(rng, config.batch_size, window)
        raw, mask = data.windows(starts, window)
        valid = torch.from_numpy(mask)[..., None]
        x = normalise(torch.from_numpy(raw)) * valid
        x = x + config.input_noise * torch.randn_like(x)
        emotion = torch.from_numpy(data.cut(labels.emotion, starts, window, IGNORE)[0])
        intensity = torch.from_numpy(data.cut(labels.intensity, starts, window, IGNORE)[0])
        _, emotion_logits, intensity_logits = reader(x)
        loss = F.cross_entropy(emotion_logits, emotion, ignore_index=IGNORE) + F.cross_entropy(
            intensity_logits, intensity, ignore_index=IGNORE
        )
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return reader.freeze()


@torch.no_grad()
def reader_accuracy(
    reader: ExpressionReader, data: MotionSplit, labels: FrameLabels, normalise: Normaliser
) -> dict[str, float]:
    """Per-frame accuracy of a reader on a split's labelled frames, whole sequences at once."""
    hits = {"emotion": 0, "intensity": 0}
    counts = dict.fromkeys(hits, 0)
    for i, raw in enumerate(data.sequences()):
        _, emotion, intensity = reader(normalise(torch.tensor(raw))[None])
        at = slice(data.starts[i], data.starts[i] + data.lengths[i])
        for name, logits in (("emotion", emotion), ("intensity", intensity)):
            target = getattr(labels, name)[at]
            labelled = target != IGNORE
            predicted = logits[0].argmax(0).numpy()
            hits[name] += int((predicted[labelled] == target[labelled]).sum())
            counts[name] += int(labelled.sum())
    return {f"{name}_accuracy": hits[name] / max(counts[name], 1) for name in hits}


def perceptual_loss(
    reader: ExpressionReader, recon: torch.Tensor, x: torch.Tensor, mask: torch.Tensor
) -> torch.Tensor:
    """How differently ``reader`` reads the reconstruction and the truth, per valid frame.

    The squared distance of the hidden features relative to the truth's own feature energy,
    plus the KL divergence of the emotion and of the intensity distributions (truth as
    the target).

    Args:
        reader: A trained, frozen reader.
        recon: (B, T, 61) reconstructed normalised parameters.
        x: (B, T, 61) true normalised parameters (zero at padding).
        mask: (B, T) bool valid frames.
    """
    frames = mask.float()[:, None, :]  # (B, 1, T)
    h_recon, emotion_recon, intensity_recon = reader(recon * frames.transpose(1, 2))
    with torch.no_grad():
        h_true, emotion_true, intensity_true = reader(x)
    energy = (h_true.pow(2).sum(1, keepdim=True) * frames).sum().clamp_min(1e-6)
    feature = ((h_recon - h_true).pow(2).sum(1, keepdim=True) * frames).sum() / energy
    n = frames.sum().clamp_min(1)
    divergence = recon.new_zeros(())
    for mine, truth in ((emotion_recon, emotion_true), (intensity_recon, intensity_true)):
        kl = F.kl_div(
            F.log_softmax(mine, 1), F.log_softmax(truth, 1), log_target=True, reduction="none"
        )
        divergence = divergence + (kl.sum(1, keepdim=True) * frames).sum() / n
    return feature + divergence
