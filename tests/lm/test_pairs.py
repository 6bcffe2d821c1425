"""Code pairs: a two-level tokenizer's (coarse, residual) codes, one position per frame."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from tdmm_lm.errors import InvalidInputError
from tdmm_lm.lm.data import collate
from tdmm_lm.lm.model import GPTConfig, TdmmGPT
from tdmm_lm.lm.tasks import split_codes

V, OFFSET, K1, K2 = 50, 10, 20, 6


def paired_model(repetitive: bool = False) -> TdmmGPT:
    torch.manual_seed(0)
    model = TdmmGPT(
        GPTConfig(vocab_size=V, block_size=64, n_layer=2, n_head=2, d_model=32,
                  motion_offset=OFFSET, motion_codes=K1, residual_codes=K2)
    ).eval()  # fmt: skip
    if repetitive:  # favour echoing the input id and its residual code
        with torch.no_grad():
            model.lm_head.weight.copy_(model.tok_emb.weight * 3.0)
            model.residual_head[-1].weight.copy_(model.residual_in.weight * 3.0)
    return model


def motion_only() -> torch.Tensor:
    allowed = torch.zeros(V, dtype=torch.bool)
    allowed[OFFSET : OFFSET + K1] = True
    return allowed


def test_residual_codes_are_read_and_trained():
    model = paired_model().train()
    idx = torch.randint(OFFSET, OFFSET + K1, (4, 12))
    idx2 = torch.randint(0, K2, (4, 12))
    logits, _ = model(idx, all_logits=True, idx2=idx2)
    other, _ = model(idx, all_logits=True, idx2=(idx2 + 1) % K2)
    assert not torch.allclose(logits, other)  # the residual input reaches the states
    coarse = torch.roll(idx, -1, dims=1) - OFFSET
    residual = torch.roll(idx2, -1, dims=1)
    coarse[:, -1] = residual[:, -1] = -1  # no frame after the last one
    _, loss = model(idx, all_logits=True, idx2=idx2, residual_targets=(coarse, residual))
    assert abs(loss.item() - math.log(K2)) < 0.5  # near uniform at init
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    for _ in range(40):
        _, loss = model(idx, all_logits=True, idx2=idx2, residual_targets=(coarse, residual))
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < 0.5 * math.log(K2)


def test_the_copy_pointer_names_the_frames_own_residual_code():
    model = paired_model()
    states = torch.randn(3, 32)
    coarse = torch.tensor([4, 4, 7])
    previous = torch.tensor([5, -1, 5])  # the second position has no residual input
    current = torch.tensor([OFFSET + 4, OFFSET + 4, OFFSET + 4])  # the third changes code
    with torch.no_grad():
        model.residual_same.fill_(50.0)
        logits = model.residual_logits(states, coarse, previous, current)
        plain = model.residual_head(states + model.residual_cond(coarse))
    assert int(logits[0].argmax()) == 5  # the coarse code holds: copy the residual one
    torch.testing.assert_close(logits[1], plain[1])  # nothing to copy
    assert int(logits[2].argmax()) != 5 or int(plain[2].argmax()) == 5


def test_generated_pairs_match_recomputation_and_drafts():
    model = paired_model(repetitive=True)
    idx = torch.tensor([[1, 2, 3, 4]])
    kw = dict(countdown=torch.full_like(idx, -1), new_countdown=torch.arange(19, -1, -1),
              allowed=motion_only(), temperature=0.0)  # fmt: skip
    cached = model.generate(idx, 20, **kw)
    assert cached.shape == (1, 24, 2)
    assert (cached[0, :4, 1] == -1).all()  # the prompt has no residual codes
    codes = cached[0, 4:]
    assert ((codes[:, 0] >= OFFSET) & (codes[:, 0] < OFFSET + K1)).all()
    assert ((codes[:, 1] >= 0) & (codes[:, 1] < K2)).all()
    torch.testing.assert_close(model.generate(idx, 20, use_cache=False, **kw), cached)
    for draft in (1, 4):
        torch.testing.assert_close(model.generate(idx, 20, draft=draft, **kw), cached)
    two = torch.cat([idx, idx])
    guided = dict(kw, guidance=1.5, countdown=torch.full_like(two, -1))
    plain = model.generate(two, 20, **guided)
    torch.testing.assert_close(model.generate(two, 20, draft=3, **guided), plain)


def peaked_model(coarse: int, residual: int, p: float) -> TdmmGPT:
    """A paired model whose every step draws ``coarse`` and then ``residual`` with about
    probability ``p`` each: its final state is a constant (the last LayerNorm's bias)."""
    model = paired_model()
    with torch.no_grad():
        model.ln_f.weight.zero_()
        state = torch.randn(model.config.d_model)
        model.ln_f.bias.copy_(state)
        lift = math.log(p / (1 - p) * (K1 - 1))  # logit over the others' 0 for probability p
        model.lm_head.weight.zero_()
        model.lm_head.weight[OFFSET + coarse] = state * lift / state.square().sum()
        head = model.residual_head
        hidden = head[:-1](state + model.residual_cond.weight[coarse])
        head[-1].weight.zero_()
        head[-1].weight[residual] = (
            hidden * math.log(p / (1 - p) * (K2 - 1)) / hidden.square().sum()
        )
    return model


def test_drafted_pair_sampling_is_exact_in_distribution():
    model = peaked_model(coarse=3, residual=2, p=0.6)
    idx = torch.tensor([[OFFSET + 3]])
    kw = dict(allowed=motion_only(), temperature=1.0, idx2=torch.tensor([[2]]))

    def draw(draft: int, seed: int) -> torch.Tensor:
        gen = torch.Generator().manual_seed(seed)
        out = model.generate(idx, 2, draft=draft, generator=gen, **kw)[0, 1:]  # (2, 2)
        return torch.stack([out[:, 0] - OFFSET, out[:, 1]], dim=1)  # (frame, level)

    torch.testing.assert_close(draw(4, 7), draw(4, 7))
    n = 400
    plain = torch.stack([draw(0, s) for s in range(n)])  # (n, 2 frames, 2 levels)
    drafted = torch.stack([draw(4, 10_000 + s) for s in range(n)])

    def tv(a: torch.Tensor, b: torch.Tensor, k: int) -> float:
        p, q = (torch.bincount(x, minlength=k).float() / n for x in (a, b))
        return 0.5 * float((p - q).abs().sum())

    # The second frame is where a draft is tested: each code's law, and how often the
    # pair, or only its coarse code, repeats the first frame's.
    assert tv(plain[:, 1, 0], drafted[:, 1, 0], K1) < 0.15
    assert tv(plain[:, 1, 1], drafted[:, 1, 1], K2) < 0.1
    for same in (
        lambda x: (x[:, 1] == x[:, 0]).all(-1),
        lambda x: (x[:, 1, 0] == x[:, 0, 0]) & (x[:, 1, 1] != x[:, 0, 1]),
    ):
        assert abs(same(plain).float().mean() - same(drafted).float().mean()) < 0.08
    assert (drafted[:, 1] == drafted[:, 0]).all(-1).float().mean() > 0.08  # drafts are kept


def test_examples_and_batches_carry_the_residual_codes(tiny_model):
    builder = tiny_model.builder
    pairs = np.array([[0, 5], [0, 5], [3, 1]])
    assert split_codes(pairs)[1].tolist() == [5, 5, 1]
    assert split_codes(pairs[:, 0])[1] is None
    example = builder.l2m("a smile", pairs, 1.0)
    motion = example.codes2 >= 0
    assert example.codes2[motion].tolist() == [5, 5, 1]
    assert tiny_model.vocab.motion_codes(example.tokens[motion]).tolist() == [0, 0, 3]
    batch = collate([example], tiny_model.vocab.pad, 64)
    coarse, residual = batch.residual_targets(tiny_model.vocab.motion_offset)
    assert batch.paired and residual[residual >= 0].tolist() == [5, 5, 1]
    assert coarse[residual >= 0].tolist() == [0, 0, 3]
    caption = builder.m2l(pairs, "a smile")
    assert caption.codes2[caption.codes2 >= 0].tolist() == [5, 5, 1]
    with pytest.raises(ValueError, match=r"\(N,\) or \(N, 2\)"):
        split_codes(np.zeros((3, 3), dtype=np.int64))


@pytest.fixture(scope="module")
def paired_run(tiny_corpus, tiny_config, tmp_path_factory):
    """A tiny two-level tokenizer and a tiny language model trained on its code pairs."""
    from tdmm_lm.lm import load_model
    from tdmm_lm.lm.train import train_lm
    from tdmm_lm.tokenizer import TokenizerTrainConfig, train_tokenizer

    root = tmp_path_factory.mktemp("pairs")
    cfg = TokenizerTrainConfig.from_recipe(
        "tiny", corpus=str(tiny_corpus), output=str(root / "tok"), steps=30, eval_sequences=8,
        model={"codebook_size": 64, "residual_codebook_size": 16},
    )  # fmt: skip
    train_tokenizer(cfg)
    model_dir = train_lm(tiny_config(root / "lm", tokenizer=str(root / "tok")))
    return model_dir, load_model(model_dir)


def test_a_model_on_code_pairs_trains_animates_and_describes(paired_run):
    model_dir, model = paired_run
    assert model.lm.config.residual_codes == 16
    one = model.animate("a person smiles broadly", seconds=2.0, seed=3)
    assert one.params.shape == (50, 61) and np.isfinite(one.params).all()
    np.testing.assert_array_equal(
        model.animate("a person smiles broadly", 2.0, seed=3).params, one.params
    )
    codes = model.tokenizer.encode(one.params)
    assert codes.shape == (50, 2)
    assert isinstance(model.describe(one), str) and model.describe(one)
    tok = model.motion_token_accuracy(["a person smiles broadly"], [one.params])
    assert 0.0 <= tok <= 1.0
    log = (model_dir / "train_log.jsonl").read_text().splitlines()
    val = [line for line in log if '"val"' in line][-1]
    assert "tok_coarse_acc" in val and "tok_residual_acc" in val


def test_pair_accuracy_is_at_most_either_level(paired_run, tiny_corpus):
    from tdmm_lm.lm.data import eval_examples, load_clips
    from tdmm_lm.lm.objective import evaluate

    _, model = paired_run
    clips = load_clips(tiny_corpus, "val", model.tokenizer, model_dir_tok(paired_run), None)
    assert clips.codes[0].ndim == 2
    metrics = evaluate(model.lm, eval_examples(clips, model.builder, 4), model.vocab,
                       model.text_encoder)  # fmt: skip
    assert metrics["tok_acc"] <= min(metrics["tok_coarse_acc"], metrics["tok_residual_acc"])


def model_dir_tok(paired_run):
    return paired_run[0] / "tokenizer"


def test_a_base_model_refuses_code_pairs(paired_run, tiny_config, tmp_path):
    from tdmm_lm.lm.train import train_lm

    tok = model_dir_tok(paired_run)
    cfg = tiny_config(tmp_path / "run", tokenizer=str(tok), base_model=str(tmp_path / "hf"))
    with pytest.raises(InvalidInputError, match="pairs of codes"):
        train_lm(cfg)


def test_the_language_model_refuses_three_codes_a_frame(tiny_corpus, tiny_config, tmp_path):
    from tdmm_lm.lm.train import train_lm
    from tdmm_lm.tokenizer import TokenizerTrainConfig, train_tokenizer

    tok = tmp_path / "tok3"
    train_tokenizer(TokenizerTrainConfig.from_recipe(
        "tiny", corpus=str(tiny_corpus), output=str(tok), steps=4, eval_interval=4,
        model={"residual_codebook_size": 8, "residual_levels": 2},
    ))  # fmt: skip
    with pytest.raises(InvalidInputError, match="3 codes a frame"):
        train_lm(tiny_config(tmp_path / "run", tokenizer=str(tok)))


def test_bf16_autocast_trains_the_same_objective(paired_run, tiny_config, tmp_path):
    """The release's bf16 autocast (with code pairs, rotary positions and frame inputs) gives
    the float32 losses to bf16 rounding, and still saves float32 weights."""
    from safetensors import safe_open

    from tdmm_lm.lm.train import train_lm

    def losses(precision: str) -> list[float]:
        cfg = tiny_config(tmp_path / precision, tokenizer=str(model_dir_tok(paired_run)),
                          steps=4, log_every=1, eval_every=4, checkpoint_every=4, rope=True,
                          frame_inputs=True, precision=precision)  # fmt: skip
        out = train_lm(cfg)
        events = [json.loads(line) for line in (out / "train_log.jsonl").read_text().splitlines()]
        assert next(e for e in events if e["event"] == "start")["precision"] == precision
        with safe_open(str(out / "model.safetensors"), "pt") as weights:
            assert {weights.get_tensor(k).dtype for k in weights.keys()} == {torch.float32}
        return [e["loss"] for e in events if e["event"] == "train"]

    full, half = losses("fp32"), losses("bf16")
    assert len(full) == len(half) == 4 and all(math.isfinite(x) for x in half)
    np.testing.assert_allclose(half, full, rtol=0.03)


def test_precision_settings_resolve_and_refuse_unknown_values():
    from tdmm_lm.lm.recipes import TrainConfig, get_recipe, resolve_precision

    assert resolve_precision("fp32") == "fp32" and resolve_precision("bf16") == "bf16"
    assert resolve_precision("auto", "cpu") in ("fp32", "bf16")
    assert resolve_precision("auto", "mps") == "fp32"
    assert get_recipe("release").precision == "auto" and TrainConfig().precision == "fp32"
    with pytest.raises(ValueError, match="unknown precision 'fp16'"):
        TrainConfig(precision="fp16")
