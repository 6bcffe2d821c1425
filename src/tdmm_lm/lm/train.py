"""Train the language model on both tasks at once, with HF Accelerate.

``train_lm(cfg)`` is the whole run; it is built from named helpers (:func:`lr_at`,
:func:`get_batch`, :func:`~tdmm_lm.lm.objective.weighted_loss`,
:func:`~tdmm_lm.lm.objective.evaluate`, :func:`save_checkpoint`) and runs unchanged on one CPU
process or under ``accelerate launch`` on several processes, GPUs or machines: each process
draws its own batches, gradients are averaged by Accelerate's DDP wrapper.

The run folder (``cfg.output``) gets, in order: ``train_config.json`` (the resolved config,
before anything else), ``cache/`` (the tokenized corpus), ``vocab.json``,
``train_log.jsonl`` (one JSON object a line: train, val, checkpoint and end events, with
tokens per second and wall time), ``checkpoints/step-*/`` every ``checkpoint_every`` steps,
and finally the model itself (:meth:`~tdmm_lm.lm.api.TdmmModel.save`). ``resume=True``
continues from the newest checkpoint, so a kill loses at most one checkpoint interval.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from tdmm_lm.errors import InvalidInputError
from tdmm_lm.files import write_json_atomic, write_text_atomic
from tdmm_lm.lm.checkpoint import load_checkpoint, save_checkpoint
from tdmm_lm.lm.data import Batch, ClipSet, eval_examples, get_batch, load_clips
from tdmm_lm.lm.frame_labels import FRAME_LABEL_CLASSES
from tdmm_lm.lm.objective import evaluate, text_states, weighted_loss
from tdmm_lm.lm.recipes import TrainConfig, resolve_precision
from tdmm_lm.lm.run_dir import (
    CACHE_DIR,
    TRAIN_CONFIG_NAME,
    RunLog,
    check_run_dir,
    freeze_except,
    params_digest,
    start_from,
)
from tdmm_lm.memory import HeapTrimmer

__all__ = ["evaluate", "get_batch", "lr_at", "save_checkpoint", "train_lm"]

log = logging.getLogger(__name__)


def lr_at(step: int, cfg: TrainConfig) -> float:
    """Learning rate of ``step``: linear warm-up to ``lr``, then cosine decay to ``min_lr``."""
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    progress = (step - cfg.warmup_steps) / max(1, cfg.steps - cfg.warmup_steps)
    return cfg.min_lr + 0.5 * (cfg.lr - cfg.min_lr) * (1.0 + math.cos(math.pi * min(1.0, progress)))


def _build(cfg: TrainConfig, tokenizer: Any, train: ClipSet, out: Path, accelerator):
    """The vocabulary, the task builder, the text encoder and an untrained model."""
    from tdmm_lm.lm.storage import ModelConfig
    from tdmm_lm.lm.tasks import L2M_TEMPLATES, M2L_TEMPLATES, TaskBuilder

    if tokenizer.codebooks > 2:
        raise InvalidInputError(
            f"{cfg.tokenizer}: its tokens hold {tokenizer.codebooks} codes a frame; the "
            "language model reads one code or a pair, so train it with at most one residual level"
        )
    if cfg.base_model:
        from tdmm_lm.lm.hf_base import HFBaseLM, HFVocab, add_lora, load_base_model

        if tokenizer.codebooks != 1:
            raise InvalidInputError(
                f"{cfg.tokenizer}: its tokens are pairs of codes (a residual codebook); a "
                "base model reads one code per token, so train it with a one-codebook tokenizer"
            )

        hf, hf_tok, seq2seq = load_base_model(cfg.base_model, tokenizer.codebook_size)
        vocab = HFVocab(hf_tok, tokenizer.codebook_size)
        hf_dict = hf.config.to_dict()
        if cfg.lora_rank:
            hf = add_lora(hf, cfg.lora_rank)
        backend = "hf_seq2seq" if seq2seq else "hf_causal"
        model_cfg = ModelConfig(
            backend=backend,
            text_encoder="none",
            hf_config=hf_dict,
            change_temperature=cfg.change_temperature,
        )
        return vocab, TaskBuilder(vocab), None, HFBaseLM(hf, seq2seq, vocab.pad), model_cfg

    from tdmm_lm.lm.model import GPTConfig, TdmmGPT
    from tdmm_lm.lm.vocab import Vocab, train_vocab

    vocab_path = out / "vocab.json"
    with accelerator.main_process_first():  # the main process trains it, the others read it
        if vocab_path.exists():
            vocab = Vocab.from_json(vocab_path.read_text())
        elif cfg.init_from:  # its token ids must mean what they meant to the starting model
            source_vocab = Path(cfg.init_from) / "vocab.json"
            if not source_vocab.is_file():
                raise InvalidInputError(f"init_from {cfg.init_from}: no vocab.json in it")
            vocab = Vocab.from_json(source_vocab.read_text())
            if accelerator.is_main_process:
                write_text_atomic(vocab_path, vocab.to_json())
        else:
            templates = [t.replace("{text}", "") for t in L2M_TEMPLATES] + list(M2L_TEMPLATES)
            vocab = train_vocab(train.texts() + templates, tokenizer.codebook_size, cfg.bpe_size)
            if accelerator.is_main_process:
                write_text_atomic(vocab_path, vocab.to_json())
    from tdmm_lm.lm.text import MINILM_DIM, load_text_encoder

    encoder = load_text_encoder(cfg.text_encoder.value)
    frame_dim = train.frames[0].shape[1] if cfg.frame_inputs and train.frames else 0
    gpt_cfg = GPTConfig(
        vocab_size=vocab.size,
        block_size=cfg.block_size,
        n_layer=cfg.n_layer,
        n_head=cfg.n_head,
        d_model=cfg.d_model,
        dropout=cfg.dropout,
        text_dim=MINILM_DIM if encoder is not None else 0,
        txt_token_id=vocab.txt,
        max_countdown=cfg.block_size,
        motion_offset=vocab.motion_offset,
        motion_codes=tokenizer.codebook_size,
        motion_feature_dim=tokenizer.code_features().shape[1] if cfg.motion_features else 0,
        summary_token_id=vocab.sep if cfg.motion_summary else -1,
        summary_dim=train.summaries.shape[1] if cfg.motion_summary else 0,
        summary_source=cfg.summary_source.value,
        aux_classes=tuple(len(c) for c in FRAME_LABEL_CLASSES) if cfg.aux_weight else (),
        aux_layer=cfg.aux_layer,
        residual_codes=tokenizer.residual_codebook_size,
        prefix_lm=cfg.prefix_lm,
        frame_dim=frame_dim,
        rope=cfg.rope,
        frame_velocity=cfg.frame_velocity and frame_dim > 0,
    )
    model_cfg = ModelConfig(
        text_encoder=cfg.text_encoder.value,
        gpt=gpt_cfg.__dict__.copy(),
        guidance=cfg.guidance if cfg.prompt_dropout > 0 else 1.0,
        change_temperature=cfg.change_temperature,
    )
    lm = TdmmGPT(gpt_cfg)
    if cfg.motion_features:  # (K, F): every token's code vector and the face it decodes to
        lm.set_motion_features(torch.from_numpy(tokenizer.code_features()))
    if cfg.motion_summary:
        lm.set_summary_stats(torch.from_numpy(train.summaries))
    if gpt_cfg.frame_dim:
        lm.set_frame_stats(torch.from_numpy(np.concatenate(train.frames).astype(np.float32)))
    if gpt_cfg.frame_velocity:
        changes = np.concatenate([np.diff(f.astype(np.float32), axis=0) for f in train.frames])
        lm.set_frame_velocity_stats(torch.from_numpy(changes))
    builder = TaskBuilder.for_encoder(
        vocab, encoder, tokenizer.residual_codebook_size, frame_inputs=gpt_cfg.frame_dim > 0
    )
    return vocab, builder, encoder, lm, model_cfg


def make_optimizer(lm: torch.nn.Module, cfg: TrainConfig) -> torch.optim.Optimizer:
    """AdamW over the trainable weights; no weight decay on biases and norms (1-D tensors)."""
    trainable = [p for p in lm.parameters() if p.requires_grad]
    groups = [
        {"params": [p for p in trainable if p.dim() >= 2], "weight_decay": cfg.weight_decay},
        {"params": [p for p in trainable if p.dim() < 2], "weight_decay": 0.0},
    ]
    return torch.optim.AdamW(groups, lr=cfg.lr, betas=cfg.betas)


def _restore(checkpoint: Path, lm: torch.nn.Module, optimizer, accelerator) -> int:
    """Load a checkpoint into the (unwrapped) model and optimizer; return its step."""
    step, weights, opt_state, rng, _ = load_checkpoint(checkpoint)
    lm.load_state_dict(weights)
    optimizer.load_state_dict(opt_state)
    if rng.shape[0] == accelerator.num_processes:  # same world: each process its own stream
        torch.set_rng_state(rng[accelerator.process_index].clone())
    return step


def train_step(
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    batch: Batch,
    encoder: Any,
    accelerator: Any,
    cfg: TrainConfig,
    motion_ids: tuple[int, int],
    bf16: bool = False,
) -> torch.Tensor:
    """One optimisation step on ``batch``; returns the (detached) loss.

    With ``bf16`` the forward pass and the loss run under bfloat16 autocast (its backward
    follows); the weights, their gradients and the optimizer stay float32.
    """
    device = accelerator.device
    states, mask = text_states(encoder, batch)
    if states is not None:
        states, mask = states.to(device), mask.to(device)
    idx, targets, countdown = (t.to(device) for t in (batch.idx, batch.targets, batch.countdown))
    extra = {k: v.to(device) for k, v in batch.model_kwargs().items()}
    if cfg.aux_weight and not cfg.base_model and batch.aux_targets.shape[-1]:
        extra["aux_targets"] = batch.aux_targets.to(device)
        extra["aux_weight"] = cfg.aux_weight
    if batch.paired:
        coarse, residual = batch.residual_targets(motion_ids[0])
        extra["residual_targets"] = (coarse.to(device), residual.to(device))
    with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
        if cfg.base_model:
            logits, _ = model(idx, targets, countdown, states, mask, **extra)
            side_loss = None
        else:
            # Without targets the loss the model returns is the side terms alone (auxiliary
            # heads, residual codes): its own mean cross-entropy is not the objective,
            # weighted_loss is.
            logits, side_loss = model(idx, None, countdown, states, mask, all_logits=True, **extra)
        loss = weighted_loss(logits, batch, motion_ids, cfg.m2l_weight, cfg.change_weight)
        if side_loss is not None:
            loss = loss + side_loss
    accelerator.backward(loss)
    if cfg.grad_clip:
        accelerator.clip_grad_norm_(model.parameters(), cfg.grad_clip)
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    return loss.detach()


def train_lm(
    cfg: TrainConfig, resume: bool = False, progress: Callable[[int, int], None] | None = None
) -> Path:
    """Train (or resume) a language model run; return the model folder ``cfg.output``.

    Args:
        cfg: The run's config (see :mod:`tdmm_lm.lm.recipes`).
        resume: Continue from the newest checkpoint in ``cfg.output`` (if there is one).
        progress: Called with (steps done, total steps) after every step.

    Raises:
        InvalidInputError: The output folder holds another run (without ``resume``), or the
            corpus or tokenizer cannot be read.
    """
    from accelerate import Accelerator
    from accelerate.utils import DistributedDataParallelKwargs, gather_object

    from tdmm_lm.lm.api import TdmmModel
    from tdmm_lm.tokenizer import MotionTokenizer

    # Unused parameters are normal here: a batch may hold no prompt for the text projection.
    accelerator = Accelerator(
        kwargs_handlers=[DistributedDataParallelKwargs(find_unused_parameters=True)]
    )
    # bf16 is train_step's own autocast, not Accelerator(mixed_precision=...): Accelerate
    # keeps its precision in process-wide state that a second run in the same process (the
    # tests, a release) may not change, and the launcher's flag would override the recipe.
    precision = resolve_precision(cfg.precision, accelerator.device.type)
    if accelerator.device.type == "cpu":
        torch.set_num_threads(max(1, cfg.threads // accelerator.num_processes))
    out = Path(cfg.output)
    checkpoint = check_run_dir(cfg, resume)
    accelerator.wait_for_everyone()  # every process has checked before anything is written
    out.mkdir(parents=True, exist_ok=True)
    if accelerator.is_main_process:
        write_json_atomic(out / TRAIN_CONFIG_NAME, cfg.to_dict())
    run_log = RunLog(out, accelerator.is_main_process)
    torch.manual_seed(cfg.seed)

    tokenizer = MotionTokenizer.from_pretrained(cfg.tokenizer)
    corpus, tok_dir = Path(cfg.corpus), Path(cfg.tokenizer)
    with accelerator.main_process_first():  # the main process fills the cache
        source = cfg.summary_source.value
        train = load_clips(corpus, "train", tokenizer, tok_dir, out / CACHE_DIR, source)
        val = load_clips(corpus, "val", tokenizer, tok_dir, out / CACHE_DIR, source)
    if cfg.max_train_clips is not None:
        train = ClipSet(**{f.name: getattr(train, f.name)[: cfg.max_train_clips]
                           for f in dataclasses.fields(train)})  # fmt: skip
    if not len(train):
        raise InvalidInputError(f"{corpus}: the train split is empty")

    torch.manual_seed(cfg.seed)  # the same initial weights in every process
    vocab, builder, encoder, lm, model_cfg = _build(cfg, tokenizer, train, out, accelerator)
    model_cfg.max_motion_tokens = max(len(c) for c in train.codes)
    new_weights = None  # a resumed run's checkpoint holds every weight already
    if cfg.init_from and checkpoint is None:
        new_weights = start_from(lm, Path(cfg.init_from))
    trained = freeze_except(lm, cfg.train_only) if cfg.train_only else None
    optimizer = make_optimizer(lm, cfg)
    motion_ids = (vocab.motion_offset, vocab.motion_offset + tokenizer.codebook_size)
    start = 0
    if checkpoint is not None:
        start = _restore(checkpoint, lm, optimizer, accelerator)
        run_log.write("resume", start, checkpoint=checkpoint.name)
    else:
        n_params = sum(p.numel() for p in lm.parameters())
        run_log.write("start", 0, params=n_params, train_clips=len(train), val_clips=len(val),
                      vocab=vocab.size, processes=accelerator.num_processes,
                      precision=precision, trained_params=trained,
                      init_from=cfg.init_from, new_weights=new_weights)  # fmt: skip
    model, optimizer = accelerator.prepare(lm, optimizer)
    val_examples = eval_examples(val, builder, cfg.eval_clips)

    model.train()
    trim_heap = HeapTrimmer()
    tokens, tick, losses = 0, time.time(), []
    for step in range(start, cfg.steps):
        lr = lr_at(step, cfg)
        for group in optimizer.param_groups:
            group["lr"] = lr
        batch = get_batch(
            train, builder, step, seed=cfg.seed, rank=accelerator.process_index,
            batch_size=cfg.batch_size, block_size=cfg.block_size, l2m_fraction=cfg.l2m_fraction,
            pool_batches=cfg.pool_batches, prompt_dropout=cfg.prompt_dropout,
            motion_noise=cfg.motion_noise,
        )  # fmt: skip
        loss = train_step(
            model, optimizer, batch, encoder, accelerator, cfg, motion_ids, precision == "bf16"
        )
        trim_heap()  # batch shapes vary, so the heap fragments and only grows
        done = step + 1
        if progress is not None:
            progress(done, cfg.steps)
        tokens += batch.n_tokens * accelerator.num_processes
        losses.append(loss)
        if done % cfg.log_every == 0 or done == cfg.steps:
            mean = accelerator.reduce(torch.stack(losses).mean(), "mean")
            elapsed = time.time() - tick
            run_log.write(
                "train",
                done,
                loss=round(float(mean), 5),
                lr=lr,
                tokens_per_s=round(tokens / max(elapsed, 1e-9), 1),
            )
            tokens, tick, losses = 0, time.time(), []
        if done % cfg.eval_every == 0 or done == cfg.steps:
            if accelerator.is_main_process:
                metrics = evaluate(
                    accelerator.unwrap_model(model), val_examples, vocab, encoder, cfg.block_size
                )
                run_log.write("val", done, **{k: round(v, 5) for k, v in metrics.items()})
            tick = time.time()  # validation time is not training throughput
        if done % cfg.checkpoint_every == 0 or done == cfg.steps:
            rng = accelerator.gather(torch.get_rng_state()[None])  # (world, n)
            if accelerator.is_main_process:
                path = save_checkpoint(
                    out,
                    done,
                    accelerator.unwrap_model(model).state_dict(),
                    optimizer.state_dict(),
                    rng,
                )
                run_log.write("checkpoint", done, path=path.name)
            accelerator.wait_for_everyone()
            tick = time.time()

    final = accelerator.unwrap_model(model)
    digests = gather_object([params_digest(final)])
    run_log.write("sync", cfg.steps, digests=digests, in_sync=len(set(digests)) == 1)
    if accelerator.is_main_process:
        if cfg.lora_rank:  # ship a plain model: fold the adapters into the weights
            final.hf = final.hf.merge_and_unload()
        TdmmModel(final, vocab, tokenizer, model_cfg).save(out)
        run_log.write("end", cfg.steps, model=str(out), heap_trims=trim_heap.trims)
    accelerator.wait_for_everyone()
    accelerator.end_training()
    return out
