"""Sampling: temperature, top-k, top-p, guidance, and drafted decoding of motion.

:meth:`~tdmm_lm.lm.model.TdmmGPT.generate` samples one token per forward pass. Motion at one
token per frame mostly repeats itself (about four tokens in five equal the one before), and
decoding a small model on a CPU is bound by reading its weights once per pass, not by the
tokens in the pass. :func:`drafted_generate` exploits both: it guesses that the next ``k``
tokens repeat the last one, scores all of them in one pass, and keeps them by speculative
sampling (Leviathan et al., 2023): draft token ``x`` is kept with probability ``p(x)``; at the
first refusal the token is drawn from ``p`` without ``x``, renormalised. The result is
distributed exactly as plain sampling from ``p`` (with greedy decoding it is identical),
while the model runs about three times less often.
"""

from __future__ import annotations

import math
from typing import Any

import torch

__all__ = [
    "block_repeats",
    "combine_guidance",
    "drafted_generate",
    "filter_logits",
    "residual_scores",
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


def sample_next(
    logits: torch.Tensor,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    allowed: torch.Tensor | None = None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Draw one id per row from next-token logits (B, V); temperature 0 is greedy.

    Returns:
        (B,) int64 ids.
    """
    if temperature <= 0.0:
        if allowed is not None:
            logits = logits.masked_fill(~allowed, -math.inf)
        return logits.argmax(dim=-1)
    probs = filter_logits(logits, temperature, top_k, top_p, allowed).softmax(dim=-1)
    return torch.multinomial(probs, 1, generator=generator)[:, 0]


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
) -> torch.Tensor:
    """The residual code of each sampled id, drawn from the model's residual head.

    ``states``, ``ids``, ``read`` and ``guidance`` are as for :func:`residual_scores`; the
    sampling settings are the coarse code's.

    Returns:
        (n,) int64 residual codes, -1 where the id is not a motion token.
    """
    c = model.config
    is_motion = (ids >= c.motion_offset) & (ids < c.motion_offset + c.motion_codes)
    if not bool(is_motion.any()):
        return torch.full_like(ids, -1)
    logits = residual_scores(model, states, ids, read, guidance)
    residual = sample_next(logits, temperature, top_k, top_p, None, generator)
    return torch.where(is_motion, residual, -1)


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


def _accept(
    logits: torch.Tensor,
    draft: int,
    temperature: float,
    sampling: dict[str, Any],
    generator: torch.Generator | None,
) -> int | None:
    """Keep ``draft`` (None) or return the replacement drawn at its refusal; logits (1, V)."""
    if temperature <= 0.0:
        best = int(sample_next(logits, 0.0, allowed=sampling["allowed"]))
        return None if best == draft else best
    probs = filter_logits(logits, temperature, **sampling).softmax(dim=-1)[0]  # (V,)
    if float(torch.rand((), generator=generator)) < float(probs[draft]):
        return None
    probs[draft] = 0.0  # the residual max(0, p - q) with q all on the draft
    return int(torch.multinomial(probs / probs.sum(), 1, generator=generator))


@torch.no_grad()
def drafted_generate(
    model: Any,
    idx: torch.Tensor,
    max_new_tokens: int,
    *,
    draft: int,
    countdown: torch.Tensor,
    new_countdown: torch.Tensor,
    text_states: torch.Tensor | None,
    text_mask: torch.Tensor | None,
    allowed: torch.Tensor | None,
    temperature: float,
    top_k: int | None,
    top_p: float | None,
    generator: torch.Generator | None,
    guidance: float | None,
    head_rows: tuple[int, int] | None = None,
    idx2: torch.Tensor | None = None,
) -> torch.Tensor:
    """Generate ``max_new_tokens`` tokens with repeat drafts of up to ``draft`` tokens a pass.

    Same arguments as :meth:`TdmmGPT.generate` (no early stop at an end token: motion has a
    fixed length). Rows are one prompt, or two with guidance (with and without text).
    ``head_rows`` limits the output layer to the allowed ids once the prompt is read.

    With code pairs (``idx2`` given) a draft repeats the last *pair*. The coarse code is
    checked first; once it is kept, the residual code is checked against the residual head
    given that coarse code, and a refusal there ends the pass with the coarse code and a
    redrawn residual one. Each stage is a speculative-sampling test, so the pair is
    distributed as ``p(coarse) p(residual | coarse)``, exactly as plain sampling would draw it.

    Returns:
        (B, T + max_new_tokens) int64, or (B, T + max_new_tokens, 2) with pairs.
    """
    b = idx.shape[0]
    paired = idx2 is not None
    sampling = {"top_k": top_k, "top_p": top_p, "allowed": allowed}
    residual_sampling = {"top_k": top_k, "top_p": top_p, "allowed": None}
    cache = model.new_cache(b)
    source = torch.full((b,), idx.shape[1], dtype=torch.long)  # the prompt is the source
    logits, _ = model(idx, countdown=countdown, text_states=text_states, text_mask=text_mask,
                      cache=cache, prefix=source, idx2=idx2)  # fmt: skip
    first = sample_next(combine_guidance(logits[:, -1], guidance), temperature, top_k, top_p,
                        allowed, generator)  # fmt: skip

    def as_rows(states: torch.Tensor, read: tuple[int, int]) -> tuple[torch.Tensor, ...]:
        """The input pair ``read`` repeated for every row of ``states``."""
        return tuple(torch.full((states.shape[0],), value) for value in read)

    def residual_of(states: torch.Tensor, token: int, read: tuple[int, int]) -> int:
        return int(sample_residual(model, states, torch.tensor([token]), as_rows(states, read),
                                   guidance, temperature, top_k, top_p, generator)[0])  # fmt: skip

    out = [int(first[0])]
    out2: list[int] = []
    if paired:
        read = (int(idx2[0, -1]), int(idx[0, -1]))
        out2.append(residual_of(model.last_states[:, -1], out[0], read))
    while len(out) < max_new_tokens:
        k = min(draft, max_new_tokens - len(out))
        pending = out[-1]
        feed = torch.full((b, k + 1), pending, dtype=torch.long)  # the last token + k repeats
        feed2 = torch.full((b, k + 1), out2[-1], dtype=torch.long) if paired else None
        at = len(out) - 1  # index of ``pending`` among the generated tokens
        cd = new_countdown[at : at + k + 1].expand(b, k + 1)
        logits, _ = model(feed, countdown=cd, cache=cache, all_logits=True,
                          head_rows=head_rows, idx2=feed2)  # (B, k+1, V)  # fmt: skip
        states = model.last_states  # (B, k+1, C)
        logits = combine_guidance(logits, guidance)  # (1, k+1, V)
        replacement = None  # the (coarse, residual) pair that ends the pass, if any
        kept = 0
        for j in range(k):  # logits[:, j] scores the token after feed[j]: draft j+1
            coarse = _accept(logits[:, j], pending, temperature, sampling, generator)
            if coarse is not None:
                pair = residual_of(states[:, j], coarse, (out2[-1], pending)) if paired else -1
                replacement = (coarse, pair)
                break
            if paired:
                read = as_rows(states[:, j], (out2[-1], pending))
                scores = residual_scores(model, states[:, j], torch.tensor([pending]), read,
                                         guidance)  # fmt: skip
                redrawn = _accept(scores, out2[-1], temperature, residual_sampling, generator)
                if redrawn is not None:
                    replacement = (pending, redrawn)
                    break
            kept += 1
        out.extend([pending] * kept)
        if paired:
            out2.extend([out2[-1]] * kept)
        if replacement is None:  # every draft kept: the pass also scored the next token
            if len(out) < max_new_tokens:
                nxt = sample_next(logits[:, k], temperature, top_k, top_p, allowed, generator)
                out.append(int(nxt[0]))
                if paired:
                    out2.append(residual_of(states[:, k], out[-1], (out2[-1], pending)))
        else:
            out.append(replacement[0])
            if paired:
                out2.append(replacement[1])
        cache.length -= k - kept  # forget the refused drafts' keys and values
    new = torch.tensor(out[:max_new_tokens], dtype=torch.long).expand(b, -1)
    seq = torch.cat([idx, new], dim=1)
    if not paired:
        return seq
    new2 = torch.tensor(out2[:max_new_tokens], dtype=torch.long).expand(b, -1)
    return torch.stack([seq, torch.cat([idx2, new2], dim=1)], dim=-1)
