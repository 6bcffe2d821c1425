"""Sampling: temperature, top-k, top-p, guidance, code pairs and the decoding loop.

:meth:`~tdmm_lm.lm.model.TdmmGPT.generate` checks its arguments and runs :func:`sample_loop`,
one token (or code pair) per forward pass, or :func:`~tdmm_lm.lm.drafting.drafted_generate`,
which drafts repeats of the last token and keeps them by speculative sampling.
"""

from __future__ import annotations

import math
from typing import Any

import torch

__all__ = [
    "block_repeats",
    "combine_guidance",
    "draw",
    "filter_logits",
    "forbid_early_eos",
    "residual_scores",
    "sample_change",
    "sample_loop",
    "sample_next",
    "sample_residual",
]


def filter_logits(
    logits: torch.Tensor,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    allowed: torch.Tensor | None = None,
) -> torch.Tensor:
    """Logits of the sampling distribution: allowed ids, temperature, top-k, then top-p.

    Args:
        logits: (B, V) float logits.
        temperature: Softmax temperature (> 0).
        top_k: Keep the k most likely ids only.
        top_p: Keep the smallest most-likely set whose probability mass reaches p (nucleus).
        allowed: (V,) bool mask of the ids that may be drawn.

    Returns:
        (B, V) float32 logits, -inf on excluded ids.
    """
    logits = logits.float()
    if allowed is not None:
        logits = logits.masked_fill(~allowed, -math.inf)
    logits = logits / temperature
    if top_k is not None and top_k < logits.size(-1):
        kth = torch.topk(logits, top_k, dim=-1).values[:, -1:]  # (B, 1)
        logits = logits.masked_fill(logits < kth, -math.inf)
    if top_p is not None and top_p < 1.0:
        sorted_logits, order = torch.sort(logits, descending=True, dim=-1)
        probs = sorted_logits.softmax(dim=-1)
        # Drop an id when the mass before it already reaches top_p (the top id always stays).
        drop_sorted = (probs.cumsum(dim=-1) - probs) >= top_p
        logits = logits.masked_fill(drop_sorted.scatter(-1, order, drop_sorted), -math.inf)
    return logits


def draw(probs: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """One id per row of (B, V) non-negative weights, drawn in proportion to them.

    Inverse-CDF sampling rather than ``torch.multinomial``, which on CPU costs about 1.4 ms
    for 64 rows of 1024 ids against 0.08 ms here (measured), and decoding draws at every
    token. The first id whose running sum exceeds a uniform draw below the row's total is
    taken, so an id of weight zero is never drawn.

    Returns:
        (B,) int64 ids.

    Raises:
        ValueError: A row whose weights sum to zero, or are not finite.
    """
    cdf = probs.float().cumsum(dim=-1)  # (B, V)
    total = cdf[:, -1:]  # (B, 1)
    if not bool(((total > 0) & torch.isfinite(total)).all()):
        raise ValueError("cannot draw from a row of zero or non-finite weights")
    u = torch.rand(total.shape, generator=generator) * total
    return torch.searchsorted(cdf, u, right=True)[:, 0].clamp_max(probs.shape[-1] - 1)


def sample_next(
    logits: torch.Tensor,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    allowed: torch.Tensor | None = None,
    generator: torch.Generator | None = None,
    last: torch.Tensor | None = None,
    change_temperature: float = 1.0,
) -> torch.Tensor:
    """Draw one id per row from next-token logits (B, V); temperature 0 is greedy.

    With ``last`` (B,) and a ``change_temperature`` other than 1 the draw has two stages
    (:func:`sample_change`): keep the last id with the probability the sampling gives it, or
    change, to an id drawn at ``temperature * change_temperature``.

    Returns:
        (B,) int64 ids.
    """
    if temperature <= 0.0:
        if allowed is not None:
            logits = logits.masked_fill(~allowed, -math.inf)
        return logits.argmax(dim=-1)
    probs = filter_logits(logits, temperature, top_k, top_p, allowed).softmax(dim=-1)
    if last is not None and change_temperature != 1.0:
        return sample_change(logits, probs, last, temperature * change_temperature,
                             top_k, top_p, allowed, generator)  # fmt: skip
    return draw(probs, generator)


def sample_change(
    logits: torch.Tensor,
    probs: torch.Tensor,
    last: torch.Tensor,
    change_temperature: float,
    top_k: int | None,
    top_p: float | None,
    allowed: torch.Tensor | None,
    generator: torch.Generator | None,
) -> torch.Tensor:
    """Keep ``last`` with its probability under ``probs``, else draw a change, cooled.

    Motion repeats its last token at most steps, and the probability of a change is spread
    over many codes. A plain cooler temperature makes the repeat win ever more often and the
    face freezes; sampled at temperature 1, the changes wander over near-identical codes, so
    a nod or a shake starts and then drifts instead of swinging. Cooling only the choice
    among the changes keeps how often the motion changes as the model predicts it, and makes
    each change go where the model most expects. Rows whose ``last`` is not an id that may be
    drawn (the first frame: ``last`` is the prompt's last token; -1: no code) have nothing to
    keep and draw plainly from ``probs``.

    Args:
        logits: (B, V) raw logits.
        probs: (B, V) the plain sampling distribution of ``logits``.
        last: (B,) the previous id of each row (-1: none).
        change_temperature: The absolute temperature of the draw among the changes (> 0).
        top_k: As for :func:`filter_logits`, applied to the changes.
        top_p: As for :func:`filter_logits`, applied to the changes.
        allowed: (V,) bool mask of the ids that may be drawn.
        generator: Source of randomness.

    Returns:
        (B,) int64 ids.
    """
    rows = torch.arange(len(last))
    drawable = last >= 0
    if allowed is not None:
        drawable &= allowed[last.clamp(min=0)]
    keep_p = probs[rows, last.clamp(min=0)] * drawable  # (B,)
    cooled = filter_logits(logits, change_temperature, top_k, top_p, allowed)
    cooled[rows[drawable], last[drawable]] = -math.inf
    nowhere = torch.isinf(cooled).all(dim=-1)  # the last id was all the filter left
    cooled[nowhere] = 0.0  # any finite row; its draw is not used
    plain = ~drawable  # nothing to keep: one draw from the plain distribution
    keep = (torch.rand(len(last), generator=generator) < keep_p) | nowhere
    moved = draw(cooled.softmax(dim=-1), generator)
    fresh = draw(probs, generator)
    return torch.where(plain, fresh, torch.where(keep, last, moved))


def combine_guidance(logits: torch.Tensor, guidance: float | None) -> torch.Tensor:
    """Classifier-free guidance: rows (n with text, then n without) -> ``u + g * (c - u)``.

    Args:
        logits: (2n, ..., V) when guided, else (B, ..., V) returned as is.
        guidance: The scale, or None for no guidance.

    Returns:
        (n, ..., V) guided logits, or ``logits`` unchanged.
    """
    if guidance is None:
        return logits
    n = logits.shape[0] // 2
    cond, uncond = logits[:n], logits[n:]
    return uncond + guidance * (cond - uncond)


def residual_scores(
    model: Any,
    states: torch.Tensor,
    ids: torch.Tensor,
    read: tuple[torch.Tensor, torch.Tensor],
    guidance: float | None,
) -> torch.Tensor:
    """Guided residual-code logits for the coarse ids just drawn.

    Args:
        model: A ``TdmmGPT`` with ``residual_codes``.
        states: (B, C) final states of the positions that predicted ``ids`` (2n rows when
            guided: the residual logits are guided like the coarse ones).
        ids: (n,) token ids of the coarse codes (non-motion ids are scored as code 0).
        read: ``(residual code, token id)`` each (B,): the input of the positions whose
            states these are (the residual head's copy pointer reads it).
        guidance: Classifier-free guidance scale, or None.

    Returns:
        (n, K2) logits.
    """
    c = model.config
    code = (ids - c.motion_offset).clamp(0, c.motion_codes - 1)
    rows = code.repeat(states.shape[0] // len(ids))
    return combine_guidance(model.residual_logits(states, rows, *read), guidance)


def sample_residual(
    model: Any,
    states: torch.Tensor,
    ids: torch.Tensor,
    read: tuple[torch.Tensor, torch.Tensor],
    guidance: float | None,
    temperature: float,
    top_k: int | None,
    top_p: float | None,
    generator: torch.Generator | None,
    change_temperature: float = 1.0,
) -> torch.Tensor:
    """The residual code of each sampled id, drawn from the model's residual head.

    ``states``, ``ids``, ``read`` and ``guidance`` are as for :func:`residual_scores`; the
    sampling settings are the coarse code's. A change of the residual code (from the one
    ``read`` holds) is drawn at ``change_temperature`` like a coarse one (:func:`sample_change`).

    Returns:
        (n,) int64 residual codes, -1 where the id is not a motion token.
    """
    c = model.config
    is_motion = (ids >= c.motion_offset) & (ids < c.motion_offset + c.motion_codes)
    if not bool(is_motion.any()):
        return torch.full_like(ids, -1)
    logits = residual_scores(model, states, ids, read, guidance)
    last = read[0][: len(ids)]  # guided rows come in pairs that read the same code
    residual = sample_next(logits, temperature, top_k, top_p, None, generator, last,
                           change_temperature)  # fmt: skip
    return torch.where(is_motion, residual, -1)


def _extend_frames(frames: torch.Tensor | None, length: int) -> torch.Tensor | None:
    """(B, T, F) frame inputs of a prompt, NaN-padded to ``length`` positions.

    Generated positions have no frame.
    """
    if frames is None or frames.shape[1] >= length:
        return frames
    pad = frames.new_full((frames.shape[0], length - frames.shape[1], frames.shape[2]), math.nan)
    return torch.cat([frames, pad], dim=1)


def block_repeats(logits: torch.Tensor, generated: torch.Tensor, n: int) -> torch.Tensor:
    """Mask the ids that would repeat an n-gram of ``generated`` (B, L); logits (B, V)."""
    if generated.shape[1] < n:
        return logits
    logits = logits.clone()
    for row, ids in enumerate(generated.tolist()):
        prefix = tuple(ids[len(ids) - n + 1 :])
        banned = [
            ids[j + n - 1] for j in range(len(ids) - n + 1) if tuple(ids[j : j + n - 1]) == prefix
        ]
        logits[row, banned] = -math.inf
    return logits


def forbid_early_eos(
    logits: torch.Tensor, eos_id: int | None, step: int, min_new_tokens: int
) -> torch.Tensor:
    """``logits`` with ``eos_id`` ruled out while fewer than ``min_new_tokens`` are written.

    A caption model can put its end first, given motion it has no words for; the caller
    always wants some text.
    """
    if eos_id is None or step >= min_new_tokens:
        return logits
    logits = logits.clone()
    logits[..., eos_id] = float("-inf")
    return logits


@torch.no_grad()
def sample_loop(
    model: Any,
    idx: torch.Tensor,
    max_new_tokens: int,
    *,
    countdown: torch.Tensor,
    new_countdown: torch.Tensor,
    text_states: torch.Tensor | None,
    text_mask: torch.Tensor | None,
    allowed: torch.Tensor | None,
    eos_id: int | None,
    min_new_tokens: int,
    temperature: float,
    top_k: int | None,
    top_p: float | None,
    generator: torch.Generator | None,
    use_cache: bool,
    guidance: float | None,
    no_repeat_ngram: int,
    change_temperature: float,
    valid: torch.Tensor | None,
    summary: torch.Tensor | None,
    idx2: torch.Tensor | None,
    head_rows: tuple[int, int] | None,
    frames: torch.Tensor | None = None,
) -> torch.Tensor:
    """Sample one token (or code pair) per forward pass.

    The arguments are :meth:`TdmmGPT.generate`'s after its checks: ``countdown`` is set,
    ``new_countdown`` is (B, max_new_tokens), ``valid`` is given only when some row is
    left-padded, ``idx2`` only for a model with ``residual_codes`` (then always), and
    ``head_rows`` limits the output layer to the allowed ids once the prompt is read.

    Returns:
        (B, T + n) int64, or (B, T + n, 2) with code pairs (see ``TdmmGPT.generate``).
    """
    b, t = idx.shape
    paired = idx2 is not None
    cache = model.new_cache(b) if use_cache else None
    if cache is not None and valid is not None:
        cache.valid = torch.ones(b, model.config.block_size, dtype=torch.bool)
        cache.valid[:, :t] = valid
        cache.pads = (~valid).sum(1)
    seq, cds, seq2 = idx, countdown, idx2
    source = torch.full((b,), t, dtype=torch.long)  # the prompt is the whole source
    logits, _ = model(
        idx, countdown=countdown, text_states=text_states, text_mask=text_mask, cache=cache,
        summary=summary, prefix=source, idx2=idx2, frames=frames,
    )  # fmt: skip
    nxt2 = None
    done = torch.zeros(b, dtype=torch.bool)
    for i in range(max_new_tokens):
        # With guidance (1, V): pushed away from the text-free prediction.
        step_logits = combine_guidance(logits[:, -1], guidance)  # (B or 1, V)
        step_logits = forbid_early_eos(step_logits, eos_id, i, min_new_tokens)
        if no_repeat_ngram:
            step_logits = block_repeats(step_logits, seq[: len(step_logits), t:],
                                        no_repeat_ngram)  # fmt: skip
        nxt = sample_next(step_logits, temperature, top_k, top_p, allowed, generator,
                          seq[: len(step_logits), -1], change_temperature)  # fmt: skip
        if paired:
            last = (seq2[:, -1], seq[:, -1])  # the pair the step read
            nxt2 = sample_residual(model, model.last_states[:, -1], nxt, last, guidance,
                                   temperature, top_k, top_p, generator,
                                   change_temperature)  # fmt: skip
            nxt2 = nxt2.repeat(b // len(nxt2))
            seq2 = torch.cat([seq2, nxt2[:, None]], dim=1)
        nxt = nxt.repeat(b // len(nxt))  # (B,): with guidance both rows continue alike
        seq = torch.cat([seq, nxt[:, None]], dim=1)  # (B, T+i+1)
        if eos_id is not None:
            done |= nxt == eos_id
            if bool(done.all()):
                break
        if i == max_new_tokens - 1:
            break
        cd_next = new_countdown[:, i : i + 1]  # (B, 1)
        cds = torch.cat([cds, cd_next], dim=1)
        if cache is not None:
            step2 = nxt2[:, None] if paired else None
            logits, _ = model(nxt[:, None], countdown=cd_next, cache=cache,
                              head_rows=head_rows, idx2=step2)  # fmt: skip
        else:  # recompute everything (reference path, used to test the cache)
            logits, _ = model(seq, countdown=cds, text_states=text_states,
                              text_mask=text_mask, summary=summary, prefix=source,
                              frames=_extend_frames(frames, seq.shape[1]),
                              idx2=seq2)  # fmt: skip
    return torch.stack([seq, seq2], dim=-1) if paired else seq
