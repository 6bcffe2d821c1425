"""Start from a local Hugging Face checkpoint (``tdmm train --base-model DIR``).

Any causal (GPT-2, Llama, …) or sequence-to-sequence (T5, BART, …) checkpoint with a
tokenizer works. Its vocabulary is extended with this project's specials, length tokens and
motion tokens (the embeddings are resized), and its text tokenizer becomes the text side of
the vocabulary (:class:`HFVocab`). LoRA adapters (peft) are optional; the new embedding rows
and the output layer then stay fully trainable, since the motion tokens start from scratch.

:class:`HFBaseLM` gives the wrapped model the interface of
:class:`~tdmm_lm.lm.model.TdmmGPT`: ``forward(idx, targets) -> (logits, loss)`` on the
decoder-only layout of a batch, and ``generate``. For a sequence-to-sequence model, the
source of each row (everything before its first target) goes to the encoder and the target
to the decoder; the logits are put back at the decoder-only positions.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from tdmm_lm.errors import InvalidInputError, TdmmError
from tdmm_lm.lm.generate import forbid_early_eos, sample_next
from tdmm_lm.lm.vocab import MAX_LEN_SECONDS, SPECIALS

__all__ = ["HFBaseLM", "HFVocab", "load_base_model"]

log = logging.getLogger(__name__)

#: Default LoRA scaling numerator (alpha = 2 * rank is the common choice).
LORA_ALPHA_PER_RANK = 2


class HFVocab:
    """The vocabulary of a base model: its own text tokens, then the added tokens.

    Args:
        tokenizer: A Hugging Face tokenizer that already holds the added tokens (see
            :func:`extend_tokenizer`).
        codebook_size: Number of motion codes.
    """

    def __init__(self, tokenizer: Any, codebook_size: int) -> None:
        self.tokenizer = tokenizer
        self.codebook_size = codebook_size
        ids = tokenizer.convert_tokens_to_ids
        self._special = {name: ids(name) for name in SPECIALS}
        self.len_offset = ids("<len_1>")
        self.motion_offset = ids("<m_0>")
        self.size = len(tokenizer)
        expected = np.arange(codebook_size) + self.motion_offset
        if list(ids([f"<m_{k}>" for k in range(codebook_size)])) != expected.tolist():
            raise TdmmError("the base tokenizer's motion tokens are not contiguous")
        self.n_base = min(self._special.values())  # ids below are the base model's own

    def special(self, name: str) -> int:
        """Id of a special token."""
        return self._special[name]

    pad = property(lambda self: self._special["<pad>"])
    bos = property(lambda self: self._special["<bos>"])
    eos = property(lambda self: self._special["<eos>"])
    sep = property(lambda self: self._special["<sep>"])
    m2l = property(lambda self: self._special["<m2l>"])
    l2m = property(lambda self: self._special["<l2m>"])
    txt = property(lambda self: self._special["<txt>"])

    def len_id(self, seconds: float) -> int:
        """Id of ``<len_S>``."""
        return self.len_offset + int(np.clip(round(seconds), 1, MAX_LEN_SECONDS)) - 1

    def motion_ids(self, codes: np.ndarray) -> np.ndarray:
        """Token ids of motion codes (N,) -> (N,) int64."""
        return np.asarray(codes, dtype=np.int64) + self.motion_offset

    def motion_codes(self, ids: np.ndarray) -> np.ndarray:
        """Motion codes of the motion ids in ``ids``."""
        ids = np.asarray(ids, dtype=np.int64)
        keep = (ids >= self.motion_offset) & (ids < self.motion_offset + self.codebook_size)
        return ids[keep] - self.motion_offset

    def encode_text(self, text: str) -> np.ndarray:
        """Base-model token ids of a text, (N,) int64."""
        return np.asarray(self.tokenizer(text, add_special_tokens=False)["input_ids"], np.int64)

    def decode_text(self, ids: Any) -> str:
        """Text of the base-model ids in ``ids`` (added tokens are skipped)."""
        return self.tokenizer.decode([int(i) for i in ids if int(i) < self.n_base]).strip()

    def text_mask(self) -> np.ndarray:
        """(V,) bool, True on text ids."""
        mask = np.zeros(self.size, dtype=bool)
        mask[: self.n_base] = True
        return mask

    def motion_mask(self) -> np.ndarray:
        """(V,) bool, True on motion ids."""
        mask = np.zeros(self.size, dtype=bool)
        mask[self.motion_offset : self.motion_offset + self.codebook_size] = True
        return mask


def extend_tokenizer(tokenizer: Any, codebook_size: int) -> None:
    """Add the specials, ``<len_S>`` and ``<m_k>`` tokens (in that order) to a tokenizer."""
    names = [
        *SPECIALS,
        *(f"<len_{s}>" for s in range(1, MAX_LEN_SECONDS + 1)),
        *(f"<m_{k}>" for k in range(codebook_size)),
    ]
    missing = [n for n in names if n not in tokenizer.get_vocab()]
    tokenizer.add_tokens(missing, special_tokens=True)


def _hf_error(path: Path, e: Exception) -> InvalidInputError:
    return InvalidInputError(f"{path}: not a loadable Hugging Face checkpoint ({e})")


def load_base_model(path: str | Path, codebook_size: int) -> tuple[Any, Any, bool]:
    """Load a local Hugging Face checkpoint and extend its vocabulary.

    Args:
        path: Folder written by ``save_pretrained`` (model and tokenizer).
        codebook_size: Number of motion codes to add as tokens.

    Returns:
        (model with resized embeddings, extended tokenizer, is_seq2seq).
    """
    from transformers import (
        AutoConfig,
        AutoModelForCausalLM,
        AutoModelForSeq2SeqLM,
        AutoTokenizer,
    )

    path = Path(path)
    if not path.is_dir():
        raise InvalidInputError(f"--base-model {path}: no such folder")
    try:
        config = AutoConfig.from_pretrained(path, local_files_only=True)
        tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
        seq2seq = bool(getattr(config, "is_encoder_decoder", False))
        auto = AutoModelForSeq2SeqLM if seq2seq else AutoModelForCausalLM
        model = auto.from_pretrained(path, local_files_only=True)
    except (OSError, ValueError, KeyError) as e:
        raise _hf_error(path, e) from e
    extend_tokenizer(tokenizer, codebook_size)
    # mean_resizing=False: the new rows get the model's own init; the mean of a random
    # checkpoint's rows is no better, and the covariance fit is slow for big vocabularies.
    model.resize_token_embeddings(len(tokenizer), mean_resizing=False)
    return model, tokenizer, seq2seq


def add_lora(model: Any, rank: int) -> Any:
    """Wrap ``model`` with LoRA adapters of ``rank`` on every linear layer (peft).

    The input embeddings and the output layer are trained in full (``modules_to_save``):
    the motion-token rows are new.
    """
    try:
        from peft import LoraConfig, get_peft_model
    except ImportError as e:
        raise TdmmError("LoRA needs peft: pip install 'tdmm-lm[lora]' (or pip install peft)") from e
    names = {id(m): n for n, m in model.named_modules()}
    keep = [
        names[id(m)].split(".")[-1]
        for m in (model.get_input_embeddings(), model.get_output_embeddings())
        if m is not None and id(m) in names
    ]
    config = LoraConfig(
        r=rank,
        lora_alpha=LORA_ALPHA_PER_RANK * rank,
        target_modules="all-linear",
        modules_to_save=sorted(set(keep)),
    )
    return get_peft_model(model, config)


class HFBaseLM(nn.Module):
    """A Hugging Face model behind the :class:`~tdmm_lm.lm.model.TdmmGPT` interface.

    Args:
        model: The Hugging Face (or peft-wrapped) model.
        seq2seq: Whether it is an encoder-decoder model.
        pad_id: Padding id of the extended vocabulary.
    """

    def __init__(self, model: Any, seq2seq: bool, pad_id: int) -> None:
        super().__init__()
        self.hf = model
        self.seq2seq = seq2seq
        self.pad_id = pad_id

    def _split(self, idx: torch.Tensor, targets: torch.Tensor) -> tuple[list, list, list[int]]:
        """Per row: encoder source ids, decoder target ids, and where the target starts."""
        sources, labels, starts = [], [], []
        for row, tgt in zip(idx, targets, strict=True):
            where = (tgt >= 0).nonzero()
            start = int(where[0]) if len(where) else len(tgt)
            stop = int(where[-1]) + 1 if len(where) else len(tgt)
            sources.append(row[: start + 1])
            labels.append(tgt[start:stop])
            starts.append(start)
        return sources, labels, starts

    def forward(
        self,
        idx: torch.Tensor,
        targets: torch.Tensor | None = None,
        countdown: torch.Tensor | None = None,
        text_states: torch.Tensor | None = None,
        text_mask: torch.Tensor | None = None,
        cache: Any = None,
        summary: torch.Tensor | None = None,
        prefix: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Logits (B, T, V) on the decoder-only layout of ``idx`` and the loss.

        ``countdown``, the text prefix and the motion summary are not used: a base model
        reads ``<len_S>``, BPE prompts and motion tokens only. Nor is ``prefix``: a causal
        base model keeps its own attention, and a seq2seq one encodes the source both ways.
        """
        if not self.seq2seq or targets is None:
            out = self.hf(input_ids=idx).logits  # (B, T, V)
            if targets is None:
                return out[:, -1:], None
            loss = F.cross_entropy(
                out.reshape(-1, out.size(-1)), targets.reshape(-1), ignore_index=-1
            )
            return out, loss
        sources, labels, starts = self._split(idx, targets)
        src = nn.utils.rnn.pad_sequence(sources, batch_first=True, padding_value=self.pad_id)
        lab = nn.utils.rnn.pad_sequence(labels, batch_first=True, padding_value=-100)
        dec = self.hf(input_ids=src, attention_mask=src != self.pad_id, labels=lab).logits
        logits = dec.new_zeros(*idx.shape, dec.size(-1))  # (B, T, V)
        for b, (start, lab_row) in enumerate(zip(starts, labels, strict=True)):
            logits[b, start : start + len(lab_row)] = dec[b, : len(lab_row)]
        loss = F.cross_entropy(dec.reshape(-1, dec.size(-1)), lab.reshape(-1), ignore_index=-100)
        return logits, loss

    @torch.no_grad()
    def generate(
        self,
        idx: torch.Tensor,
        max_new_tokens: int,
        *,
        allowed: torch.Tensor | None = None,
        eos_id: int | None = None,
        min_new_tokens: int = 0,
        temperature: float = 1.0,
        top_k: int | None = None,
        top_p: float | None = None,
        generator: torch.Generator | None = None,
        use_cache: bool = True,
        change_temperature: float = 1.0,
        **_unused: Any,  # countdown / text prefix: not read by base models
    ) -> torch.Tensor:
        """Continue ``idx`` (B, T) by up to ``max_new_tokens``; see ``TdmmGPT.generate``."""
        b = idx.shape[0]
        if self.seq2seq:
            start = self.hf.config.decoder_start_token_id
            if start is None:
                start = self.pad_id
            encoder_out = self.hf.get_encoder()(input_ids=idx)
            dec = torch.full((b, 1), int(start), dtype=torch.long)
            step = lambda ids, past: self.hf(  # noqa: E731
                encoder_outputs=encoder_out,
                decoder_input_ids=ids,
                past_key_values=past,
                use_cache=use_cache,
            )
            seq = dec
        else:
            step = lambda ids, past: self.hf(  # noqa: E731
                input_ids=ids, past_key_values=past, use_cache=use_cache
            )
            seq = idx
        out = step(seq, None)
        new: list[torch.Tensor] = []
        done = torch.zeros(b, dtype=torch.bool)
        for i in range(max_new_tokens):
            logits = forbid_early_eos(out.logits[:, -1], eos_id, i, min_new_tokens)
            nxt = sample_next(logits, temperature, top_k, top_p, allowed, generator,
                              seq[:, -1], change_temperature)  # fmt: skip
            new.append(nxt)
            seq = torch.cat([seq, nxt[:, None]], dim=1)
            if eos_id is not None:
                done |= nxt == eos_id
                if bool(done.all()):
                    break
            if i < max_new_tokens - 1:
                out = step(nxt[:, None], out.past_key_values) if use_cache else step(seq, None)
        generated = torch.stack(new, dim=1) if new else idx.new_zeros(b, 0)
        return torch.cat([idx, generated], dim=1)
