"""The evaluators: a TMR-style text-motion embedding and attribute classifiers on motion.

One artefact, :class:`MotionEvaluator`, holds both. Two small temporal convolution networks
read a clip of ``arkit`` parameters (and their frame-to-frame velocities): the *face*
encoder reads the 52 blendshapes and the 6 eye angles, the *head* encoder the 3 head
angles. From their features

* a projection of both gives the *motion embedding* (unit length), which InfoNCE aligns with
* the *text embedding*: the frozen MiniLM sentence embedding of a caption (mean-pooled,
  :class:`~tdmm_lm.lm.text.SentenceEncoder`) through a trainable projection; and
* three linear heads classify the clip's primary segment: emotion category (22 classes) and
  intensity level (5) from both features, head-motion type (11) from the head features.

The head angles carry part of an expression (pride lifts the chin, embarrassment lowers the
head, affection tilts it) but also the head motion, and the training split lacks some
emotion x head-motion pairs (``test_unseen_combo`` holds them). So that the emotion head
cannot learn the pairs, training swaps the head angles between clips of a batch for half
the clips (:func:`~tdmm_lm.eval.train_evaluators.get_batch`): emotion and intensity stay
the face's, head motion becomes the donor's. (Measured on a 5 h corpus with one shared
encoder and no swap: emotion accuracy 0.72 on ``test`` but 0.45 on ``test_unseen_combo``.)
Sharing one artefact and one training run keeps the cost in minutes on two CPU cores; each
head still reports its own accuracy on ground truth
(:func:`~tdmm_lm.eval.train_evaluators.train_evaluators`).

The embeddings feed FD, R-precision, MM-Dist, Diversity and MultiModality; the heads feed
CorE / CorM / CorI of Language2Motion (SPEC §7).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from tdmm_lm.artifacts import PretrainedMixin
from tdmm_lm.eval.data import ATTRIBUTE_CLASSES, ATTRIBUTES, pad_batch

__all__ = ["EvaluatorConfig", "MotionEncoder", "MotionEvaluator", "MotionReadout"]

#: Clips per forward pass at inference.
INFERENCE_BATCH = 128
#: Smallest channel standard deviation used for normalisation (constant channels).
MIN_STD = 1e-3


class _Residual(nn.Module):
    """A same-width temporal convolution with a GELU, added back to its input."""

    def __init__(self, width: int, kernel: int, dropout: float) -> None:
        super().__init__()
        self.conv = nn.Conv1d(width, width, kernel, padding=kernel // 2)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.drop(F.gelu(self.conv(x)))


class MotionEncoder(nn.Module):
    """Temporal conv net: (B, T, C) normalised parameters -> (B, 4 * width) clip features.

    Two stride-2 stages take 25 fps to 6.25 fps; masked mean and max pooling over time make
    the feature independent of the clip's length.

    Args:
        in_channels: Input channels (parameters and their velocities).
        width: Channels of the first stage (the second has twice as many).
        dropout: Dropout inside the residual blocks.
    """

    #: Frames per output step (the product of the strides).
    stride = 4

    def __init__(self, in_channels: int, width: int, dropout: float) -> None:
        super().__init__()
        self.stem = nn.Conv1d(in_channels, width, 5, stride=2, padding=2)
        self.block1 = _Residual(width, 5, dropout)
        self.down = nn.Conv1d(width, 2 * width, 5, stride=2, padding=2)
        self.block2 = _Residual(2 * width, 3, dropout)
        self.out_dim = 4 * width

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Clip features.

        Args:
            x: (B, T, C) float32 normalised inputs, zero where ``mask`` is False.
            mask: (B, T) bool, True on real frames (each row has at least one).

        Returns:
            (B, 4 * width) float32: masked mean and max of the last stage over time.
        """
        lengths = mask.sum(1)  # (B,)
        # Zero the padded steps after every layer, so a clip reads the same in any batch.
        h = F.gelu(self.stem(x.transpose(1, 2)))  # (B, W, T/2)
        h = self.block1(h * _valid(h, lengths, 2))
        h = F.gelu(self.down(h * _valid(h, lengths, 2)))  # (B, 2W, T/4)
        valid = _valid(h, lengths, self.stride)  # (B, 1, T/4)
        h = self.block2(h * valid) * valid
        mean = h.sum(2) / valid.sum(2).clamp_min(1.0)
        peak = h.masked_fill(valid == 0, float("-inf")).amax(2)
        return torch.cat([mean, peak], dim=1)


def _valid(h: torch.Tensor, lengths: torch.Tensor, stride: int) -> torch.Tensor:
    """(B, 1, T') float mask of the steps of ``h`` (B, C, T') that cover real frames."""
    steps = torch.arange(h.shape[2], device=h.device)
    return ((steps[None] * stride) < lengths[:, None]).to(h.dtype)[:, None]


@dataclass
class EvaluatorConfig:
    """Shape of a :class:`MotionEvaluator`. Defaults are the release size.

    Attributes:
        n_channels: Parameter channels of the motion (61 for ``arkit``).
        head_channels: Indices of the head angles among them (the rest is the face).
        fps: Frame rate the evaluator reads; other rates are resampled.
        width: Width of the face encoder's first stage.
        head_width: Width of the head encoder's first stage.
        embed_dim: Dimension of the joint text-motion embedding.
        text_dim: Dimension of the frozen sentence embedding (MiniLM: 384).
        dropout: Dropout of the motion encoder and the projections.
        temperature: InfoNCE temperature.
        classes: The classes of each attribute head (see
            :data:`~tdmm_lm.eval.data.ATTRIBUTE_CLASSES`).
    """

    n_channels: int = 61
    head_channels: list[int] = field(default_factory=lambda: [52, 53, 54])
    fps: float = 25.0
    width: int = 96
    head_width: int = 32
    embed_dim: int = 256
    text_dim: int = 384
    dropout: float = 0.1
    temperature: float = 0.1
    classes: dict[str, list[str]] = field(
        default_factory=lambda: {a: list(c) for a, c in ATTRIBUTE_CLASSES.items()}
    )

    def __post_init__(self) -> None:
        for name in ("n_channels", "width", "head_width", "embed_dim", "text_dim"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if not self.head_channels or not all(0 <= i < self.n_channels for i in self.head_channels):
            raise ValueError(
                f"head_channels must index the {self.n_channels} channels, got {self.head_channels}"
            )
        if self.fps <= 0:
            raise ValueError(f"fps must be > 0, got {self.fps}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")
        if self.temperature <= 0:
            raise ValueError(f"temperature must be > 0, got {self.temperature}")
        missing = [a for a in ATTRIBUTES if len(self.classes.get(a, ())) < 2]
        if missing:
            raise ValueError(f"classes needs >= 2 classes for each of {missing}")


@dataclass
class MotionReadout:
    """What the evaluator reads from a batch of motions.

    Attributes:
        embeddings: (N, embed_dim) float32 unit-length motion embeddings.
        predictions: attribute -> (N,) predicted class names.
    """

    embeddings: np.ndarray
    predictions: dict[str, list[str]]


def _mlp(dim_in: int, hidden: int, dim_out: int, dropout: float) -> nn.Sequential:
    return nn.Sequential(
        nn.Linear(dim_in, hidden), nn.GELU(), nn.Dropout(dropout), nn.Linear(hidden, dim_out)
    )


class MotionEvaluator(nn.Module, PretrainedMixin):
    """The shipped evaluators: a text-motion embedding and three attribute classifiers.

    Args:
        config: Its shape.
    """

    type_tag: ClassVar[str] = "tdmm_evaluator"
    config_class: ClassVar[type] = EvaluatorConfig

    def __init__(self, config: EvaluatorConfig) -> None:
        super().__init__()
        self.config = config
        c = config
        head = torch.zeros(c.n_channels, dtype=torch.bool)
        head[c.head_channels] = True
        self.register_buffer("head_mask", head, persistent=False)
        n_head = len(c.head_channels)
        self.face_encoder = MotionEncoder(2 * (c.n_channels - n_head), c.width, c.dropout)
        self.head_encoder = MotionEncoder(2 * n_head, c.head_width, c.dropout)
        face_dim, head_dim = self.face_encoder.out_dim, self.head_encoder.out_dim
        both = face_dim + head_dim
        self.motion_proj = _mlp(both, both // 2, c.embed_dim, c.dropout)
        self.text_proj = _mlp(c.text_dim, c.embed_dim, c.embed_dim, c.dropout)
        self.heads = nn.ModuleDict(
            {
                "emotion_category": nn.Linear(both, len(c.classes["emotion_category"])),
                "intensity": nn.Linear(both, len(c.classes["intensity"])),
                "head_motion": nn.Linear(head_dim, len(c.classes["head_motion"])),
            }
        )
        # Normalisation of parameters and velocities, set from the training split.
        self.register_buffer("mean", torch.zeros(c.n_channels), persistent=False)
        self.register_buffer("std", torch.ones(c.n_channels), persistent=False)
        self.register_buffer("vel_std", torch.ones(c.n_channels), persistent=False)
        self._sentence_encoder: Any = None

    # -- normalisation statistics ---------------------------------------------------------

    def set_stats(self, params: list[np.ndarray]) -> None:
        """Set the normalisation from training clips (a list of (T, C) arrays)."""
        frames = np.concatenate(params).astype(np.float64)
        velocity = np.concatenate([np.diff(p, axis=0) for p in params if len(p) > 1])
        self.mean.copy_(torch.from_numpy(frames.mean(0)).float())
        self.std.copy_(torch.from_numpy(np.maximum(frames.std(0), MIN_STD)).float())
        self.vel_std.copy_(torch.from_numpy(np.maximum(velocity.std(0), MIN_STD)).float())

    def artifact_stats(self) -> dict[str, np.ndarray]:
        """The normalisation, saved in ``stats.safetensors``."""
        return {k: getattr(self, k).numpy() for k in ("mean", "std", "vel_std")}

    def load_artifact_stats(self, stats: dict[str, np.ndarray]) -> None:
        """Restore the normalisation."""
        for key in ("mean", "std", "vel_std"):
            getattr(self, key).copy_(torch.from_numpy(np.asarray(stats[key])))

    # -- forward --------------------------------------------------------------------------

    def inputs(self, params: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Normalised parameters and velocities.

        Args:
            params: (B, T, C) float32 raw ``arkit`` parameters.
            mask: (B, T) bool, True on real frames.

        Returns:
            (B, T, 2C) float32, zero on padded frames.
        """
        velocity = torch.zeros_like(params)
        velocity[:, 1:] = params[:, 1:] - params[:, :-1]
        valid = mask[..., None]  # (B, T, 1)
        velocity = velocity * (valid & F.pad(mask, (1, 0))[:, :-1, None])
        x = torch.cat([(params - self.mean) / self.std, velocity / self.vel_std], dim=-1)
        return x * valid

    def forward(
        self, params: torch.Tensor, mask: torch.Tensor, head_from: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Motion embeddings and attribute logits.

        Args:
            params: (B, T, C) float32 raw parameters, right-padded.
            mask: (B, T) bool, True on real frames.
            head_from: (B,) int64, training only: row ``i`` takes its head angles from row
                ``head_from[i]`` (identity: no swap).

        Returns:
            ((B, embed_dim) unit-length embeddings, attribute -> (B, n_classes) logits).
        """
        x = self.inputs(params, mask)  # (B, T, 2C)
        head = torch.cat([self.head_mask, self.head_mask])  # (2C,)
        x_head = x[..., head] if head_from is None else x[head_from][..., head]
        face_feats = self.face_encoder(x[..., ~head], mask)  # (B, F_face)
        head_feats = self.head_encoder(x_head * mask[..., None], mask)  # (B, F_head)
        feats = torch.cat([face_feats, head_feats], 1)
        embedding = F.normalize(self.motion_proj(feats), dim=-1)
        logits = {
            "emotion_category": self.heads["emotion_category"](feats),
            "intensity": self.heads["intensity"](feats),
            "head_motion": self.heads["head_motion"](head_feats),
        }
        return embedding, logits

    def project_text(self, sentences: torch.Tensor) -> torch.Tensor:
        """(B, text_dim) frozen sentence embeddings -> (B, embed_dim) unit-length embeddings."""
        return F.normalize(self.text_proj(sentences), dim=-1)

    # -- inference ------------------------------------------------------------------------

    def _as_arrays(self, motions: list[Any], fps: float | None) -> list[np.ndarray]:
        """(T, C) float32 arrays at the evaluator's rate from sequences or arrays."""
        out = []
        for m in motions:
            rate = getattr(m, "fps", fps)
            if rate is not None and abs(float(rate) - self.config.fps) > 1e-6:
                m = m.resample(self.config.fps) if hasattr(m, "resample") else m
            out.append(np.asarray(getattr(m, "params", m), dtype=np.float32))
        return out

    @torch.no_grad()
    def read(self, motions: list[Any], fps: float | None = None) -> MotionReadout:
        """Embed and classify motions.

        Args:
            motions: ``FaceSequence`` objects (resampled to the evaluator's rate if needed)
                or (T, C) arrays at the evaluator's rate.
            fps: Ignored for sequences; for arrays, their rate if not the evaluator's.

        Returns:
            Embeddings and predicted classes, in input order.
        """
        arrays = self._as_arrays(motions, fps)
        if not arrays:
            empty = {a: [] for a in ATTRIBUTES}
            return MotionReadout(np.zeros((0, self.config.embed_dim), np.float32), empty)
        order = np.argsort([len(a) for a in arrays], kind="stable")  # similar lengths batch
        embeddings = np.zeros((len(arrays), self.config.embed_dim), np.float32)
        labels = {a: np.zeros(len(arrays), np.int64) for a in ATTRIBUTES}
        was_training = self.training
        self.eval()
        for k in range(0, len(order), INFERENCE_BATCH):
            idx = order[k : k + INFERENCE_BATCH]
            x, mask = pad_batch([arrays[i] for i in idx])
            emb, logits = self(torch.from_numpy(x), torch.from_numpy(mask))
            embeddings[idx] = emb.numpy()
            for a in ATTRIBUTES:
                labels[a][idx] = logits[a].argmax(-1).numpy()
        self.train(was_training)
        predictions = {a: [self.config.classes[a][int(i)] for i in labels[a]] for a in ATTRIBUTES}
        return MotionReadout(embeddings, predictions)

    @torch.no_grad()
    def embed_texts(self, texts: list[str]) -> np.ndarray:
        """(N, embed_dim) float32 unit-length embeddings of texts (MiniLM, then projected)."""
        return self.embed_sentences(sentence_vectors(texts))

    @torch.no_grad()
    def embed_sentences(self, vectors: np.ndarray) -> np.ndarray:
        """Project precomputed (N, text_dim) MiniLM sentence vectors into the joint space."""
        was_training = self.training
        self.eval()
        out = self.project_text(torch.as_tensor(vectors, dtype=torch.float32)).numpy()
        self.train(was_training)
        return out


#: Texts per MiniLM forward pass (sorted by length, so padding stays small).
TEXT_BATCH = 128


def sentence_vectors(texts: list[str]) -> np.ndarray:
    """(N, 384) float32 unit-length MiniLM sentence embeddings (mean-pooled token states).

    Distinct texts are encoded once, in length order so that padding stays small.
    """
    from tdmm_lm.lm.text import MINILM_DIM, pool_sentences

    distinct, index = _distinct(texts)
    out = np.zeros((len(distinct), MINILM_DIM), np.float32)
    for idx, states, mask in _minilm_batches(distinct):
        out[idx] = pool_sentences(states, mask).numpy()
    return out[index]


def token_states(texts: list[str]) -> tuple[list[np.ndarray], np.ndarray]:
    """MiniLM token states of the distinct texts among ``texts``.

    Returns:
        (states: one (P_i, 384) float32 array per distinct text, [CLS] and [SEP] included,
        padding cut off; index: (N,) int64 position of each input text among them).
    """
    distinct, index = _distinct(texts)
    states: list[np.ndarray] = [np.zeros((0, 0), np.float32)] * len(distinct)
    for idx, out, mask in _minilm_batches(distinct):
        for row, i in enumerate(idx):
            states[i] = out[row, : int(mask[row].sum())].numpy()
    return states, index


def _distinct(texts: list[str]) -> tuple[list[str], np.ndarray]:
    """(distinct texts in first-seen order, (N,) int64 index of each text among them)."""
    distinct = list(dict.fromkeys(texts))
    position = {t: i for i, t in enumerate(distinct)}
    return distinct, np.array([position[t] for t in texts], dtype=np.int64)


@torch.no_grad()
def _minilm_batches(texts: list[str]) -> Iterator[tuple[list[int], torch.Tensor, torch.Tensor]]:
    """Yield (indices, (B, P, 384) states, (B, P) mask) over ``texts`` in length order."""
    from tdmm_lm.lm.text import load_minilm

    encoder = load_minilm()
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    for k in range(0, len(order), TEXT_BATCH):
        idx = order[k : k + TEXT_BATCH]
        states, mask = encoder.encode([texts[i] for i in idx])
        yield idx, states, mask
