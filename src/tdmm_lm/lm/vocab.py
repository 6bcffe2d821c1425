"""One vocabulary for text and motion.

The ids are laid out in four contiguous blocks, so that "is this a motion token?" is a range
test and the logits of one kind can be masked with a slice::

    [ specials | <len_1> … <len_MAX> | <m_0> … <m_{K-1}> | text subwords (byte-level BPE) ]
      0 …        len_offset            motion_offset      text_offset              size

* **Specials** mark the task and the structure of a sequence (:data:`SPECIALS`).
* **Length tokens** ``<len_S>`` tell the Language2Motion direction how many seconds to
  generate (whole seconds; the exact count of motion tokens is enforced by the generator).
* **Motion tokens** ``<m_k>`` are the codes of the motion tokenizer, one id per code.
* **Text subwords** come from a byte-level BPE trained with ``tokenizers`` on the training
  split's prompts and captions only, so that held-out wordings stay unseen. Byte-level means
  any string encodes, and ``decode(encode(s)) == s``.

A :class:`Vocab` is saved as one JSON file (``vocab.json``) that embeds the BPE model.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np

from tdmm_lm.errors import InvalidInputError

__all__ = ["MAX_LEN_SECONDS", "SPECIALS", "VOCAB_FORMAT_VERSION", "Vocab", "train_vocab"]

VOCAB_FORMAT_VERSION = 1
#: Structural tokens. ``<txt>`` is a placeholder whose embedding is replaced by a projected
#: state of the frozen sentence encoder (one placeholder per encoder token).
SPECIALS: tuple[str, ...] = ("<pad>", "<bos>", "<eos>", "<sep>", "<m2l>", "<l2m>", "<txt>")
#: Longest duration a ``<len_S>`` token can name; longer requests use ``<len_MAX>``.
MAX_LEN_SECONDS = 60
#: Smallest BPE vocabulary worth training (the 256 byte symbols plus some merges).
MIN_BPE_SIZE = 300


@dataclass(frozen=True)
class Vocab:
    """Token ids for specials, lengths, motion codes and text subwords.

    Attributes:
        codebook_size: Number of motion codes ``K``.
        bpe_json: The text tokenizer, serialised by ``tokenizers.Tokenizer.to_str()``.
    """

    codebook_size: int
    bpe_json: str

    def __post_init__(self) -> None:
        if self.codebook_size < 1:
            raise ValueError(f"codebook_size must be >= 1, got {self.codebook_size}")

    # -- layout -------------------------------------------------------------------------------

    @cached_property
    def _bpe(self) -> Any:
        from tokenizers import Tokenizer

        return Tokenizer.from_str(self.bpe_json)

    @property
    def len_offset(self) -> int:
        """Id of ``<len_1>``."""
        return len(SPECIALS)

    @property
    def motion_offset(self) -> int:
        """Id of ``<m_0>``."""
        return self.len_offset + MAX_LEN_SECONDS

    @property
    def text_offset(self) -> int:
        """Id of the first text subword."""
        return self.motion_offset + self.codebook_size

    @cached_property
    def text_size(self) -> int:
        """Number of text subwords."""
        return int(self._bpe.get_vocab_size())

    @property
    def size(self) -> int:
        """Total number of ids."""
        return self.text_offset + self.text_size

    def special(self, name: str) -> int:
        """Id of a special token, e.g. ``vocab.special("<eos>")``."""
        try:
            return SPECIALS.index(name)
        except ValueError:
            raise KeyError(f"unknown special {name!r}; valid: {', '.join(SPECIALS)}") from None

    pad = property(lambda self: self.special("<pad>"))
    bos = property(lambda self: self.special("<bos>"))
    eos = property(lambda self: self.special("<eos>"))
    sep = property(lambda self: self.special("<sep>"))
    m2l = property(lambda self: self.special("<m2l>"))
    l2m = property(lambda self: self.special("<l2m>"))
    txt = property(lambda self: self.special("<txt>"))

    def len_id(self, seconds: float) -> int:
        """Id of ``<len_S>`` for a duration, S = round(seconds) clipped to [1, MAX]."""
        whole = int(np.clip(round(seconds), 1, MAX_LEN_SECONDS))
        return self.len_offset + whole - 1

    # -- motion -------------------------------------------------------------------------------

    def motion_ids(self, codes: np.ndarray) -> np.ndarray:
        """Token ids of motion codes.

        Args:
            codes: (N,) integer codes in [0, K).

        Returns:
            (N,) int64 ids.
        """
        codes = np.asarray(codes, dtype=np.int64)
        if codes.size and (codes.min() < 0 or codes.max() >= self.codebook_size):
            raise InvalidInputError(
                f"motion codes must be in [0, {self.codebook_size}), got "
                f"[{codes.min()}, {codes.max()}]"
            )
        return codes + self.motion_offset

    def motion_codes(self, ids: np.ndarray) -> np.ndarray:
        """The motion codes of the motion ids in ``ids`` (others are dropped), (N,) int64."""
        ids = np.asarray(ids, dtype=np.int64)
        keep = (ids >= self.motion_offset) & (ids < self.text_offset)
        return ids[keep] - self.motion_offset

    # -- text ---------------------------------------------------------------------------------

    def encode_text(self, text: str) -> np.ndarray:
        """Token ids of a string, (N,) int64 (byte-level: every string encodes)."""
        ids = self._bpe.encode(text).ids
        return np.asarray(ids, dtype=np.int64) + self.text_offset

    def decode_text(self, ids: Iterable[int]) -> str:
        """The text of the text ids in ``ids``; other ids are skipped."""
        text_ids = [int(i) - self.text_offset for i in ids if int(i) >= self.text_offset]
        return self._bpe.decode(text_ids)

    def text_mask(self) -> np.ndarray:
        """(V,) bool, True on text ids."""
        mask = np.zeros(self.size, dtype=bool)
        mask[self.text_offset :] = True
        return mask

    def motion_mask(self) -> np.ndarray:
        """(V,) bool, True on motion ids."""
        mask = np.zeros(self.size, dtype=bool)
        mask[self.motion_offset : self.text_offset] = True
        return mask

    def token_name(self, token_id: int) -> str:
        """Readable name of one id (for debugging and tests)."""
        if token_id < self.len_offset:
            return SPECIALS[token_id]
        if token_id < self.motion_offset:
            return f"<len_{token_id - self.len_offset + 1}>"
        if token_id < self.text_offset:
            return f"<m_{token_id - self.motion_offset}>"
        return self._bpe.id_to_token(token_id - self.text_offset)

    # -- files --------------------------------------------------------------------------------

    def to_json(self) -> str:
        """Serialise (``vocab.json``)."""
        return json.dumps(
            {
                "format_version": VOCAB_FORMAT_VERSION,
                "specials": list(SPECIALS),
                "max_len_seconds": MAX_LEN_SECONDS,
                "codebook_size": self.codebook_size,
                "bpe": json.loads(self.bpe_json),
            }
        )

    @classmethod
    def from_json(cls, text: str) -> Vocab:
        """Read what :meth:`to_json` wrote; the layout must match this version's."""
        data = json.loads(text)
        if data.get("format_version") != VOCAB_FORMAT_VERSION:
            raise InvalidInputError(
                f"vocabulary format {data.get('format_version')}, this tdmm-lm reads "
                f"{VOCAB_FORMAT_VERSION}; retrain the model with this version"
            )
        if tuple(data["specials"]) != SPECIALS or data["max_len_seconds"] != MAX_LEN_SECONDS:
            raise InvalidInputError("vocabulary layout differs from this tdmm-lm's; retrain")
        return cls(codebook_size=int(data["codebook_size"]), bpe_json=json.dumps(data["bpe"]))


def train_vocab(texts: Sequence[str], codebook_size: int, bpe_size: int) -> Vocab:
    """Train the text side (byte-level BPE) on ``texts`` and build the whole vocabulary.

    Args:
        texts: Training texts (prompts, captions, instruction templates).
        codebook_size: Number of motion codes of the tokenizer.
        bpe_size: Target number of text subwords (>= 300: 256 bytes plus merges).

    Returns:
        The vocabulary.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    if bpe_size < MIN_BPE_SIZE:
        raise ValueError(f"bpe_size must be >= {MIN_BPE_SIZE}, got {bpe_size}")
    if not texts:
        raise InvalidInputError("no training texts to build the text vocabulary from")
    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=bpe_size,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),  # every byte: nothing is unknown
        show_progress=False,
    )
    bpe.train_from_iterator(texts, trainer=trainer)
    return Vocab(codebook_size=codebook_size, bpe_json=bpe.to_str())
