"""The systems ``tdmm eval`` compares, and the T2M-GPT-style baseline's training.

Language2Motion systems turn prompts into motion (:class:`MotionSystem`), Motion2Language
systems turn motion into captions (:class:`CaptionSystem`):

=================  =====================================  ======================================
system             Language2Motion                        Motion2Language
=================  =====================================  ======================================
``tdmm-lm``        ``TdmmModel.animate_batch``            ``TdmmModel.describe_batch``
``t2m-gpt``        the same tokenizer, a GPT conditioned  (text-to-motion only)
                   on a frozen MiniLM sentence embedding
``retrieval``      the motion of the training clip whose  the prompt of the training clip whose
                   prompt is nearest (evaluator text      motion is nearest (evaluator motion
                   embedding, cosine)                     embedding, cosine)
``floor``          the mean training motion, frame by     the most frequent training prompt
                   frame                                  (ties: the one nearest the mean)
``ground-truth``   the test motion itself                 the test clip's prompt
=================  =====================================  ======================================

Retrieved and mean motions are cut, or held on their last frame, to the requested length.
The retrieval baselines search the same-modality embeddings of the corpus's training split,
so they never see the test clip they are scored on.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from tdmm_lm.eval.data import ClipSet
from tdmm_lm.eval.evaluators import MotionEvaluator

__all__ = [
    "CaptionSystem",
    "FloorBaseline",
    "ModelSystem",
    "MotionSystem",
    "RetrievalBaseline",
    "fit_length",
    "train_t2m_baseline",
]

#: Prompts per ``animate_batch`` / sequences per ``describe_batch`` call.
GENERATION_BATCH = 64
#: What the T2M-GPT-style baseline changes in the language model's recipe.
T2M_BASELINE_SETTINGS: dict[str, Any] = {
    "text_encoder": "minilm_sentence",
    "l2m_fraction": 1.0,
    "motion_summary": False,
    "aux_weight": 0.0,
    "prefix_lm": False,  # T2M-GPT's decoder is causal throughout
    "rope": False,  # and adds learned absolute position embeddings (GPT-2's)
    "frame_inputs": False,  # it describes nothing
    "frame_velocity": False,
}


class MotionSystem(Protocol):
    """Language2Motion: prompts in, one (T, 61) motion per prompt out."""

    def generate(self, prompts: list[str], seconds: list[float], seed: int) -> list[np.ndarray]:
        """Motion for each prompt, ``round(seconds * fps)`` frames long."""
        ...


class CaptionSystem(Protocol):
    """Motion2Language: clips in, one caption per clip out."""

    def describe(self, clips: ClipSet) -> list[str]:
        """A caption for each clip."""
        ...


def fit_length(params: np.ndarray, n_frames: int) -> np.ndarray:
    """Cut a (T, D) motion to ``n_frames``, or hold its last frame to reach that length."""
    if len(params) >= n_frames:
        return params[:n_frames]
    tail = np.repeat(params[-1:], n_frames - len(params), axis=0)
    return np.concatenate([params, tail])


class ModelSystem:
    """A trained :class:`~tdmm_lm.lm.TdmmModel` (tdmm-lm or the T2M-GPT-style baseline).

    Args:
        model: The loaded model.
        batch_size: Prompts per decoding pass.
        on_item: Called with the number of items done after each batch (progress).
    """

    def __init__(
        self,
        model: Any,
        batch_size: int = GENERATION_BATCH,
        on_item: Callable[[int], None] | None = None,
    ) -> None:
        self.model = model
        self.batch_size = batch_size
        self.on_item = on_item

    def generate(self, prompts: list[str], seconds: list[float], seed: int) -> list[np.ndarray]:
        """Motion for each prompt; clips longer than the model makes are cut to its limit."""
        limit = self.model.max_seconds
        out: list[np.ndarray] = []
        for k in range(0, len(prompts), self.batch_size):
            chunk = [min(s, limit) for s in seconds[k : k + self.batch_size]]
            seqs = self.model.animate_batch(prompts[k : k + self.batch_size], chunk, seed=seed + k)
            out.extend(s.params for s in seqs)
            if self.on_item is not None:
                self.on_item(len(chunk))
        return out

    def describe(self, clips: ClipSet) -> list[str]:
        """The model's caption of each clip (greedy, deterministic)."""
        from tdmm_lm.face import FaceSequence

        out: list[str] = []
        for k in range(0, len(clips), self.batch_size):
            seqs = [FaceSequence(p, fps=clips.fps) for p in clips.params[k : k + self.batch_size]]
            out.extend(self.model.describe_batch(seqs))
            if self.on_item is not None:
                self.on_item(len(seqs))
        return out

    def token_accuracy(self, prompts: list[str], params: list[np.ndarray]) -> np.ndarray:
        """(N,) teacher-forced next-motion-token accuracy of each clip (the ``Tok`` metric)."""
        return np.array(
            [
                self.model.motion_token_accuracy([p], [x])
                for p, x in zip(prompts, params, strict=True)
            ]
        )


class RetrievalBaseline:
    """Nearest-neighbour retrieval from the training split, in both directions.

    Args:
        train: The training clips searched (a subset keeps the index small).
        evaluator: Embeds prompts and motions.
        train_text: (N, E) evaluator embeddings of the training prompts, if already made.
    """

    def __init__(
        self, train: ClipSet, evaluator: MotionEvaluator, train_text: np.ndarray | None = None
    ) -> None:
        self.train = train
        self.evaluator = evaluator
        self.text = evaluator.embed_texts(train.prompts) if train_text is None else train_text
        self.motion = evaluator.read(train.params).embeddings
        self.fps = train.fps

    def generate(
        self,
        prompts: list[str],
        seconds: list[float],
        seed: int,
        text_embeddings: np.ndarray | None = None,
    ) -> list[np.ndarray]:
        """The motion of the training clip with the nearest prompt (``seed`` is unused)."""
        query = self.evaluator.embed_texts(prompts) if text_embeddings is None else text_embeddings
        nearest = (query @ self.text.T).argmax(1)
        return [
            fit_length(self.train.params[j], max(1, round(s * self.fps)))
            for j, s in zip(nearest, seconds, strict=True)
        ]

    def describe(self, clips: ClipSet, motion_embeddings: np.ndarray | None = None) -> list[str]:
        """The prompt of the training clip with the nearest motion."""
        query = (
            self.evaluator.read(clips.params).embeddings
            if motion_embeddings is None
            else motion_embeddings
        )
        nearest = (query @ self.motion.T).argmax(1)
        return [self.train.prompts[j] for j in nearest]


class FloorBaseline:
    """What a system knowing nothing of its input does: the mean motion, the commonest caption.

    Args:
        train: The training clips.
        train_text: (N, E) evaluator embeddings of their prompts (breaks frequency ties).
    """

    def __init__(self, train: ClipSet, train_text: np.ndarray) -> None:
        longest = max(len(p) for p in train.params)
        total = np.zeros((longest, train.params[0].shape[1]))
        count = np.zeros((longest, 1))
        for p in train.params:
            total[: len(p)] += p
            count[: len(p)] += 1
        self.mean_motion = (total / count).astype(np.float32)  # (T_max, D)
        self.fps = train.fps
        counts = Counter(train.prompts)
        top = max(counts.values())
        tied = [i for i, p in enumerate(train.prompts) if counts[p] == top]
        centre = train_text.mean(0)
        self.caption = train.prompts[max(tied, key=lambda i: float(train_text[i] @ centre))]

    def generate(self, prompts: list[str], seconds: list[float], seed: int) -> list[np.ndarray]:
        """The mean training motion for every prompt."""
        return [fit_length(self.mean_motion, max(1, round(s * self.fps))) for s in seconds]

    def describe(self, clips: ClipSet) -> list[str]:
        """The same caption for every clip."""
        return [self.caption] * len(clips)


def train_t2m_baseline(
    corpus: str | Path,
    tokenizer: str | Path,
    output: str | Path,
    recipe: str = "release",
    progress: Callable[[int, int], None] | None = None,
    resume: bool = False,
    **overrides: Any,
) -> Path:
    """Train the T2M-GPT-style baseline into ``output``.

    The baseline has the same motion tokenizer and a GPT conditioned only on a frozen MiniLM
    sentence embedding, trained by the same recipe (and so the same budget).
    It is the language-model trainer with ``text_encoder="minilm_sentence"`` (one pooled
    embedding fills one prompt slot), ``l2m_fraction=1`` (text-to-motion only), no motion
    summary (a captioning input it never uses), no auxiliary frame-label heads (T2M-GPT
    learns from the motion tokens alone) and causal attention over its prompt slot too.

    Args:
        corpus: The corpus folder.
        tokenizer: The motion tokenizer folder (for a model folder: ``MODELDIR/tokenizer``).
        output: Where to write it (``tdmm eval`` looks in ``MODELDIR/baselines/t2m_gpt``).
        recipe: The language-model recipe whose budget it gets (``tiny`` for tests).
        progress: Called as ``progress(step, total)``.
        resume: Continue a killed run in ``output`` from its last checkpoint.
        **overrides: Further :class:`~tdmm_lm.lm.recipes.TrainConfig` fields (e.g. steps).

    Returns:
        The model folder, loadable with :func:`tdmm_lm.lm.load_model`.
    """
    from tdmm_lm.lm.recipes import get_recipe
    from tdmm_lm.lm.train import train_lm

    cfg = get_recipe(
        recipe,
        corpus=str(corpus),
        tokenizer=str(tokenizer),
        output=str(output),
        **{**T2M_BASELINE_SETTINGS, **overrides},
    )
    return train_lm(cfg, resume=resume, progress=progress)
