"""The inputs of decoding: checked prompts and sampling settings, padded sources, states.

:class:`~tdmm_lm.lm.api.TdmmModel` builds each decoding call from these helpers; they hold
no model state, so the API module reads as the two tasks and nothing else.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch

from tdmm_lm.errors import InvalidInputError
from tdmm_lm.lm.model import COUNTDOWN_NONE
from tdmm_lm.lm.storage import ModelConfig

__all__ = [
    "INFERENCE_THREADS",
    "MAX_PROMPT_CHARS",
    "check_prompt",
    "inference_threads",
    "left_pad",
    "left_pad_frames",
    "left_pad_residual",
    "prompt_states",
    "resolve_sampling",
]

#: Longest prompt ``animate`` accepts, in characters.
MAX_PROMPT_CHARS = 1000
#: Threads of inference. Token-by-token decoding is a chain of tiny ops: on a busy 2-core
#: machine a second thread costs more in synchronisation than it gains (measured: 4 s
#: instead of 0.1 s for a 4 s clip), and one thread is as fast even on an idle one.
INFERENCE_THREADS = 1


@contextmanager
def inference_threads() -> Iterator[None]:
    """Run torch on :data:`INFERENCE_THREADS` threads without autograd, then restore."""
    before = torch.get_num_threads()
    torch.set_num_threads(INFERENCE_THREADS)
    try:
        with torch.inference_mode():
            yield
    finally:
        torch.set_num_threads(before)


def check_prompt(prompt: Any) -> None:
    """Refuse an empty or oversized prompt with a message that says what to do."""
    if not isinstance(prompt, str) or not prompt.strip():
        raise InvalidInputError("the prompt is empty; say what the face should do")
    if len(prompt) > MAX_PROMPT_CHARS:
        raise InvalidInputError(
            f"the prompt is {len(prompt)} characters; the limit is {MAX_PROMPT_CHARS}"
        )


def resolve_sampling(
    config: ModelConfig,
    temperature: float | None,
    top_k: int | None,
    top_p: float | None,
    guidance: float | None,
    change_temperature: float | None = None,
) -> dict[str, Any]:
    """The sampling settings, the model's defaults filling the Nones; checked.

    Raises:
        InvalidInputError: A setting is out of its range.
    """
    values = {
        "temperature": config.temperature if temperature is None else temperature,
        "top_k": config.top_k if top_k is None else top_k,
        "top_p": config.top_p if top_p is None else top_p,
        "guidance": config.guidance if guidance is None else guidance,
        "change_temperature": (
            config.change_temperature if change_temperature is None else change_temperature
        ),
    }
    if (
        values["temperature"] < 0
        or values["top_k"] < 0
        or not 0 < values["top_p"] <= 1
        or values["guidance"] < 0
        or not values["change_temperature"] > 0
    ):
        raise InvalidInputError(
            "need temperature >= 0, top_k >= 0, top_p in (0, 1], guidance >= 0 and "
            "change_temperature > 0, got {temperature}, {top_k}, {top_p}, {guidance}, "
            "{change_temperature}".format(**values)
        )
    return values


def left_pad(sources: list[Any], pad_id: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Stack task sources (``Example``) of different lengths, padded on the left.

    Returns:
        ((B, L) int64 ids, (B, L) int64 countdown, (B, L) bool: True at real tokens).
    """
    width = max(len(src.tokens) for src in sources)
    idx = torch.full((len(sources), width), pad_id, dtype=torch.long)
    countdown = torch.full((len(sources), width), COUNTDOWN_NONE, dtype=torch.long)
    valid = torch.zeros((len(sources), width), dtype=torch.bool)
    for i, src in enumerate(sources):
        n = len(src.tokens)
        idx[i, width - n :] = torch.from_numpy(src.tokens)
        countdown[i, width - n :] = torch.from_numpy(src.countdown)
        valid[i, width - n :] = True
    return idx, countdown, valid


def left_pad_residual(sources: list[Any]) -> torch.Tensor | None:
    """The residual codes of sources padded as :func:`left_pad` pads them.

    Returns:
        (B, L) int64 with -1 where none, or None when the sources carry no code pairs.
    """
    if all(src.codes2 is None for src in sources):
        return None
    width = max(len(src.tokens) for src in sources)
    idx2 = torch.full((len(sources), width), -1, dtype=torch.long)
    for i, src in enumerate(sources):
        if src.codes2 is not None:
            idx2[i, width - len(src.codes2) :] = torch.from_numpy(src.codes2)
    return idx2


def left_pad_frames(sources: list[Any]) -> torch.Tensor:
    """The frame inputs of sources padded as :func:`left_pad` pads them.

    Returns:
        (B, L, F) float32, NaN where a position has no frame.
    """
    width = max(len(src.tokens) for src in sources)
    dim = max((src.frames.shape[1] for src in sources if src.frames is not None), default=0)
    frames = torch.full((len(sources), width, dim), float("nan"))
    for i, src in enumerate(sources):
        if src.frames is not None:
            frames[i, width - len(src.frames) :] = torch.from_numpy(src.frames)
    return frames


def prompt_states(
    text_encoder: Any, text_ids: list[tuple[int, ...]], drops: tuple[bool, ...]
) -> tuple[torch.Tensor | None, torch.Tensor | None]:
    """Encoder states of the rows' prompts, zeroed (hidden) in the rows of a drop pass.

    Each distinct prompt is encoded once (a batch may repeat a prompt many times) and kept
    by the encoder for later calls (``prompt_states``); the hidden rows are not encoded.

    Args:
        text_encoder: The model's frozen sentence encoder, or None.
        text_ids: Encoder ids of each row (``len(drops)`` passes over the prompts).
        drops: For each pass over the prompts, whether its prompts are hidden.

    Returns:
        ((rows, P, dim) states, (rows, P) mask), or (None, None) without an encoder.
    """
    if text_encoder is None or not any(text_ids):
        return None, None
    per_pass = len(text_ids) // len(drops)
    distinct = list(dict.fromkeys(text_ids[:per_pass]))
    states, slot_mask = text_encoder.prompt_states(distinct)
    if states is None or slot_mask is None:
        return None, None
    where = {t: i for i, t in enumerate(distinct)}
    rows = torch.tensor([where[t] for t in text_ids[:per_pass]])
    states, slot_mask = states[rows], slot_mask[rows]  # (per_pass, P, dim), (per_pass, P)
    passes = [torch.zeros_like(states) if drop else states for drop in drops]
    return torch.cat(passes), slot_mask.repeat(len(drops), 1)
