"""Training configuration of the evaluators and its named recipes.

A recipe is a named :class:`EvaluatorTrainConfig`; ``tdmm eval train-evaluators --recipe NAME``
starts from it and applies the command-line overrides (:meth:`EvaluatorTrainConfig.from_recipe`).
:func:`~tdmm_lm.eval.train_evaluators.train_evaluators` writes the resolved config to
``train_config.json`` before training starts.

* ``tiny``: a narrow encoder and a few dozen steps, for tests (seconds).
* ``release``: the shipped evaluators (about 5 minutes for a 20 h corpus on two CPU cores).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from tdmm_lm.eval.evaluators import EvaluatorConfig

__all__ = ["EVALUATOR_RECIPES", "EvaluatorTrainConfig"]


@dataclass
class EvaluatorTrainConfig:
    """Everything an evaluator training run depends on. Defaults train the release size.

    Attributes:
        corpus: The corpus folder.
        output: The evaluator folder to write.
        recipe: Name of the recipe this config came from.
        seed: Seed of initialisation, text choice and batch order.
        steps: Optimisation steps.
        batch_size: Clips per step (and InfoNCE negatives + 1).
        lr: Peak learning rate (AdamW), reached after ``warmup_steps``, then cosine to 10%.
        warmup_steps: Linear warm-up steps.
        weight_decay: AdamW weight decay.
        texts_per_clip: Texts of each clip (of its prompt and captions, drawn at random)
            embedded for training. MiniLM reads about 130 texts/s on one busy core, so a
            20 h corpus (11k training clips) costs about 85 s per text per clip.
        duplicate_threshold: In-batch negatives whose text has a MiniLM cosine above this
            with the positive's text are dropped from the InfoNCE softmax.
        contrastive_weight: Weight of the InfoNCE loss against the classification losses.
        stretch: Largest relative time-stretch of a training clip (augmentation; 0: off).
            Speeds of expressions and head motions already vary this much in the corpus.
        head_swap: Share of training clips whose head angles come from another clip of the
            batch (the emotion label stays, the head-motion label follows the angles; see
            :mod:`~tdmm_lm.eval.evaluators`); they are left out of InfoNCE.
        max_train_clips: Use at most this many training clips (None: all).
        threads: Torch CPU threads. One by default: on a 2-core machine shared with other
            jobs a second thread waits for a busy core at every op (measured: a training step
            12x slower); on an idle machine two would gain about 1.5x.
        log_every: Steps between log lines.
        model: The evaluator's shape.
    """

    corpus: str = ""
    output: str = ""
    recipe: str = "release"
    seed: int = 0
    steps: int = 1500
    batch_size: int = 64
    lr: float = 2e-3
    warmup_steps: int = 50
    weight_decay: float = 0.01
    texts_per_clip: int = 1
    duplicate_threshold: float = 0.9
    contrastive_weight: float = 1.0
    stretch: float = 0.15
    head_swap: float = 0.5
    max_train_clips: int | None = None
    threads: int = 1
    log_every: int = 100
    model: EvaluatorConfig = field(default_factory=EvaluatorConfig)

    def __post_init__(self) -> None:
        if isinstance(self.model, dict):
            self.model = EvaluatorConfig(**self.model)
        for name in ("steps", "batch_size", "texts_per_clip", "threads", "log_every"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.batch_size < 2:
            raise ValueError(
                f"batch_size must be >= 2 (InfoNCE needs negatives), got {self.batch_size}"
            )
        if self.lr <= 0 or self.warmup_steps < 0 or self.weight_decay < 0:
            raise ValueError(
                f"need lr > 0, warmup_steps >= 0, weight_decay >= 0, got {self.lr}, "
                f"{self.warmup_steps}, {self.weight_decay}"
            )
        if not 0.0 <= self.head_swap < 1.0:
            raise ValueError(f"head_swap must be in [0, 1), got {self.head_swap}")
        if not 0.0 <= self.stretch < 0.5:
            raise ValueError(f"stretch must be in [0, 0.5), got {self.stretch}")
        if not 0.0 < self.duplicate_threshold <= 1.0:
            raise ValueError(
                f"duplicate_threshold must be in (0, 1], got {self.duplicate_threshold}"
            )
        if self.max_train_clips is not None and self.max_train_clips < self.batch_size:
            raise ValueError(
                f"max_train_clips ({self.max_train_clips}) must be >= batch_size "
                f"({self.batch_size})"
            )

    def to_dict(self) -> dict[str, Any]:
        """JSON-able dict."""
        return dataclasses.asdict(self)

    @classmethod
    def from_recipe(cls, name: str, **overrides: Any) -> EvaluatorTrainConfig:
        """A named recipe with some fields replaced (None values are ignored).

        Raises:
            ValueError: For an unknown recipe, naming the valid ones.
        """
        if name not in EVALUATOR_RECIPES:
            raise ValueError(
                f"unknown evaluator recipe {name!r}; valid: {', '.join(EVALUATOR_RECIPES)}"
            )
        changes = {k: v for k, v in overrides.items() if v is not None}
        return dataclasses.replace(EVALUATOR_RECIPES[name], recipe=name, **changes)


EVALUATOR_RECIPES: dict[str, EvaluatorTrainConfig] = {
    # Seconds, for tests: a narrow encoder and a few dozen steps.
    "tiny": EvaluatorTrainConfig(
        recipe="tiny", steps=30, batch_size=16, lr=3e-3, warmup_steps=5, texts_per_clip=1,
        threads=1, log_every=10, model=EvaluatorConfig(width=16, embed_dim=32),
    ),
    # The shipped evaluators: about 5 minutes for a 20 h corpus on two CPU cores.
    "release": EvaluatorTrainConfig(recipe="release"),
}  # fmt: skip
