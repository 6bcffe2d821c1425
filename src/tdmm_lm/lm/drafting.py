"""Drafted decoding of motion: several tokens per forward pass, distributed as plain sampling.

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

from typing import Any

import torch

from tdmm_lm.lm.generate import (
    combine_guidance,
    draw,
    filter_logits,
    sample_next,
    sample_residual,
)

__all__ = ["drafted_generate"]


def _accept(
    logits: torch.Tensor,
    draft: int,
    temperature: float,
    sampling: dict[str, Any],
    generator: torch.Generator | None,
    change_temperature: float = 1.0,
) -> int | None:
    """Keep ``draft`` (None) or return the replacement drawn at its refusal; logits (1, V).

    The refusal draws from ``p`` without ``x`` at ``temperature * change_temperature``: a
    change is cooled as in :func:`~tdmm_lm.lm.generate.sample_change` (at 1, exactly the
    speculative-sampling residual).
    """
    if temperature <= 0.0:
        best = int(sample_next(logits, 0.0, allowed=sampling["allowed"]))
        return None if best == draft else best
    probs = filter_logits(logits, temperature, **sampling).softmax(dim=-1)[0]  # (V,)
    if float(torch.rand((), generator=generator)) < float(probs[draft]):
        return None
    if change_temperature != 1.0:
        probs = filter_logits(logits, temperature * change_temperature, **sampling)
        probs = probs.softmax(dim=-1)[0]
    probs[draft] = 0.0  # the residual max(0, p - q) with q all on the draft
    if float(probs.sum()) <= 0.0:  # the filter left only the draft: nothing to change to
        return None
    return int(draw(probs[None], generator)[0])


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
    change_temperature: float = 1.0,
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
                        allowed, generator, idx[:1, -1], change_temperature)  # fmt: skip

    def as_rows(states: torch.Tensor, read: tuple[int, int]) -> tuple[torch.Tensor, ...]:
        """The input pair ``read`` repeated for every row of ``states``."""
        return tuple(torch.full((states.shape[0],), value) for value in read)

    def residual_of(states: torch.Tensor, token: int, read: tuple[int, int]) -> int:
        return int(sample_residual(model, states, torch.tensor([token]), as_rows(states, read),
                                   guidance, temperature, top_k, top_p, generator,
                                   change_temperature)[0])  # fmt: skip

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
        if paired:  # every draft repeats one pair: score its residual at all k at once
            rows = (b, k)
            code = torch.full(rows, pending - model.config.motion_offset)
            code = code.clamp(0, model.config.motion_codes - 1)  # a text id reads as code 0
            drafted = model.residual_logits(states[:, :k], code, torch.full(rows, out2[-1]),
                                            torch.full(rows, pending))  # fmt: skip
            drafted = combine_guidance(drafted, guidance)  # (1, k, K2)
        replacement = None  # the (coarse, residual) pair that ends the pass, if any
        kept = 0
        for j in range(k):  # logits[:, j] scores the token after feed[j]: draft j+1
            coarse = _accept(logits[:, j], pending, temperature, sampling, generator,
                             change_temperature)  # fmt: skip
            if coarse is not None:
                pair = residual_of(states[:, j], coarse, (out2[-1], pending)) if paired else -1
                replacement = (coarse, pair)
                break
            if paired:
                redrawn = _accept(drafted[:, j], out2[-1], temperature, residual_sampling,
                                  generator, change_temperature)  # fmt: skip
                if redrawn is not None:
                    replacement = (pending, redrawn)
                    break
            kept += 1
        out.extend([pending] * kept)
        if paired:
            out2.extend([out2[-1]] * kept)
        if replacement is None:  # every draft kept: the pass also scored the next token
            if len(out) < max_new_tokens:
                nxt = sample_next(logits[:, k], temperature, top_k, top_p, allowed, generator,
                                  torch.tensor([pending]), change_temperature)  # fmt: skip
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
