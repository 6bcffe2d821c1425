"""What a model folder holds, and how it is written and read.

A model folder is one artefact (:mod:`tdmm_lm.artifacts`) plus what it needs to run::

    MODELDIR/config.json          {"type": "tdmm_lm", "config": ModelConfig}
    MODELDIR/model.safetensors    the language model's weights
    MODELDIR/vocab.json           the vocabulary (own GPT) — or hf_tokenizer/ (base model)
    MODELDIR/tokenizer/           the motion tokenizer (its own artefact; a shipped baseline
                                  points at the release model's instead of a copy)
    MODELDIR/train_config.json    the training run's resolved config (run folders only)
    MODELDIR/train_log.jsonl      its log; MODELDIR/checkpoints/ its last checkpoint
    MODELDIR/evaluators/          the evaluators (release models; :mod:`tdmm_lm.eval`)
    MODELDIR/baselines/t2m_gpt/   the T2M-GPT-style baseline (release models)
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tdmm_lm.errors import InvalidInputError

__all__ = ["TYPE_TAG", "ModelConfig", "read_model", "save_model"]

TYPE_TAG = "tdmm_lm"


@dataclass
class ModelConfig:
    """What a model folder holds, beside the weights.

    Attributes:
        backend: ``"gpt"`` (own model), ``"hf_causal"`` or ``"hf_seq2seq"`` (base model).
        text_encoder: ``"minilm"``, ``"minilm_sentence"`` or ``"none"``
            (:func:`~tdmm_lm.lm.text.load_text_encoder`).
        gpt: The :class:`~tdmm_lm.lm.model.GPTConfig` as a dict (own model).
        hf_config: The Hugging Face config as a dict (base model).
        aliases: Weight names stored once because they share memory (tied embeddings).
        max_motion_tokens: Longest motion run seen in training, in tokens.
        temperature: Default sampling temperature of ``animate``.
        top_k: Default top-k of ``animate`` (0 = off).
        top_p: Default nucleus mass of ``animate`` (1 = off).
        guidance: Default classifier-free guidance scale of ``animate`` (1 = off; the model
            must have been trained with prompt dropout).
        change_temperature: Default temperature of ``animate``'s choice among the tokens
            that change the last one, relative to ``temperature`` (1 = plain sampling;
            :func:`~tdmm_lm.lm.generate.sample_change`).
        draft: Repeat drafts per pass when ``animate`` decodes (0 = one token a pass); the
            motion's distribution is the same, only faster (:mod:`tdmm_lm.lm.drafting`).
        tokenizer_dir: Where the motion tokenizer is, relative to the folder. A shipped
            baseline shares the release model's (``../../tokenizer``) rather than carry a
            byte-identical copy of it in the repository.
    """

    backend: str = "gpt"
    text_encoder: str = "none"
    gpt: dict[str, Any] | None = None
    hf_config: dict[str, Any] | None = None
    aliases: dict[str, str] = field(default_factory=dict)
    max_motion_tokens: int = 200
    # Plain sampling by default: motion repeats its last token with p ~ 0.9 at most steps,
    # so a nucleus (top_p < 1) or a cooler temperature cuts off the transitions that carry
    # the expression, and the face freezes (measured: smile and nod amplitudes fall 2-10x).
    temperature: float = 1.0
    top_k: int = 0
    top_p: float = 1.0
    guidance: float = 1.0
    change_temperature: float = 1.0
    # A pass reads every weight whatever its width, so on CPU a longer draft costs little
    # when refused (measured, release 6, 2-core EPYC: 4 s clips in 214 ms with 8 against 262
    # with 4; 12 was no faster, as motion changes every ~4 frames).
    draft: int = 8
    tokenizer_dir: str = "tokenizer"


def save_model(model: Any, directory: str | Path) -> Path:
    """Write a :class:`~tdmm_lm.lm.api.TdmmModel` folder atomically.

    Other files already in the folder (logs, checkpoints) are kept; the config is moved in
    last, so a folder with a ``config.json`` is always a complete model.
    """
    from tdmm_lm.artifacts import save_artifact
    from tdmm_lm.lm.checkpoint import split_shared

    target = Path(directory)
    staging = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.tmp")
    weights, aliases = split_shared(model.lm.state_dict())
    config = dataclasses.replace(model.config, aliases=aliases, tokenizer_dir="tokenizer")
    if config.backend != "gpt":  # as it is now: merging LoRA may have untied embeddings
        config.hf_config = model.lm.hf.config.to_dict()
    extra = {"vocab.json": model.vocab.to_json()} if config.backend == "gpt" else {}
    save_artifact(staging, type_tag=TYPE_TAG, config=config, weights=weights, extra_files=extra)
    try:
        model.tokenizer.save_pretrained(staging / "tokenizer")
        if config.backend != "gpt":
            model.vocab.tokenizer.save_pretrained(str(staging / "hf_tokenizer"))
        target.mkdir(parents=True, exist_ok=True)
        entries = sorted(staging.iterdir(), key=lambda p: p.name == "config.json")
        for entry in entries:
            dest = target / entry.name
            if dest.is_dir():
                shutil.rmtree(dest)
            os.replace(entry, dest)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def read_model(directory: str | Path) -> tuple[Any, Any, Any, ModelConfig]:
    """Read a model folder: (language model in eval mode, vocabulary, tokenizer, config).

    Raises:
        InvalidInputError: The folder is missing or not a tdmm-lm model.
    """
    from tdmm_lm.artifacts import load_artifact
    from tdmm_lm.tokenizer import MotionTokenizer

    path = Path(directory)
    if not path.is_dir():
        raise InvalidInputError(f"model folder {path} does not exist")
    config_dict, weights, _ = load_artifact(path, TYPE_TAG)
    config = ModelConfig(**config_dict)
    for alias, name in config.aliases.items():
        weights[alias] = weights[name]
    tokenizer_dir = path / config.tokenizer_dir
    if not tokenizer_dir.is_dir():
        raise InvalidInputError(f"{path}: its motion tokenizer {tokenizer_dir} is missing")
    tokenizer = MotionTokenizer.from_pretrained(tokenizer_dir)
    lm, vocab = _build_lm(path, config, tokenizer.codebook_size)
    lm.load_state_dict(weights)
    return lm.eval(), vocab, tokenizer, config


def _build_lm(path: Path, config: ModelConfig, codebook_size: int) -> tuple[Any, Any]:
    """An untrained language model and vocabulary shaped as ``config`` says."""
    if config.backend == "gpt":
        from tdmm_lm.lm.model import GPTConfig, TdmmGPT
        from tdmm_lm.lm.vocab import Vocab

        vocab = Vocab.from_json((path / "vocab.json").read_text())
        return TdmmGPT(GPTConfig(**(config.gpt or {}))), vocab
    from transformers import AutoConfig, AutoModelForCausalLM, AutoModelForSeq2SeqLM, AutoTokenizer

    from tdmm_lm.lm.hf_base import HFBaseLM, HFVocab

    hf_dict = dict(config.hf_config or {})
    hf_config = AutoConfig.for_model(hf_dict.pop("model_type"), **hf_dict)
    seq2seq = config.backend == "hf_seq2seq"
    auto = AutoModelForSeq2SeqLM if seq2seq else AutoModelForCausalLM
    tokenizer = AutoTokenizer.from_pretrained(path / "hf_tokenizer", local_files_only=True)
    vocab = HFVocab(tokenizer, codebook_size)
    return HFBaseLM(auto.from_config(hf_config), seq2seq, vocab.pad), vocab
