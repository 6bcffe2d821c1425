"""Configuration of the motion tokenizer (its architecture and its training), and recipes.

:class:`TokenizerConfig` is the model: sizes, rate, codebook and loss weights. It is saved
with every tokenizer artefact. :class:`TokenizerTrainConfig` is a training run around it.

A recipe is a named set of values for :class:`TokenizerTrainConfig` (model sizes, steps,
batch, learning rate). :meth:`TokenizerTrainConfig.from_recipe` resolves a recipe with
command-line overrides into one config; that resolved config is what a run writes to
``train_config.json`` before it starts.

Recipes:

* ``tiny``: a few seconds on a CPU, for tests.
* ``default``: one codebook; trains in about a quarter of an hour on a 2-core CPU on a
  20-hour corpus. ``release`` is the same recipe (the tokenizer of releases 1-4).
* ``residual``: ``release`` plus a second codebook of 1024 codes over what the first leaves,
  so a frame's token is a pair (:mod:`~tdmm_lm.tokenizer.residual`). The release pipeline
  trains this one (``ReleaseConfig.tokenizer_recipe``): its round trip keeps the emotion of
  84 % of test clips against 55 %, and the language model on its pairs generates the
  prompt's emotion for 76 % of test prompts against 54 %.
* ``perceptual``: ``residual`` whose loss also compares how a per-frame expression reader,
  trained first in the same run, reads the reconstruction and the truth
  (:mod:`~tdmm_lm.tokenizer.expression`). On the release corpus its round trip keeps the
  emotion of 95 % of test clips against 83 % for ``residual``, intensity 59 % against 50 %,
  and head motion 94 % against 99 %; the vertex error is 0.41 mm against 0.37 mm. The
  release does not use it (yet): on tracked real video its codes pull an expression the
  corpus does not hold towards the nearest one it does (a real grin came back as disgust),
  see the README.
* ``residual3``: ``residual`` with a third codebook over what the first two leave. Its round
  trip keeps the emotion of 92 % of test clips against 83 % (README, "What the tokenizer
  leaves"); the language model reads pairs only and refuses it.

What the release choices rest on (20-hour corpus, test split; ``tdmm tokenizer eval``):

* **One token per frame** (the default rate). Two frames per token halved the tokens but
  held the stream still for only 88 % of tokens against 94 %, and kept fewer expression
  peaks (55 % against 70 %); the language model's next-token accuracy follows the former.
* **1024 codes, switch cost 2.** 2048 codes kept a few more peaks (74 %) but used barely 80 %
  of its codes and held still for 92.6 % of tokens. Without the switch cost (the plain
  nearest code) only 67-79 % of tokens repeat the one before, and a language model
  predicting them could do no better than that.
* **Pairs encoded as fitted** (no ``encode_switch_cost``, ``residual_hold_factor`` 1). A
  language model mostly copies the frame before (it names under 1 % of the codes that change),
  so its token accuracy is about the share of frames whose *pair* repeats: 85 % here, because
  the residual code alone changes on 13 % of frames. Encoding stickier (a switch cost of 3
  and 6 times that for a residual change alone) makes 95 % of pairs repeat and lifted the
  language model's ``Tok`` from 0.83 to 0.93, but it keeps 64 % of expression peaks against
  90 % and 20 % of blink frames against 70 %, and everything the evaluators measure fell:
  Language2Motion R@1 0.77 -> 0.62, CorE 0.76 -> 0.67, CorM 0.72 -> 0.64, FD 0.076 -> 0.140
  (release 5 against the same recipe encoded sticky, 2400 steps, on test). The stream's
  detail is worth more than its predictability.
* **Posed geometry and squared blendshape errors** in the loss: see
  :class:`~tdmm_lm.tokenizer.model.TokenizerConfig`.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

from tdmm_lm.errors import InvalidInputError
from tdmm_lm.tokenizer.expression import ExpressionReaderConfig

__all__ = ["RATES", "RECIPES", "TokenizerConfig", "TokenizerTrainConfig"]

#: Frames per token allowed (each halving is one strided convolution).
RATES = (1, 2, 4)


@dataclass
class TokenizerConfig:
    """Architecture and loss weights of the motion tokenizer.

    The defaults are a small model that trains in seconds on a CPU (the ``tiny`` recipe);
    the recipes in :mod:`tdmm_lm.tokenizer.config` set the release sizes.

    Attributes:
        codebook_size: K, the number of motion tokens.
        residual_codebook_size: K2, codes of a second codebook that quantizes what the
            first leaves (0 = one codebook). A frame's token is then a pair of codes (see
            :mod:`~tdmm_lm.tokenizer.residual`, which says why and what it measured).
        code_dim: D, the dimension of a code.
        frames_per_token: Temporal rate r: 1 (one token a frame), 2 or 4.
        width: Convolution width of the encoder and decoder.
        depth: Residual blocks in the encoder and in the decoder.
        kernel: Temporal kernel size (odd).
        dilation_growth: Dilation factor between successive residual blocks.
        ema_decay: EMA decay of the codebook.
        dead_after: Training steps without use after which a code is reset.
        switch_cost: Cost of a change of token, in units of the mean distance to the nearest
            code; above 0 a sequence is quantized as a whole so that tokens change only when
            the motion has moved enough (see :func:`~tdmm_lm.tokenizer.quantizer.sticky_assign`).
            Training fits the codebook with it.
        encode_switch_cost: The switch cost when encoding (None: ``switch_cost``); higher
            gives a stream that holds still longer from the same codes.
        residual_levels: Codebooks of ``residual_codebook_size`` codes stacked after the
            first, each quantizing what the levels before it leave (1: a pair per frame).
            The language model reads at most two codes per frame; a third level serves to
            measure what finer quantization would keep (``scripts/tokenizer_ceiling.py``).
        residual_hold_factor: When encoding, multiplier of the residual codebook's switch
            cost at frames where the first code holds (see
            :class:`~tdmm_lm.tokenizer.residual.ResidualQuantizer`); 1 lets the two levels
            switch independently.
        fps: Frame rate of the training corpus (tokens are only meaningful at it).
        vertex_weight: L1 on the vertices, per mm.
        angle_weight: L1 on the head and eye angles, per degree (geometry alone barely
            sees the eyes: their rotation moves 10 of 478 vertices).
        param_weight: L1 on the blendshape weights plus a penalty outside [0, 1].
        z_l1_weight: L1 on the blendshape weights in units of each one's train-split standard
            deviation, so that a rarely moving shape (a sneer) counts as much as a busy one.
        z_mse_weight: Squared error in those units. Averaged over frames, a brief event such
            as a blink barely moves an L1 loss and the codebook learns to drop it (measured:
            half of all blinks and nearly all brow-lowering lost); squaring makes a lost peak
            cost what it is worth (peaks kept rose from 35 % to 70 %).
        velocity_weight: L1 on the vertex velocities, per mm per frame.
        commit_weight: Commitment loss, pulling encoder outputs onto their codes.
    """

    codebook_size: int = 64
    residual_codebook_size: int = 0
    residual_levels: int = 1
    code_dim: int = 16
    frames_per_token: int = 1
    width: int = 32
    depth: int = 2
    kernel: int = 3
    dilation_growth: int = 2
    ema_decay: float = 0.99
    dead_after: int = 20
    switch_cost: float = 2.0
    encode_switch_cost: float | None = None
    residual_hold_factor: float = 1.0
    fps: float = 25.0
    vertex_weight: float = 1.0
    angle_weight: float = 0.2
    param_weight: float = 2.0
    z_l1_weight: float = 1.0
    z_mse_weight: float = 3.0
    velocity_weight: float = 0.5
    commit_weight: float = 0.25

    def __post_init__(self) -> None:
        if self.frames_per_token not in RATES:
            raise ValueError(
                f"frames_per_token must be one of {RATES}, got {self.frames_per_token}"
            )
        for name in ("codebook_size", "code_dim", "width", "dead_after"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        if self.codebook_size < 2:
            raise ValueError(f"codebook_size must be at least 2, got {self.codebook_size}")
        if self.residual_codebook_size < 0 or self.residual_codebook_size == 1:
            raise ValueError(
                f"residual_codebook_size must be 0 (off) or at least 2, got "
                f"{self.residual_codebook_size}"
            )
        if self.residual_levels < 1:
            raise ValueError(f"residual_levels must be >= 1, got {self.residual_levels}")
        if self.residual_hold_factor < 0:
            raise ValueError(f"residual_hold_factor must be >= 0, got {self.residual_hold_factor}")
        if self.depth < 0 or self.kernel < 1 or self.kernel % 2 == 0:
            raise ValueError(f"need depth >= 0 and an odd kernel, got {self.depth}, {self.kernel}")
        if self.dilation_growth < 1:
            raise ValueError(f"dilation_growth must be >= 1, got {self.dilation_growth}")
        if not 0.0 < self.ema_decay < 1.0:
            raise ValueError(f"ema_decay must be in (0, 1), got {self.ema_decay}")
        if self.fps <= 0:
            raise ValueError(f"fps must be positive, got {self.fps}")
        if self.switch_cost < 0 or (self.encode_switch_cost or 0.0) < 0:
            raise ValueError(
                f"switch costs must be >= 0, got {self.switch_cost}, {self.encode_switch_cost}"
            )
        weights = [f.name for f in dataclasses.fields(self) if f.name.endswith("_weight")]
        for name in weights:
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")

    @property
    def codebooks(self) -> int:
        """Codebooks per token: 1, or 1 + ``residual_levels`` with a residual codebook."""
        return 1 + self.residual_levels if self.residual_codebook_size else 1

    @property
    def levels(self) -> int:
        """Number of 2x temporal down/upsampling stages, log2(frames_per_token)."""
        return int(math.log2(self.frames_per_token))


_DEFAULT = {
    "model": TokenizerConfig(
        codebook_size=1024,
        code_dim=32,
        frames_per_token=1,
        width=128,
        depth=3,
        dead_after=100,
    ),
    "steps": 4500,
    "batch_size": 32,
    "window": 48,
    "lr": 2e-3,
    "warmup_steps": 100,
    "ae_warmup_steps": 300,
    "log_interval": 50,
    "eval_interval": 500,
    "checkpoint_interval": 250,
}

#: Recipe name -> :class:`TokenizerTrainConfig` field values (the rest keep their defaults).
#: ``residual`` is the release tokenizer with a second codebook of 1024 codes over what the
#: first leaves (see :mod:`~tdmm_lm.tokenizer.residual`); ``perceptual`` trains it with the
#: perceptual loss of :mod:`~tdmm_lm.tokenizer.expression` as well; ``residual3`` adds a
#: third codebook, which the language model cannot read (it measures what finer
#: quantization keeps).
RECIPES: dict[str, dict[str, Any]] = {
    "tiny": {},
    "default": _DEFAULT,
    "release": _DEFAULT,
    "residual": {
        **_DEFAULT,
        "model": dataclasses.replace(_DEFAULT["model"], residual_codebook_size=1024),
    },
    "perceptual": {
        **_DEFAULT,
        "model": dataclasses.replace(_DEFAULT["model"], residual_codebook_size=1024),
        "perceptual_weight": 1.0,
    },
    "residual3": {
        **_DEFAULT,
        "model": dataclasses.replace(
            _DEFAULT["model"], residual_codebook_size=1024, residual_levels=2
        ),
    },
}


@dataclass
class TokenizerTrainConfig:
    """Everything a tokenizer training run depends on.

    The defaults are the ``tiny`` recipe: a run of seconds on a CPU.

    Attributes:
        corpus: The corpus folder (reads its ``train``, ``val`` and ``test`` splits).
        output: The run / artefact folder.
        recipe: Name of the recipe these values came from (recorded, not re-applied).
        model: The tokenizer architecture and loss weights.
        steps: Optimiser steps.
        batch_size: Windows per step.
        window: Frames per window (a multiple of ``model.frames_per_token``).
        lr: Peak learning rate of AdamW.
        min_lr_ratio: The cosine schedule ends at ``lr * min_lr_ratio``.
        warmup_steps: Linear learning-rate warm-up.
        ae_warmup_steps: Steps trained as a plain autoencoder (no codebook) before the
            codebook is initialised by k-means++ on encoder outputs; 0 initialises it from
            the untrained encoder at step 0.
        kmeans_batches: Batches of encoder outputs gathered for that initialisation.
        weight_decay: AdamW weight decay.
        grad_clip: Gradient-norm clip.
        seed: Seed of everything random (windows, initialisation, code resets).
        log_interval: Steps between training-log lines.
        eval_interval: Steps between validations.
        eval_sequences: Validation sequences used by each periodic validation.
        checkpoint_interval: Steps between checkpoints (the most a kill can lose).
        perceptual_weight: Weight of the perceptual loss (0: none): how differently a
            per-frame expression reader, trained first in the same run, reads the
            reconstruction and the truth (see :mod:`~tdmm_lm.tokenizer.expression`).
        reader: The expression reader's size and training (used when
            ``perceptual_weight`` > 0).
    """

    corpus: str = ""
    output: str = ""
    recipe: str = "tiny"
    model: TokenizerConfig = field(default_factory=TokenizerConfig)
    steps: int = 60
    batch_size: int = 16
    window: int = 32
    lr: float = 3e-3
    min_lr_ratio: float = 0.1
    warmup_steps: int = 5
    ae_warmup_steps: int = 10
    kmeans_batches: int = 8
    weight_decay: float = 0.01
    grad_clip: float = 1.0
    seed: int = 0
    log_interval: int = 10
    eval_interval: int = 30
    eval_sequences: int = 128
    checkpoint_interval: int = 20
    perceptual_weight: float = 0.0
    reader: ExpressionReaderConfig = field(default_factory=ExpressionReaderConfig)

    def __post_init__(self) -> None:
        if isinstance(self.model, dict):  # from JSON
            self.model = TokenizerConfig(**self.model)
        if isinstance(self.reader, dict):
            self.reader = ExpressionReaderConfig(**self.reader)
        if self.perceptual_weight < 0:
            raise InvalidInputError(f"perceptual_weight must be >= 0, got {self.perceptual_weight}")
        positive = (
            "steps",
            "batch_size",
            "window",
            "kmeans_batches",
            "log_interval",
            "eval_interval",
            "eval_sequences",
            "checkpoint_interval",
        )
        for name in positive:
            if getattr(self, name) < 1:
                raise InvalidInputError(f"{name} must be positive, got {getattr(self, name)}")
        for name in ("warmup_steps", "ae_warmup_steps"):
            if getattr(self, name) < 0:
                raise InvalidInputError(f"{name} must be >= 0, got {getattr(self, name)}")
        if self.window % self.model.frames_per_token:
            raise InvalidInputError(
                f"window ({self.window}) must be a multiple of frames_per_token "
                f"({self.model.frames_per_token})"
            )
        if self.lr <= 0 or not 0 <= self.min_lr_ratio <= 1:
            raise InvalidInputError(
                f"need lr > 0 and min_lr_ratio in [0, 1], got {self.lr}, {self.min_lr_ratio}"
            )
        if self.grad_clip <= 0 or self.weight_decay < 0:
            raise InvalidInputError(
                f"need grad_clip > 0 and weight_decay >= 0, got {self.grad_clip}, "
                f"{self.weight_decay}"
            )

    @classmethod
    def from_recipe(cls, name: str, **overrides: Any) -> TokenizerTrainConfig:
        """Resolve a named recipe with overrides.

        Args:
            name: A key of :data:`RECIPES`.
            **overrides: Field values that replace the recipe's (``None`` values are
                ignored, so optional command-line options can be passed as they are).

        Raises:
            InvalidInputError: For an unknown recipe (listing the valid ones) or field.
        """
        if name not in RECIPES:
            raise InvalidInputError(f"unknown recipe {name!r}; valid: {', '.join(RECIPES)}")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(overrides) - known)
        if unknown:
            raise InvalidInputError(f"unknown tokenizer training option(s): {', '.join(unknown)}")
        values = {**RECIPES[name], "recipe": name}
        values.update({k: v for k, v in overrides.items() if v is not None})
        for name in ("model", "reader"):
            if dataclasses.is_dataclass(values.get(name)):
                values[name] = dataclasses.replace(values[name])  # never share a recipe's
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        """The config as a JSON-able dict (the model config nested under ``model``)."""
        return dataclasses.asdict(self)

    def same_run(self, other: TokenizerTrainConfig) -> list[str]:
        """Names of the fields that differ from ``other`` (empty: the same run)."""
        mine, theirs = self.to_dict(), other.to_dict()
        return sorted(k for k in mine if mine[k] != theirs[k])
