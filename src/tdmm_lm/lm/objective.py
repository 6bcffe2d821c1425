"""What the language model is trained on and how it is measured, teacher-forced.

* :func:`weighted_loss`: the training objective (cross-entropy by task, plus the change term).
* :func:`evaluate`: validation losses and accuracies, ``Tok`` among them.
* :func:`text_states`: the frozen sentence encoder's states for a batch's prompt slots.
"""

from __future__ import annotations

from typing import Any

import torch
from torch.nn import functional as F

from tdmm_lm.lm.data import Batch, collate
from tdmm_lm.lm.tasks import Example

__all__ = ["evaluate", "text_states", "weighted_loss"]

#: Examples per forward pass in :func:`evaluate`.
EVAL_BATCH = 16


def text_states(encoder: Any, batch: Batch) -> tuple[torch.Tensor | None, torch.Tensor | None]:
    """Frozen-encoder states for a batch's ``<txt>`` slots, zeroed on hidden prompts.

    Returns:
        ((B, P, dim) float32 states, (B, P) bool mask), or (None, None) without text.
    """
    if encoder is None:
        return None, None
    states, mask = encoder.states_for(batch.text_ids, batch.text_mask)
    if states is not None and bool(batch.text_drop.any()):
        states[batch.text_drop] = 0.0  # the "no prompt" input: the projection's bias alone
    return states, mask


@torch.no_grad()
def evaluate(
    lm: torch.nn.Module,
    examples: list[Example],
    vocab: Any,
    text_encoder: Any = None,
    block_size: int = 1 << 20,
) -> dict[str, float]:
    """Teacher-forced losses and accuracies on fixed examples.

    Returns:
        ``l2m_loss`` / ``m2l_loss`` (mean cross-entropy per target token of each task),
        ``tok_acc`` (next-motion-token accuracy of Language2Motion, the ``Tok`` metric),
        ``tok_change_acc`` (the same where the motion token differs from the one before: how
        much of Tok is more than holding still), ``tok_repeat_share`` (the share of motion
        targets that repeat the token before) and ``text_acc`` (next-subword accuracy of
        Motion2Language); NaN when a task is absent. With code pairs a motion token is a
        frame's pair: ``tok_acc`` counts a pair right when both codes are, given the true
        past, and ``tok_coarse_acc`` / ``tok_residual_acc`` score each code alone (the
        residual one given the true coarse code).
    """
    was_training = lm.training
    lm.eval()
    motion = torch.from_numpy(vocab.motion_mask())
    sums = {
        "l2m_nll": 0.0,
        "l2m_n": 0,
        "m2l_nll": 0.0,
        "m2l_n": 0,
        "tok": 0,
        "tok_n": 0,
        "change": 0,
        "change_n": 0,
        "text": 0,
        "text_n": 0,
        "coarse": 0,
        "residual": 0,
    }
    paired = False
    ordered = sorted(examples, key=len)
    for k in range(0, len(ordered), EVAL_BATCH):
        batch = collate(ordered[k : k + EVAL_BATCH], vocab.pad, block_size)
        states, mask = text_states(text_encoder, batch)
        logits, _ = lm(batch.idx, batch.targets, batch.countdown, states, mask,
                       **batch.model_kwargs())  # fmt: skip
        nll = F.cross_entropy(
            logits.transpose(1, 2), batch.targets.clamp(min=0), reduction="none"
        )  # (B, T)
        hit = logits.argmax(-1) == batch.targets  # (B, T)
        valid = batch.targets >= 0
        coarse_hit = hit
        if batch.paired:  # a frame's token is right when both of its codes are
            paired = True
            coarse, residual = batch.residual_targets(vocab.motion_offset)
            at = residual >= 0
            residual_hit = torch.zeros_like(hit)
            if bool(at.any()):
                read = (batch.idx2[at], batch.idx[at])
                scores = lm.residual_logits(lm.last_states[at], coarse[at], *read)
                residual_hit[at] = scores.argmax(-1) == residual[at]
            hit = hit & (residual_hit | ~at)
        is_motion = motion[batch.targets.clamp(min=0)] & valid
        changes = is_motion & (batch.targets != batch.idx)  # the input holds the token before
        for row, task in enumerate(batch.tasks):
            sums[f"{task}_nll"] += float(nll[row][valid[row]].sum())
            sums[f"{task}_n"] += int(valid[row].sum())
            if task == "l2m":
                if paired:
                    sums["coarse"] += int(coarse_hit[row][is_motion[row]].sum())
                    sums["residual"] += int(residual_hit[row][is_motion[row]].sum())
                sums["tok"] += int(hit[row][is_motion[row]].sum())
                sums["tok_n"] += int(is_motion[row].sum())
                sums["change"] += int(hit[row][changes[row]].sum())
                sums["change_n"] += int(changes[row].sum())
            else:
                sums["text"] += int(hit[row][valid[row]].sum())
                sums["text_n"] += int(valid[row].sum())
    lm.train(was_training)

    def ratio(a: str, b: str) -> float:
        return sums[a] / sums[b] if sums[b] else float("nan")

    metrics = {
        "l2m_loss": ratio("l2m_nll", "l2m_n"),
        "m2l_loss": ratio("m2l_nll", "m2l_n"),
        "tok_acc": ratio("tok", "tok_n"),
        "tok_change_acc": ratio("change", "change_n"),
        "tok_repeat_share": 1.0 - ratio("change_n", "tok_n"),
        "text_acc": ratio("text", "text_n"),
    }
    if paired:
        metrics["tok_coarse_acc"] = ratio("coarse", "tok_n")
        metrics["tok_residual_acc"] = ratio("residual", "tok_n")
    return metrics


def weighted_loss(
    logits: torch.Tensor,
    batch: Batch,
    motion_ids: tuple[int, int],
    m2l_weight: float = 1.0,
    change_weight: float = 0.0,
) -> torch.Tensor:
    """The training loss: cross-entropy per target, weighted by task, plus a change term.

    Four in five motion targets repeat the token before them, so a plain mean spends most
    of its gradient on copying and little on the rare frames where the face moves on, which
    are the ones that carry the prompt. ``change_weight`` adds, at those frames, the
    cross-entropy of the right code among all codes but the repeat: it sharpens *which*
    face comes next without touching how likely a change is, so sampling keeps the data's
    pace (a plain up-weighting of changes would make the model change too often).

    Args:
        logits: (B, T, V) logits.
        batch: The batch (its ``idx`` holds the token before each target).
        motion_ids: ``[first, last)`` ids of the motion tokens.
        m2l_weight: Weight of a caption target relative to a motion target.
        change_weight: Weight of the change term (0 = off).

    Returns:
        Scalar loss: the weighted sum over targets divided by the sum of weights.
    """
    targets, idx = batch.targets.to(logits.device), batch.idx.to(logits.device)
    valid = targets >= 0
    nll = F.cross_entropy(logits.transpose(1, 2), targets.clamp(min=0), reduction="none")
    weights = valid.float()
    is_m2l = torch.tensor([t == "m2l" for t in batch.tasks], device=logits.device)
    weights[is_m2l] *= m2l_weight
    total = weights.sum().clamp_min(1.0)
    loss = (nll * weights).sum() / total
    if change_weight:
        lo, hi = motion_ids
        is_motion = valid & (targets >= lo) & (targets < hi) & (idx >= lo) & (idx < hi)
        change = is_motion & (targets != idx)  # (B, T)
        if bool(change.any()):
            rows = logits[change][:, lo:hi]  # (n, K) motion logits at the changes
            prev = idx[change] - lo
            rows = rows.scatter(1, prev[:, None], -torch.inf)  # no repeat: a change happened
            loss = loss + change_weight * F.cross_entropy(rows, targets[change] - lo,
                                                          reduction="sum") / total  # fmt: skip
    return loss
