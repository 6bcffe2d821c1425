"""The language model over text and motion tokens: a small decoder-only transformer.

Read top to bottom: the model and its ``generate``. Its shape is a
:class:`~tdmm_lm.lm.config.GPTConfig`; the blocks it stacks (attention with a KV cache, MLP)
are in :mod:`tdmm_lm.lm.blocks`, the residual head of code pairs in :mod:`tdmm_lm.lm.pairs`,
the code-feature input and output (and the output head) in :mod:`tdmm_lm.lm.code_features`,
and the decoding loops in :mod:`tdmm_lm.lm.generate` and :mod:`tdmm_lm.lm.drafting`.

Four inputs go beyond a plain GPT:

* **Countdown embedding.** Every position that holds (or predicts) a motion token also gets
  an embedding of how many motion tokens are still to come after it. Language2Motion then
  always knows how far into the clip it is, so "starts neutral, then smiles" lands in the
  right place for any requested length, and the clip ends exactly where asked. Positions
  that are not motion get a separate "not motion" embedding (index ``-1`` in the input).
* **Motion-code features.** When ``motion_feature_dim > 0``, each motion token also carries
  what it stands for (:meth:`~tdmm_lm.tokenizer.MotionTokenizer.code_features`: its code
  vector and the blendshapes and angles it decodes to), a fixed buffer, projected into the
  model on the way in and scored against on the way out. A token is then a face from the
  start ("smile at 0.8, head down 5 degrees") instead of an arbitrary id whose meaning the
  model must learn from a few thousand sightings, and captioning or choosing one is close
  to a linear read of those channels.
* **Text prefix.** When ``text_dim > 0``, each ``<txt>`` placeholder token is replaced by a
  projected token state of the frozen sentence encoder (:mod:`tdmm_lm.lm.text`), in order.
* **Code pairs.** With a two-level tokenizer (``residual_codes > 0``) a frame's token is a
  pair: its coarse code is the vocabulary id at the position, and its residual code rides
  along in a parallel input (``idx2``, -1 where there is none) whose embedding is added.
  The output layer names the coarse code; a small residual head then names the residual
  code from the same state and the coarse code it follows (teacher-forced in training,
  the sampled one in generation), plus a learned copy logit on the frame's own residual
  code: nearly nine in ten residual codes repeat the one before, and without that pointer
  the head had to carry a 1024-way identity through the whole stack to copy it (measured:
  5 % residual accuracy after 300 release steps, against 87 % for copying). One position
  per frame, so sequences, the KV cache and the countdown stay as they are (the design of
  RQ-Transformer's depth step, cut to two).

Generation takes a batch of prompts of different lengths by padding them on the left: the
padding is masked out of attention and each row's positions count from its first real token,
so a row continues exactly as it would alone (up to float rounding).
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from tdmm_lm.artifacts import PretrainedMixin
from tdmm_lm.lm.blocks import Block, KVCache, attention_mask, rotary_angles
from tdmm_lm.lm.code_features import CodeFeaturesMixin
from tdmm_lm.lm.config import GPTConfig
from tdmm_lm.lm.described import DescribedMotionMixin
from tdmm_lm.lm.drafting import drafted_generate
from tdmm_lm.lm.generate import sample_loop
from tdmm_lm.lm.pairs import ResidualHeadMixin

__all__ = ["COUNTDOWN_NONE", "GPTConfig", "KVCache", "TdmmGPT"]

#: Countdown value of positions that are not motion.
COUNTDOWN_NONE = -1
#: Std of the weight initialisation (GPT-2's).
INIT_STD = 0.02


class TdmmGPT(
    DescribedMotionMixin, ResidualHeadMixin, CodeFeaturesMixin, PretrainedMixin, nn.Module
):
    """Decoder-only transformer over the joint text + motion vocabulary."""

    type_tag = "tdmm_gpt"
    config_class = GPTConfig

    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        self.config = config
        c = config
        self.tok_emb = nn.Embedding(c.vocab_size, c.d_model)
        # Rotary models place positions inside attention (blocks.rotary_angles) instead.
        self.pos_emb = None if c.rope else nn.Embedding(c.block_size, c.d_model)
        self.countdown_emb = nn.Embedding(c.max_countdown + 2, c.d_model)  # last = "none"
        self.text_proj = (
            nn.Sequential(nn.LayerNorm(c.text_dim), nn.Linear(c.text_dim, c.d_model))
            if c.text_dim
            else None
        )
        if c.motion_feature_dim:
            self._build_code_features(c)
        if c.aux_classes:  # per-token label heads (training only, see frame_labels)
            self.aux_norm = nn.LayerNorm(c.d_model, bias=c.bias)
            self.aux_heads = nn.ModuleList(nn.Linear(c.d_model, n) for n in c.aux_classes)
        if c.residual_codes:
            self._build_residual_head(c)
        #: Final-layer states of the last forward pass (B, T, C), for the residual head
        #: during generation; not kept in training.
        self.last_states: torch.Tensor | None = None
        #: (weights' stamp, folded output weight) of :meth:`_inference_head_weight`.
        self._head_cache: tuple[tuple, torch.Tensor] | None = None
        self.drop = nn.Dropout(c.dropout)
        self.blocks = nn.ModuleList(
            Block(c.d_model, c.n_head, c.dropout, c.bias) for _ in range(c.n_layer)
        )
        self.ln_f = nn.LayerNorm(c.d_model, bias=c.bias)
        self.lm_head = nn.Linear(c.d_model, c.vocab_size, bias=False)
        self.apply(self._init_weights)
        for name, p in self.named_parameters():
            if name.endswith(("attn.proj.weight", "mlp.down.weight")):
                # Residual branches are scaled down so the stream's variance does not grow
                # with depth (GPT-2).
                nn.init.normal_(p, mean=0.0, std=INIT_STD / math.sqrt(2 * c.n_layer))
        # The summary and frame inputs of Motion2Language (their own scaled initialisation).
        self._build_described_inputs(c, INIT_STD)
        if c.motion_feature_dim:
            self._init_code_features(c, INIT_STD)

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, mean=0.0, std=INIT_STD)
        if isinstance(module, nn.Linear) and module.bias is not None:
            nn.init.zeros_(module.bias)

    def train(self, mode: bool = True) -> TdmmGPT:
        """Set training mode (``eval()`` is ``train(False)``); forgets the decoding head."""
        self._head_cache = None
        return super().train(mode)

    def num_params(self) -> int:
        """Number of parameters."""
        return sum(p.numel() for p in self.parameters())

    def new_cache(self, batch: int) -> KVCache:
        """An empty KV cache for ``batch`` sequences of up to ``block_size`` tokens."""
        c = self.config
        return KVCache(c.n_layer, batch, c.n_head, c.block_size, c.d_model // c.n_head)

    def embed(
        self,
        idx: torch.Tensor,
        countdown: torch.Tensor | None,
        text_states: torch.Tensor | None,
        text_mask: torch.Tensor | None,
        start: int,
        pads: torch.Tensor | None = None,
        summary: torch.Tensor | None = None,
        idx2: torch.Tensor | None = None,
        frames: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Input embeddings of positions ``start … start+T-1``, (B, T, C).

        ``pads`` (B,) shifts each row's positions back by its left padding; ``summary``
        (B, S) is each row's motion summary, added at its summary token; ``idx2`` (B, T) the
        residual code at each position (-1 = none); ``frames`` (B, T, F) the parameters of
        each motion position to be described (NaN elsewhere; :mod:`tdmm_lm.lm.described`).
        """
        t = idx.shape[1]
        if start + t > self.config.block_size:
            raise ValueError(
                f"sequence of {start + t} tokens > block_size {self.config.block_size}"
            )
        x = self.tok_emb(idx)  # (B, T, C)
        c = self.config
        if c.motion_feature_dim:
            x = x + self.code_feature_input(idx)
        if c.residual_codes and idx2 is not None:
            x = x + self.residual_in(idx2.clamp(min=0)) * (idx2 >= 0)[..., None]
        x = self.add_described_inputs(x, idx, summary, frames)
        slots = idx == self.config.txt_token_id  # (B, T)
        if text_states is not None and self.text_proj is not None:
            prefix = self.text_proj(text_states[text_mask])  # (n_slots, C)
            assert prefix.shape[0] == int(slots.sum()), "one <txt> slot per encoder token"
            x = x.masked_scatter(slots[..., None], prefix.to(x.dtype))
        if countdown is None:
            countdown = torch.full_like(idx, COUNTDOWN_NONE)
        none = self.config.max_countdown + 1
        cd = torch.where(countdown < 0, none, countdown.clamp(max=self.config.max_countdown))
        if self.pos_emb is None:
            return self.drop(x + self.countdown_emb(cd))
        pos = torch.arange(start, start + t, device=idx.device)  # (T,)
        if pads is not None:
            pos = (pos[None] - pads[:, None]).clamp_min(0)  # (B, T)
        return self.drop(x + self.pos_emb(pos) + self.countdown_emb(cd))

    def forward(
        self,
        idx: torch.Tensor,
        targets: torch.Tensor | None = None,
        countdown: torch.Tensor | None = None,
        text_states: torch.Tensor | None = None,
        text_mask: torch.Tensor | None = None,
        cache: KVCache | None = None,
        all_logits: bool = False,
        head_rows: tuple[int, int] | None = None,
        summary: torch.Tensor | None = None,
        aux_targets: torch.Tensor | None = None,
        prefix: torch.Tensor | None = None,
        idx2: torch.Tensor | None = None,
        residual_targets: tuple[torch.Tensor, torch.Tensor] | None = None,
        aux_weight: float = 1.0,
        frames: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Next-token logits and the losses their targets define.

        Args:
            idx: (B, T) int64 token ids.
            targets: (B, T) int64 next-token ids, ``-1`` where no loss is taken.
            countdown: (B, T) int64 motion tokens still to come (``-1`` = not motion).
            text_states: (B, P, text_dim) float32 sentence-encoder states, for ``<txt>``.
            text_mask: (B, P) bool, True on the states that fill a ``<txt>`` slot.
            cache: A KV cache to read past positions from and append these to.
            all_logits: Return the logits of every position even without targets.
            head_rows: Without targets, score only the ids ``[lo, hi)`` and give the others
                -inf (decoding motion needs 512 of some 2000 output rows: a 4x smaller head).
            summary: (B, S) float32 motion summaries, read at the summary token
                (:mod:`tdmm_lm.lm.summary`).
            aux_targets: (B, T, H) int64 per-token labels for the auxiliary heads, ``-1``
                where no loss is taken (:mod:`tdmm_lm.lm.frame_labels`).
            prefix: (B,) int64 length of each row's source, read bidirectionally when the
                model is a prefix LM (``GPTConfig.prefix_lm``; ignored otherwise). Only on
                a call that starts the sequence (a pass after cached positions is causal).
            idx2: (B, T) int64 residual code of each position, -1 where none (models with
                ``residual_codes``).
            residual_targets: ``(coarse, residual)``, each (B, T) int64: the next frame's
                coarse code (0 … K-1) and residual code, -1 where no loss is taken.
            aux_weight: Weight of the auxiliary cross-entropy in ``loss``.
            frames: (B, T, F) float32 parameters of each motion position to be described,
                NaN elsewhere (models with ``frame_dim``; :mod:`tdmm_lm.lm.described`).

        Returns:
            ``(logits, loss)``: logits are (B, T, V) with targets or ``all_logits``, else
            (B, 1, V) for the last position only. ``loss`` is a scalar tensor: the mean
            cross-entropy of ``targets``, plus ``aux_weight`` times the mean over heads of
            the auxiliary cross-entropy given ``aux_targets``, plus the mean residual-code
            cross-entropy given ``residual_targets``; None with none of them.
        """
        start = cache.length if cache is not None else 0
        padded = cache is not None and cache.valid is not None
        pads = cache.pads if padded else None
        x = self.embed(idx, countdown, text_states, text_mask, start, pads, summary, idx2, frames)
        if not (self.config.prefix_lm and start == 0):
            prefix = None
        mask = None
        if padded or prefix is not None:
            valid = cache.valid if padded else None
            mask = attention_mask(idx.shape[1], start, prefix, valid)
        rope = None
        if self.config.rope:  # left padding shifts a row's positions alike: distances stay
            positions = torch.arange(start, start + idx.shape[1], device=idx.device)
            rope = rotary_angles(positions, self.config.d_model // self.config.n_head)
        aux_loss = None
        for i, block in enumerate(self.blocks):
            x = block(x, cache, i, mask, rope)
            if aux_targets is not None and i + 1 == self.config.aux_layer:
                aux_loss = self.aux_loss(x, aux_targets)
        if cache is not None:
            cache.length += idx.shape[1]
        x = self.ln_f(x)
        if not torch.is_grad_enabled():
            self.last_states = x
        side = [aux_weight * aux_loss] if aux_loss is not None else []
        if residual_targets is not None:
            side.append(self.residual_loss(x, *residual_targets, idx2, idx))
        side_loss = sum(side) if side else None
        if targets is None:
            x = x if all_logits else x[:, -1:]  # (B, T or 1, C)
            if head_rows is None:
                return self.head(x), side_loss  # (B, T or 1, V)
            lo, hi = head_rows
            logits = x.new_full((*x.shape[:2], self.config.vocab_size), -math.inf)
            logits[..., lo:hi] = self.head(x, lo, hi)
            return logits, side_loss
        logits = self.head(x)  # (B, T, V)
        loss = F.cross_entropy(
            logits.reshape(-1, logits.size(-1)), targets.reshape(-1), ignore_index=-1
        )
        return logits, loss if side_loss is None else loss + side_loss

    def aux_loss(self, x: torch.Tensor, aux_targets: torch.Tensor) -> torch.Tensor:
        """Mean over the auxiliary heads of their cross-entropy on (B, T, C) states."""
        if not self.config.aux_classes:
            raise ValueError("aux_targets given to a model without auxiliary heads")
        h = self.aux_norm(x)
        losses = []
        for k, head in enumerate(self.aux_heads):
            target = aux_targets[..., k].to(x.device)
            if bool((target >= 0).any()):
                logits = head(h)  # (B, T, n_k)
                losses.append(F.cross_entropy(logits.transpose(1, 2), target, ignore_index=-1))
        return torch.stack(losses).mean() if losses else x.sum() * 0.0

    @torch.no_grad()
    def generate(
        self,
        idx: torch.Tensor,
        max_new_tokens: int,
        *,
        countdown: torch.Tensor | None = None,
        new_countdown: torch.Tensor | None = None,
        text_states: torch.Tensor | None = None,
        text_mask: torch.Tensor | None = None,
        allowed: torch.Tensor | None = None,
        eos_id: int | None = None,
        min_new_tokens: int = 0,
        temperature: float = 1.0,
        top_k: int | None = None,
        top_p: float | None = None,
        generator: torch.Generator | None = None,
        use_cache: bool = True,
        guidance: float | None = None,
        no_repeat_ngram: int = 0,
        draft: int = 0,
        valid: torch.Tensor | None = None,
        summary: torch.Tensor | None = None,
        idx2: torch.Tensor | None = None,
        change_temperature: float = 1.0,
        frames: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Continue ``idx`` by sampling up to ``max_new_tokens`` tokens.

        Args:
            idx: (B, T) int64 prompt ids; rows of different lengths are padded on the left
                and marked by ``valid``.
            max_new_tokens: Tokens to generate (fewer if every row produced ``eos_id``).
            countdown: (B, T) int64 countdown of the prompt positions.
            new_countdown: (max_new_tokens,) or (B, max_new_tokens) int64 countdown of each
                generated position (per row when 2-D).
            text_states: (B, P, text_dim) sentence-encoder states for the prompt's slots.
            text_mask: (B, P) bool mask of ``text_states``.
            allowed: (V,) bool, the ids that may be sampled (None = all).
            eos_id: Stop once every row has produced this id (it is kept in the output).
            min_new_tokens: ``eos_id`` may not be drawn before this many new tokens.
            temperature: Softmax temperature; 0 means greedy.
            top_k: Keep only the k most likely ids (None = all).
            top_p: Keep the smallest set of ids whose probability reaches p (None = all).
            generator: Random generator, for reproducible sampling.
            use_cache: Reuse past keys and values (fast) instead of recomputing them.
            guidance: Classifier-free guidance scale. ``idx`` then holds 2n rows: n prompts
                with their text, then the same n without it (same lengths); each step
                samples from ``uncond + guidance * (cond - uncond)`` and appends the id to
                both rows of a prompt.
            no_repeat_ngram: Never complete an n-gram the continuation already holds
                (0 = off); keeps greedy captions from looping.
            draft: Guess up to this many repeats of the last token per pass and keep them by
                speculative sampling (0 = off); the same distribution, fewer passes
                (:func:`~tdmm_lm.lm.drafting.drafted_generate`). Needs the cache, no
                ``eos_id``, no ``no_repeat_ngram`` and a single prompt.
            valid: (B, T) bool, False at the left padding of ``idx`` (None = no padding).
            summary: (B, S) motion summaries for the prompt's summary tokens.
            idx2: (B, T) int64 residual codes of the prompt, -1 where none (a model with
                ``residual_codes``; None means none anywhere).
            change_temperature: Temperature of the choice among the ids that change the
                last one, relative to ``temperature`` (1 = plain sampling); how often the
                last id changes stays as the model predicts it
                (:func:`~tdmm_lm.lm.generate.sample_change`).
            frames: (B, T, F) parameters of the prompt's motion positions, NaN elsewhere
                (a model with ``frame_dim``).

        Returns:
            (B, T + n) int64: the prompt followed by the n generated ids; for a model with
            ``residual_codes``, (B, T + n, 2) with each position's residual code (-1 where
            none) in the last column.
        """
        b, t = idx.shape
        if t + max_new_tokens > self.config.block_size:
            raise ValueError(
                f"prompt of {t} + {max_new_tokens} new tokens > block_size {self.config.block_size}"
            )
        if countdown is None:
            countdown = torch.full_like(idx, COUNTDOWN_NONE)
        if new_countdown is None:
            new_countdown = torch.full((max_new_tokens,), COUNTDOWN_NONE, dtype=torch.long)
        new_countdown = new_countdown.expand(b, max_new_tokens)  # (B, N)
        if guidance is not None and b % 2:
            raise ValueError(f"guidance needs rows with and without text, got {b} rows")
        padded = valid is not None and not bool(valid.all())
        if padded and not use_cache:
            raise ValueError("left-padded prompts need the KV cache")
        head_rows = _contiguous_range(allowed)
        prompts = b // 2 if guidance is not None else b
        paired = self.config.residual_codes > 0
        if paired and idx2 is None:
            idx2 = torch.full_like(idx, -1)
        if draft and use_cache and eos_id is None and not no_repeat_ngram and prompts == 1:
            return drafted_generate(
                self, idx, max_new_tokens, draft=draft, countdown=countdown,
                new_countdown=new_countdown[0], text_states=text_states, text_mask=text_mask,
                allowed=allowed, temperature=temperature, top_k=top_k, top_p=top_p,
                generator=generator, guidance=guidance, head_rows=head_rows, idx2=idx2,
                change_temperature=change_temperature,
            )  # fmt: skip
        return sample_loop(
            self, idx, max_new_tokens, countdown=countdown, new_countdown=new_countdown,
            text_states=text_states, text_mask=text_mask, allowed=allowed, eos_id=eos_id,
            min_new_tokens=min_new_tokens, temperature=temperature, top_k=top_k, top_p=top_p,
            generator=generator, use_cache=use_cache, guidance=guidance,
            no_repeat_ngram=no_repeat_ngram,
            valid=valid if padded else None, summary=summary, idx2=idx2, head_rows=head_rows,
            change_temperature=change_temperature, frames=frames,
        )  # fmt: skip


def _contiguous_range(allowed: torch.Tensor | None) -> tuple[int, int] | None:
    """``(lo, hi)`` when the allowed ids are exactly ``[lo, hi)``, else None."""
    if allowed is None:
        return None
    ids = allowed.nonzero().flatten()
    if len(ids) == 0 or int(ids[-1]) - int(ids[0]) + 1 != len(ids):
        return None
    return int(ids[0]), int(ids[-1]) + 1
