"""Shape of the language model (:class:`GPTConfig`), saved as its ``config.json``."""

from __future__ import annotations

from dataclasses import dataclass

from tdmm_lm.lm.summary import SummarySource

__all__ = ["GPTConfig"]


@dataclass
class GPTConfig:
    """Shape of the model. The defaults run a tiny model on CPU.

    Attributes:
        vocab_size: Number of token ids (:attr:`tdmm_lm.lm.vocab.Vocab.size`).
        block_size: Longest sequence, in tokens (text prefix included).
        n_layer: Transformer blocks.
        n_head: Attention heads; must divide ``d_model``.
        d_model: Width of the residual stream.
        dropout: Dropout on attention, residual and embeddings (0 = none).
        bias: Biases in linear layers and LayerNorms.
        text_dim: Width of the sentence-encoder states for ``<txt>`` slots (0 = no encoder).
        txt_token_id: Id of the ``<txt>`` placeholder.
        max_countdown: Largest countdown with its own embedding; larger ones are clipped.
        motion_offset: Id of the first motion token (its code is 0).
        motion_codes: Number of motion tokens K (0 = no motion-code features).
        motion_feature_dim: Width F of each motion token's code features (0 = none).
        summary_token_id: Id of the token that also carries a motion summary (the
            ``<sep>`` that ends Motion2Language's motion, see :mod:`tdmm_lm.lm.summary`).
        summary_dim: Width S of the motion summary (0 = none).
        summary_source: Which parameters the summary is computed from, a
            :class:`~tdmm_lm.lm.summary.SummarySource` value (models stored before the
            choice existed read their tokens').
        aux_classes: Classes of each per-token auxiliary label (empty = no auxiliary heads;
            see :mod:`tdmm_lm.lm.frame_labels`).
        aux_layer: Blocks after which the auxiliary heads read the stream. Below the top,
            so that the caption positions of the blocks above can attend to what they learn.
        residual_codes: K2, residual codes of a two-level tokenizer (0 = one code a frame).
        prefix_lm: Read each sequence's source (everything before the first target token)
            with bidirectional attention, as a prefix LM does; the target stays causal. In
            Motion2Language every motion token then sees the whole clip, which is what
            naming its emotion needs. False is the plain causal decoder (older models).
        frame_dim: F, width of the parameters of each motion token to be described, read at
            its position beside the token (0 = none; :mod:`tdmm_lm.lm.described`).
        frame_velocity: Also read each described frame's change from the frame before
            (needs ``frame_dim``; :mod:`tdmm_lm.lm.described`). False in models stored before
            it existed.
        rope: Rotary position embeddings in attention (RoFormer) instead of a learned
            embedding of absolute positions added to the input. A prompt's length moves
            where its motion starts, so with absolute positions "the frame one nod ago" is a
            different position pair in every example; with rotary ones attention sees how
            far back a frame is, which is what continuing a nod or a shake needs. False in
            models stored before it existed.
    """

    vocab_size: int = 512
    block_size: int = 384
    n_layer: int = 2
    n_head: int = 2
    d_model: int = 64
    dropout: float = 0.0
    bias: bool = True
    text_dim: int = 0
    txt_token_id: int = 6
    max_countdown: int = 400
    motion_offset: int = 0
    motion_codes: int = 0
    motion_feature_dim: int = 0
    summary_token_id: int = -1
    summary_dim: int = 0
    summary_source: str = "tokens"
    aux_classes: tuple[int, ...] = ()
    aux_layer: int = 1
    residual_codes: int = 0
    prefix_lm: bool = False
    frame_dim: int = 0
    rope: bool = False
    frame_velocity: bool = False

    def __post_init__(self) -> None:
        for name in ("vocab_size", "block_size", "n_layer", "n_head", "d_model", "max_countdown"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.d_model % self.n_head:
            raise ValueError(f"n_head ({self.n_head}) must divide d_model ({self.d_model})")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")
        self.aux_classes = tuple(int(n) for n in self.aux_classes)  # JSON gives a list
        if self.aux_classes and not (
            1 <= self.aux_layer <= self.n_layer and min(self.aux_classes) >= 2
        ):
            raise ValueError(
                f"need 1 <= aux_layer <= n_layer and >= 2 classes per auxiliary label, got "
                f"aux_layer={self.aux_layer}, aux_classes={self.aux_classes}"
            )
        if self.summary_source not in {m.value for m in SummarySource}:
            raise ValueError(f"unknown summary_source {self.summary_source!r}")
        if self.residual_codes < 0 or (self.residual_codes and self.motion_codes < 1):
            raise ValueError(
                f"residual codes need motion codes, got residual_codes={self.residual_codes}, "
                f"motion_codes={self.motion_codes}"
            )
        if self.text_dim < 0 or self.frame_dim < 0:
            raise ValueError(f"text_dim and frame_dim must be >= 0, got {self.text_dim}, "
                             f"{self.frame_dim}")  # fmt: skip
        if self.frame_velocity and not self.frame_dim:
            raise ValueError("frame_velocity needs frame inputs (frame_dim > 0)")
        if self.motion_feature_dim and not (
            self.motion_codes > 0 and 0 <= self.motion_offset <= self.vocab_size - self.motion_codes
        ):
            raise ValueError(
                f"motion features need motion_codes > 0 ids inside the vocabulary, got "
                f"{self.motion_codes} from {self.motion_offset} of {self.vocab_size}"
            )
