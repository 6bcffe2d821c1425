"""Training data of the language model: tokenized corpus splits and padded batches.

A corpus split is read once, its motions are encoded by the motion tokenizer, and the codes
are cached in the run directory (``cache/{split}.safetensors``), so a resumed run and the
other processes of a distributed run do not encode again.

Batches are a pure function of ``(seed, rank, step)``: :func:`get_batch` draws a pool of
examples from a generator seeded by the pool number, sorts them by length (little padding),
cuts the pool into batches and shuffles those. A resumed run therefore sees exactly the
batches an uninterrupted run would have seen.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np
import torch

from tdmm_lm.face import ARKIT
from tdmm_lm.lm.model import COUNTDOWN_NONE
from tdmm_lm.lm.tasks import L2M_TEMPLATES, M2L_TEMPLATES, Example, TaskBuilder

__all__ = ["Batch", "ClipSet", "collate", "get_batch", "load_clips"]

#: Columns read besides the parameters.
_TEXT_COLUMNS = ["id", "prompt", "captions", "n_frames", "fps", "labels"]
#: Share of Language2Motion examples whose text is the generation prompt (else a caption).
PROMPT_SHARE = 0.5


@dataclass
class ClipSet:
    """One tokenized corpus split.

    Attributes:
        ids: Sample ids.
        codes: Motion codes of each clip, (N_i,) int64, or (N_i, 2) code pairs with a
            two-level tokenizer.
        prompts: The prompt that drove each clip's generation.
        captions: Each clip's reference captions (paraphrases).
        seconds: Each clip's duration.
        labels: Each clip's label struct (emotion, intensity, head motion, …).
        summaries: (N, S) float32 motion summary of each clip (:mod:`tdmm_lm.lm.summary`).
        frame_labels: Each clip's per-token segment labels, (N_i, H) int64
            (:mod:`tdmm_lm.lm.frame_labels`).
        frames: Each clip's per-token parameters, (N_i, 61) float16, the frame inputs of a
            model that reads them (:func:`~tdmm_lm.lm.summary.token_frames`).
    """

    ids: list[str]
    codes: list[np.ndarray]
    prompts: list[str]
    captions: list[list[str]]
    seconds: list[float]
    labels: list[dict[str, Any]]
    summaries: np.ndarray
    frame_labels: list[np.ndarray]
    frames: list[np.ndarray]

    def __len__(self) -> int:
        return len(self.ids)

    def texts(self) -> list[str]:
        """Every prompt and caption (to train the text vocabulary on)."""
        return [t for p, cs in zip(self.prompts, self.captions, strict=True) for t in (p, *cs)]


def _tokenizer_digest(tokenizer_dir: Path) -> str:
    """Hash of the tokenizer's weights and config: the cache is only valid for them."""
    h = hashlib.sha256()
    for name in ("config.json", "model.safetensors"):
        path = tokenizer_dir / name
        if path.exists():
            h.update(path.read_bytes())
    return h.hexdigest()[:16]


def load_clips(
    corpus: Path,
    split: str,
    tokenizer: Any,
    tokenizer_dir: Path,
    cache_dir: Path | None,
    summary_source: str = "params",
) -> ClipSet:
    """Read a split and encode its motions, reusing ``cache_dir`` when it matches.

    Args:
        corpus: The corpus folder.
        split: Split name (``train``, ``val``, …).
        tokenizer: A loaded ``MotionTokenizer``.
        tokenizer_dir: Its folder (to check that a cache was made with it).
        cache_dir: Where codes are cached (None: no cache).
        summary_source: What the motion summaries are computed from
            (:class:`~tdmm_lm.lm.summary.SummarySource`).

    Returns:
        The tokenized split, with the motion summary of each clip.
    """
    from safetensors.numpy import load_file, save_file

    from tdmm_lm.data import iter_samples, read_split
    from tdmm_lm.lm.frame_labels import frame_labels
    from tdmm_lm.lm.summary import SummarySource, motion_summaries, token_frames

    table = read_split(corpus, split, columns=_TEXT_COLUMNS).to_pylist()
    ids = [row["id"] for row in table]
    source = SummarySource(summary_source).value
    key = "\n".join(ids) + _tokenizer_digest(tokenizer_dir) + source
    key = hashlib.sha256(key.encode()).hexdigest()
    cache = cache_dir / f"{split}.safetensors" if cache_dir is not None else None
    codes: list[np.ndarray] | None = None
    if cache is not None and cache.exists():
        stored = load_file(str(cache))
        if bytes(stored["key"]).decode() == key and "frames" in stored:
            flat, offsets = stored["codes"].astype(np.int64), stored["offsets"]
            codes = [flat[a:b] for a, b in pairwise(offsets)]
            frames = [stored["frames"][a:b] for a, b in pairwise(offsets)]
            summaries = stored["summaries"]
    if codes is None:
        params = [s["params"] for s in iter_samples(corpus, split)]
        codes = [np.asarray(c, dtype=np.int64) for c in tokenizer.encode_batch(params)]
        summaries = motion_summaries(source, tokenizer, codes, params)
        r = tokenizer.frames_per_token
        frames = [
            token_frames(p, r, len(c)).astype(np.float16)
            for p, c in zip(params, codes, strict=True)
        ]
        if cache is not None:
            cache.parent.mkdir(parents=True, exist_ok=True)
            offsets = np.cumsum([0, *(len(c) for c in codes)]).astype(np.int64)
            flat = np.concatenate(codes) if codes else np.zeros(0, np.int64)
            # The tokenizer reads arkit, so that is the width of an empty frame cache.
            flat_frames = np.concatenate(frames) if frames else np.zeros((0, ARKIT.dim), np.float16)
            tmp = cache.with_suffix(".tmp")
            save_file(
                {
                    "codes": flat.astype(np.int32),
                    "offsets": offsets,
                    "summaries": summaries,
                    "frames": flat_frames,
                    "key": np.frombuffer(key.encode(), dtype=np.uint8),
                },
                str(tmp),
            )
            tmp.replace(cache)
    seconds = [row["n_frames"] / row["fps"] for row in table]
    return ClipSet(
        ids=ids,
        codes=codes,
        prompts=[row["prompt"] for row in table],
        captions=[list(row["captions"]) for row in table],
        seconds=seconds,
        labels=[row["labels"] for row in table],
        summaries=summaries,
        frame_labels=[
            frame_labels(row["labels"], len(c), s)
            for row, c, s in zip(table, codes, seconds, strict=True)
        ],
        frames=frames,
    )


@dataclass
class Batch:
    """Padded model inputs.

    Attributes:
        idx: (B, T) int64 input ids.
        targets: (B, T) int64 next ids, -1 where no loss is taken (source and padding).
        countdown: (B, T) int64 countdown (-1 = not motion).
        text_ids: (B, P) int64 sentence-encoder ids of the ``<txt>`` slots (P may be 0).
        text_mask: (B, P) bool, True on real encoder ids.
        tasks: Each row's task (``"l2m"`` or ``"m2l"``).
        n_tokens: Input positions that are not padding (for throughput).
        text_drop: (B,) bool, rows whose encoder states are hidden (zeroed).
        summaries: (B, S) float32 motion summaries (zeros in rows without one; S may be 0).
        aux_targets: (B, T, H) int64 per-token labels of the motion input positions, ``-1``
            elsewhere (H is 0 when no example has labels).
        n_source: (B,) int64 source length of each row (what a prefix LM reads both ways).
        idx2: (B, T) int64 residual code of each input position, -1 where none.
        targets2: (B, T) int64 residual code of each target, -1 where no loss is taken.
        frames: (B, T, F) float32 frame inputs, NaN where none (F is 0 when no example has
            them).
        paired: The examples carry code pairs (a two-level tokenizer).
    """

    idx: torch.Tensor
    targets: torch.Tensor
    countdown: torch.Tensor
    text_ids: torch.Tensor
    text_mask: torch.Tensor
    tasks: list[str]
    n_tokens: int
    text_drop: torch.Tensor
    summaries: torch.Tensor
    aux_targets: torch.Tensor
    n_source: torch.Tensor
    idx2: torch.Tensor
    targets2: torch.Tensor
    frames: torch.Tensor
    paired: bool = False

    def model_kwargs(self) -> dict[str, torch.Tensor]:
        """The optional model inputs: source lengths, summaries, frames and residual codes."""
        kwargs = {"prefix": self.n_source}
        if self.summaries.shape[1]:
            kwargs["summary"] = self.summaries
        if self.frames.shape[2]:
            kwargs["frames"] = self.frames
        if self.paired:
            kwargs["idx2"] = self.idx2
        return kwargs

    def residual_targets(self, motion_offset: int) -> tuple[torch.Tensor, torch.Tensor]:
        """The residual head's targets: ``(coarse, residual)``, each (B, T), -1 where none.

        ``coarse`` is the coarse code that each residual code refines.
        """
        at = self.targets2 >= 0
        coarse = torch.where(at, self.targets - motion_offset, -1)
        return coarse, self.targets2


def collate(examples: list[Example], pad_id: int, block_size: int) -> Batch:
    """Shift, crop to ``block_size`` and right-pad examples into a :class:`Batch`.

    Right padding is safe under causal attention: a real position never attends to a pad.
    """
    rows = [min(len(e) - 1, block_size) for e in examples]
    width = max(rows)
    b = len(examples)
    idx = np.full((b, width), pad_id, dtype=np.int64)
    targets = np.full((b, width), -1, dtype=np.int64)
    countdown = np.full((b, width), COUNTDOWN_NONE, dtype=np.int64)
    idx2 = np.full((b, width), -1, dtype=np.int64)
    targets2 = np.full((b, width), -1, dtype=np.int64)
    for i, (e, n) in enumerate(zip(examples, rows, strict=True)):
        idx[i, :n] = (e.tokens if e.inputs is None else e.inputs)[:n]
        targets[i, :n] = e.tokens[1 : n + 1]
        targets[i, : e.n_source - 1] = -1  # no loss on predicting the source
        countdown[i, :n] = e.countdown[:n]
        if e.codes2 is not None:
            idx2[i, :n] = (e.codes2 if e.inputs2 is None else e.inputs2)[:n]
            targets2[i, :n] = e.codes2[1 : n + 1]
            targets2[i, : e.n_source - 1] = -1
    width_s = max((len(e.summary) for e in examples if e.summary is not None), default=0)
    summaries = np.zeros((b, width_s), dtype=np.float32)
    for i, e in enumerate(examples):
        if e.summary is not None:
            summaries[i] = e.summary
    h = max((e.frame_labels.shape[1] for e in examples if e.frame_labels is not None), default=0)
    aux = np.full((b, width, h), -1, dtype=np.int64)
    for i, (e, n) in enumerate(zip(examples, rows, strict=True)):
        if e.frame_labels is not None:
            # The motion run starts one after the first countdown position (countdown_for);
            # the input at a motion position is that frame's token.
            start = int(np.argmax(e.countdown >= 0)) + 1
            stop = min(start + len(e.frame_labels), n)
            aux[i, start:stop] = e.frame_labels[: stop - start]
    f = max((e.frames.shape[1] for e in examples if e.frames is not None), default=0)
    frames = np.full((b, width, f), np.nan, dtype=np.float32)
    for i, (e, n) in enumerate(zip(examples, rows, strict=True)):
        if e.frames is not None:
            frames[i, :n] = e.frames[:n]
    p = max((len(e.text_ids) for e in examples), default=0)
    text_ids = np.zeros((b, p), dtype=np.int64)
    text_mask = np.zeros((b, p), dtype=bool)
    for i, e in enumerate(examples):
        text_ids[i, : len(e.text_ids)] = e.text_ids
        text_mask[i, : len(e.text_ids)] = True
    return Batch(
        idx=torch.from_numpy(idx),
        targets=torch.from_numpy(targets),
        countdown=torch.from_numpy(countdown),
        text_ids=torch.from_numpy(text_ids),
        text_mask=torch.from_numpy(text_mask),
        tasks=[e.task for e in examples],
        n_tokens=sum(rows),
        text_drop=torch.tensor([e.drop_text for e in examples], dtype=torch.bool),
        summaries=torch.from_numpy(summaries),
        aux_targets=torch.from_numpy(aux),
        n_source=torch.tensor([min(e.n_source, n) for e, n in zip(examples, rows, strict=True)]),
        idx2=torch.from_numpy(idx2),
        targets2=torch.from_numpy(targets2),
        frames=torch.from_numpy(frames),
        paired=any(e.codes2 is not None for e in examples),
    )


def draw_example(
    clips: ClipSet,
    builder: TaskBuilder,
    rng: np.random.Generator,
    l2m_fraction: float,
    prompt_dropout: float = 0.0,
    motion_noise: float = 0.0,
) -> Example:
    """One random example: a clip, a direction, a text and an instruction phrasing.

    A share ``prompt_dropout`` of the Language2Motion examples hides the prompt, so that the
    model also learns the text-free distribution classifier-free guidance contrasts with.
    With ``motion_noise`` > 0, up to that share of the input motion tokens (a rate drawn
    uniformly per example) is replaced by random ones (:meth:`Example.with_motion_noise`).
    """
    example = _draw_clean(clips, builder, rng, l2m_fraction, prompt_dropout)
    if motion_noise > 0:
        v = builder.vocab
        span = (v.motion_offset, v.motion_offset + v.codebook_size)
        example = example.with_motion_noise(
            rng.uniform(0, motion_noise), span, rng, builder.residual_codes
        )
    return example


def _draw_clean(
    clips: ClipSet,
    builder: TaskBuilder,
    rng: np.random.Generator,
    l2m_fraction: float,
    prompt_dropout: float,
) -> Example:
    i = int(rng.integers(len(clips)))
    captions = clips.captions[i]
    caption = captions[int(rng.integers(len(captions)))]
    if rng.random() < l2m_fraction:
        text = clips.prompts[i] if rng.random() < PROMPT_SHARE else caption
        template = int(rng.integers(len(L2M_TEMPLATES)))
        drop = bool(rng.random() < prompt_dropout)
        example = builder.l2m(text, clips.codes[i], clips.seconds[i], template, drop)
    else:
        template = int(rng.integers(len(M2L_TEMPLATES)))
        frames = clips.frames[i] if builder.frame_inputs else None
        example = builder.m2l(clips.codes[i], caption, template, clips.summaries[i], frames)
    return dataclasses.replace(example, frame_labels=clips.frame_labels[i])


_POOL_CACHE: dict[tuple, list[list[Example]]] = {}


def get_batch(
    clips: ClipSet,
    builder: TaskBuilder,
    step: int,
    *,
    seed: int,
    rank: int,
    batch_size: int,
    block_size: int,
    l2m_fraction: float,
    pool_batches: int,
    prompt_dropout: float = 0.0,
    motion_noise: float = 0.0,
) -> Batch:
    """The training batch of ``step`` on process ``rank``: a pure function of its arguments.

    Args:
        clips: The training split.
        builder: Turns clips into examples.
        step: Optimisation step.
        seed: Run seed.
        rank: Process index (each process draws its own examples).
        batch_size: Examples per batch.
        block_size: Longest sequence the model takes.
        l2m_fraction: Share of Language2Motion examples.
        pool_batches: Batches drawn together and grouped by length.
        prompt_dropout: Share of Language2Motion examples with the prompt hidden.
        motion_noise: Largest share of input motion tokens replaced by random ones.

    Returns:
        The batch.
    """
    pool_index, offset = divmod(step, pool_batches)
    key = (id(clips), id(builder), seed, rank, pool_index, batch_size, l2m_fraction,
           prompt_dropout, motion_noise)  # fmt: skip
    if key not in _POOL_CACHE:
        _POOL_CACHE.clear()  # one pool at a time: memory stays flat
        rng = np.random.default_rng([seed, rank, pool_index])
        pool = [
            draw_example(clips, builder, rng, l2m_fraction, prompt_dropout, motion_noise)
            for _ in range(batch_size * pool_batches)
        ]
        pool.sort(key=len)
        batches = [pool[k : k + batch_size] for k in range(0, len(pool), batch_size)]
        _POOL_CACHE[key] = [batches[j] for j in rng.permutation(len(batches))]
    return collate(_POOL_CACHE[key][offset], builder.vocab.pad, block_size)


def eval_examples(clips: ClipSet, builder: TaskBuilder, n_clips: int) -> list[Example]:
    """Fixed evaluation examples: each of the first clips in both directions.

    Language2Motion uses the clip's prompt and the first instruction; Motion2Language the
    first caption, the first instruction and the clip's motion summary, as in training.
    """
    out: list[Example] = []
    for i in range(min(n_clips, len(clips))):
        out.append(builder.l2m(clips.prompts[i], clips.codes[i], clips.seconds[i], 0))
        frames = clips.frames[i] if builder.frame_inputs else None
        out.append(builder.m2l(clips.codes[i], clips.captions[i][0], 0, clips.summaries[i],
                               frames))  # fmt: skip
    return out


def digest(obj: Any) -> str:
    """Short stable hash of a JSON-serialisable object."""
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:16]
