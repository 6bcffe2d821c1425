"""Training configuration of the language model and its named recipes.

A recipe is a named :class:`TrainConfig`; ``tdmm train --recipe NAME`` starts from it and
applies the command-line overrides. The resolved config is written to
``MODELDIR/train_config.json`` before training starts.

* ``tiny``: a few dozen steps of a 2-layer model, for tests (seconds).
* ``small``: a quick look at a real corpus (minutes).
* ``release``: the shipped model: 4 layers, width 256, rotary positions, frame inputs for
  Motion2Language, 2400 steps of 24 examples (about 10 M tokens), in bf16 autocast where the
  CPU multiplies bf16 natively. In one run of the whole release recipe on a 2-core machine
  with AVX512-BF16 a step took 1.87 s beside the baseline and 1.69 s alone; in float32 the
  same steps took 2.36 s beside it and 2.0 s alone. 2400 steps, not the 2800 of release 6,
  keep the whole recipe within 90 minutes on that machine (2800 took 101 min). On a host
  without bf16 (AVX2 only) a float32 step took about 3.4 s beside other jobs, and the recipe
  does not fit in 90 minutes there.

The release recipe trains on one thread: on a 2-core machine shared with other jobs, a second
torch thread waits for a busy core at every op and made steps 3x slower (measured); on an
idle machine it would gain about 1.5x. ``--threads`` is not exposed because the thread count
changes floating-point reduction order, and with it bitwise reproducibility.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from tdmm_lm.lm.summary import SummarySource

__all__ = ["PRECISIONS", "RECIPES", "TextEncoder", "TrainConfig", "get_recipe", "resolve_precision"]

#: Values of ``TrainConfig.precision``.
PRECISIONS = ("fp32", "bf16", "auto")
#: /proc/cpuinfo flags of x86 CPUs that multiply bfloat16 natively (AVX512-BF16, AMX).
_NATIVE_BF16_CPU_FLAGS = frozenset({"avx512_bf16", "amx_bf16"})


class TextEncoder(str, Enum):
    """How Language2Motion reads its prompt."""

    MINILM = "minilm"  # frozen MiniLM token states, projected into <txt> slots
    MINILM_SENTENCE = "minilm_sentence"  # one pooled MiniLM sentence embedding (T2M-GPT style)
    NONE = "none"  # BPE subwords of the model's own vocabulary


#: Fields that must not change when a run is resumed (they change the model or the data).
FROZEN_ON_RESUME = (
    "corpus", "tokenizer", "seed", "n_layer", "n_head", "d_model", "block_size",
    "text_encoder", "bpe_size", "base_model", "lora_rank", "batch_size", "l2m_fraction",
    "prompt_dropout", "motion_noise", "pool_batches", "max_train_clips", "motion_features",
    "motion_summary", "summary_source", "aux_weight", "aux_layer", "prefix_lm", "rope",
    "frame_inputs", "frame_velocity", "init_from", "train_only",
)  # fmt: skip


@dataclass
class TrainConfig:
    """Everything a language-model training run depends on. Defaults run a tiny model.

    Attributes:
        corpus: The corpus folder.
        tokenizer: The motion tokenizer folder.
        output: The model (run) folder.
        recipe: Name of the recipe this config came from.
        seed: Seed of initialisation and batch order.
        n_layer: Transformer blocks.
        n_head: Attention heads.
        d_model: Model width.
        dropout: Dropout rate.
        block_size: Longest sequence, tokens.
        text_encoder: How the prompt is read (see :class:`TextEncoder`).
        motion_features: Give motion tokens their tokenizer code vectors as fixed features
            (see :class:`~tdmm_lm.lm.model.TdmmGPT`).
        motion_summary: Give Motion2Language's ``<sep>`` statistics of the clip's
            parameters (:mod:`tdmm_lm.lm.summary`).
        summary_source: Which parameters: ``params``, those given (the default), or
            ``tokens``, what the clip's tokens decode to (models before release 4).
        bpe_size: Text subwords of the BPE.
        base_model: A local Hugging Face checkpoint to start from instead (None = own GPT).
        lora_rank: LoRA rank for ``base_model`` (0 = train all weights).
        steps: Optimisation steps.
        batch_size: Examples per step and process.
        lr: Peak learning rate.
        min_lr: Final learning rate of the cosine decay.
        warmup_steps: Linear warm-up steps.
        weight_decay: AdamW weight decay (matrices only).
        betas: AdamW betas.
        grad_clip: Gradient-norm clip (0 = none).
        l2m_fraction: Share of Language2Motion examples (the rest is Motion2Language).
        prompt_dropout: Share of Language2Motion examples trained without their prompt, for
            classifier-free guidance at generation (0 = no guidance).
        guidance: Default classifier-free guidance scale of ``animate`` (needs
            ``prompt_dropout > 0``; 1 = off).
        change_temperature: Default temperature of ``animate``'s choice among the tokens
            that change the motion, relative to its temperature (1 = plain sampling; see
            :func:`~tdmm_lm.lm.generate.sample_change`). A decoding default stored with the
            model; training does not read it.
        motion_noise: Largest share of input motion tokens replaced by random ones in
            training (targets stay clean); 0 = off. Off in the release: at 0.3 the release
            recipe learned at half the speed or less (measured at step 900: caption loss and
            accuracy those of about step 450 without noise, the motion loss worse than at
            step 300), too slow for its budget.
        m2l_weight: Loss weight of a caption token relative to a motion token.
        change_weight: Weight of an extra loss on the motion tokens that differ from the one
            before: the cross-entropy of the code among all codes but a repeat (see
            :func:`~tdmm_lm.lm.objective.weighted_loss`); 0 = off.
        aux_weight: Weight of the auxiliary loss: every motion token's segment labels
            (emotion, intensity, head motion) predicted from its hidden state
            (:mod:`tdmm_lm.lm.frame_labels`); 0 = no auxiliary heads. The built-in model's
            only: a ``base_model`` is trained on its own outputs, as it ignores the summary.
        aux_layer: Blocks after which the auxiliary heads read the stream.
        prefix_lm: Read each example's source both ways (a prefix LM; see
            ``GPTConfig.prefix_lm``). The built-in model's only.
        rope: Rotary position embeddings instead of learned absolute ones (see
            ``GPTConfig.rope``). The built-in model's only.
        frame_inputs: Motion2Language reads each motion token's parameters beside it (see
            :mod:`tdmm_lm.lm.described`). The built-in model's only.
        frame_velocity: With ``frame_inputs``, each frame's change from the one before is
            read too (``GPTConfig.frame_velocity``).
        pool_batches: Batches drawn at once and grouped by length.
        eval_every: Steps between validations (and at the end).
        eval_clips: Validation clips per validation (each in both directions).
        checkpoint_every: Steps between checkpoints (the most a kill can lose).
        log_every: Steps between log lines.
        threads: CPU threads, shared among the processes of the machine.
        precision: Arithmetic of the forward and backward passes: ``fp32``, ``bf16``
            (autocast; the weights and the optimizer stay float32) or ``auto``, which is
            ``bf16`` where the hardware computes it natively (see :func:`resolve_precision`)
            and ``fp32`` elsewhere.
        max_train_clips: Use only this many training clips (None = all), for experiments.
        init_from: A trained model folder of the built-in model to start from: its
            vocabulary and weights replace the fresh ones; weights it lacks (a part this
            config adds, e.g. ``frame_velocity``) keep their initialisation. None = from
            scratch.
        train_only: Train only the weights whose names start with one of these prefixes
            (empty = all). With ``init_from``, a new part can be fitted to a frozen model,
            whose other behaviour then stays exactly as it was.
    """

    corpus: str = ""
    tokenizer: str = ""
    output: str = ""
    recipe: str = "tiny"
    seed: int = 0
    n_layer: int = 2
    n_head: int = 2
    d_model: int = 64
    dropout: float = 0.0
    block_size: int = 384
    text_encoder: TextEncoder = TextEncoder.MINILM
    motion_features: bool = True
    motion_summary: bool = True
    summary_source: SummarySource = SummarySource.PARAMS
    bpe_size: int = 400
    base_model: str | None = None
    lora_rank: int = 0
    steps: int = 40
    batch_size: int = 8
    lr: float = 2e-3
    min_lr: float = 2e-4
    warmup_steps: int = 5
    weight_decay: float = 0.1
    betas: tuple[float, float] = (0.9, 0.95)
    grad_clip: float = 1.0
    l2m_fraction: float = 0.5
    prompt_dropout: float = 0.1
    guidance: float = 2.0
    change_temperature: float = 1.0
    motion_noise: float = 0.0
    m2l_weight: float = 1.0
    change_weight: float = 0.0
    aux_weight: float = 0.0
    aux_layer: int = 1
    prefix_lm: bool = True
    rope: bool = False
    frame_inputs: bool = False
    frame_velocity: bool = False
    pool_batches: int = 16
    eval_every: int = 20
    eval_clips: int = 16
    checkpoint_every: int = 20
    log_every: int = 5
    threads: int = 2
    precision: str = "fp32"
    max_train_clips: int | None = None
    init_from: str | None = None
    train_only: tuple[str, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)  # free-form notes kept in the log

    def __post_init__(self) -> None:
        self.text_encoder = TextEncoder(self.text_encoder)
        self.summary_source = SummarySource(self.summary_source)
        self.betas = tuple(self.betas)  # type: ignore[assignment]
        self.train_only = tuple(self.train_only)
        positive = ("n_layer", "n_head", "d_model", "block_size", "steps", "batch_size",
                    "pool_batches", "eval_every", "eval_clips", "checkpoint_every", "log_every",
                    "threads")  # fmt: skip
        for name in positive:
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.d_model % self.n_head:
            raise ValueError(f"n_head ({self.n_head}) must divide d_model ({self.d_model})")
        if not 0 < self.min_lr <= self.lr:
            raise ValueError(f"need 0 < min_lr <= lr, got min_lr={self.min_lr}, lr={self.lr}")
        if not 0.0 <= self.l2m_fraction <= 1.0:
            raise ValueError(f"l2m_fraction must be in [0, 1], got {self.l2m_fraction}")
        if self.m2l_weight <= 0 or self.change_weight < 0:
            raise ValueError(
                f"need m2l_weight > 0 and change_weight >= 0, got {self.m2l_weight}, "
                f"{self.change_weight}"
            )
        if self.aux_weight < 0 or not 1 <= self.aux_layer <= self.n_layer:
            raise ValueError(
                f"need aux_weight >= 0 and 1 <= aux_layer <= n_layer, got {self.aux_weight}, "
                f"{self.aux_layer}"
            )
        if not 0.0 <= self.motion_noise < 1.0:
            raise ValueError(f"motion_noise must be in [0, 1), got {self.motion_noise}")
        if not 0.0 <= self.prompt_dropout < 1.0 or self.guidance < 1.0:
            raise ValueError(
                f"need prompt_dropout in [0, 1) and guidance >= 1, got {self.prompt_dropout}, "
                f"{self.guidance}"
            )
        if not self.change_temperature > 0.0:
            raise ValueError(f"change_temperature must be > 0, got {self.change_temperature}")
        if self.warmup_steps < 0 or self.lora_rank < 0:
            raise ValueError(
                f"warmup_steps and lora_rank must be >= 0, got {self.warmup_steps}, "
                f"{self.lora_rank}"
            )
        if self.precision not in PRECISIONS:
            raise ValueError(
                f"unknown precision {self.precision!r}; valid: {', '.join(PRECISIONS)}"
            )
        if self.lora_rank and not self.base_model:
            raise ValueError("lora_rank needs a base_model")
        if self.frame_velocity and not self.frame_inputs:
            raise ValueError("frame_velocity needs frame_inputs")
        if self.init_from and self.base_model:
            raise ValueError("init_from starts the built-in model; base_model starts another")

    def to_dict(self) -> dict[str, Any]:
        """JSON-able dict (enums as their values)."""
        d = dataclasses.asdict(self)
        d["text_encoder"] = self.text_encoder.value
        d["summary_source"] = self.summary_source.value
        return d

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        """Inverse of :meth:`to_dict`; unknown keys are an error."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise ValueError(f"unknown training settings: {', '.join(unknown)}")
        # A config stored before prefix_lm existed trained a causal model, and one stored
        # before summary_source existed summarised the decoded tokens.
        return cls(**{"prefix_lm": False, "summary_source": "tokens", **data})

    def resume_conflicts(self, stored: TrainConfig) -> list[str]:
        """Settings that differ from a stored run's and would make resuming wrong."""
        return [
            f"{name}: {getattr(stored, name)!r} -> {getattr(self, name)!r}"
            for name in FROZEN_ON_RESUME
            if getattr(self, name) != getattr(stored, name)
        ]


RECIPES: dict[str, TrainConfig] = {
    # One thread: a tiny model's ops are too small to share, and tests run beside other work.
    # BPE prompts: the frozen encoder would cost more than the tiny model itself.
    "tiny": TrainConfig(
        recipe="tiny", steps=32, eval_every=16, eval_clips=4, checkpoint_every=8, threads=1,
        text_encoder=TextEncoder.NONE, aux_weight=1.0,
    ),
    "small": TrainConfig(
        recipe="small", n_layer=4, n_head=4, d_model=192, block_size=400, bpe_size=1024,
        steps=1500, batch_size=16, lr=1.5e-3, min_lr=1.5e-4, warmup_steps=100,
        eval_every=250, eval_clips=64, checkpoint_every=250, log_every=25,
    ),
    "release": TrainConfig(
        recipe="release", n_layer=4, n_head=4, d_model=256, block_size=400, bpe_size=2048,
        steps=2400, batch_size=24, lr=1.5e-3, min_lr=1e-4, warmup_steps=150,
        l2m_fraction=0.6, m2l_weight=2.0, change_weight=2.0, aux_weight=1.0, aux_layer=2,
        guidance=3.0, rope=True, frame_inputs=True, eval_every=300,
        eval_clips=128, checkpoint_every=100, log_every=25, threads=1, precision="auto",
    ),
}  # fmt: skip


def resolve_precision(precision: str, device_type: str = "cpu") -> str:
    """``fp32`` or ``bf16`` for a ``TrainConfig.precision`` on a device.

    ``auto`` picks bfloat16 only where it is native. On a CPU without bf16 instructions
    autocast emulates it, which is slower than float32; on a GPU it asks torch.
    """
    if precision != "auto":
        return precision
    if device_type == "cuda":
        import torch

        return "bf16" if torch.cuda.is_bf16_supported() else "fp32"
    if device_type != "cpu":
        return "fp32"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            flags = next((line.split(":", 1)[1].split() for line in info
                          if line.startswith("flags")), [])  # fmt: skip
    except OSError:  # not Linux: no cheap way to tell, so the safe choice
        return "fp32"
    return "bf16" if _NATIVE_BF16_CPU_FLAGS & set(flags) else "fp32"


def get_recipe(name: str, **overrides: Any) -> TrainConfig:
    """A named recipe with some fields replaced.

    Raises:
        ValueError: For an unknown recipe (naming the valid ones) or a bad override.
    """
    if name not in RECIPES:
        raise ValueError(f"unknown recipe {name!r}; valid: {', '.join(RECIPES)}")
    return dataclasses.replace(RECIPES[name], **overrides)
