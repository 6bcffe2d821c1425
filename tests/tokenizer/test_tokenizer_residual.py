"""The residual codebook: pairs of codes per frame, closer to the motion than one code."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from tdmm_lm.errors import InvalidInputError
from tdmm_lm.tokenizer import (
    MotionTokenizer,
    TokenizerConfig,
    TokenizerTrainConfig,
    train_tokenizer,
)
from tdmm_lm.tokenizer.data import load_split
from tdmm_lm.tokenizer.residual import ResidualQuantizer


def _clusters(n: int, dim: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, dim, generator=g)


def test_the_second_level_quantizes_what_the_first_leaves():
    z = _clusters(600, 4, 0)
    rvq = ResidualQuantizer(8, 8, 4, decay=0.9, dead_after=5)
    rvq.initialise(z, torch.Generator().manual_seed(1))
    rvq.eval()
    out = rvq(z.t()[None], torch.ones(1, 600, dtype=torch.bool))
    assert out.indices.shape == (1, 600, 2)
    coarse = rvq.embed(out.indices[..., 0])  # the first level alone
    both = rvq.embed(out.indices)
    assert torch.allclose(both, out.quantized, atol=1e-5)  # straight-through rounding
    error_one = (coarse[0].t() - z).pow(2).sum(1).mean()
    error_two = (both[0].t() - z).pow(2).sum(1).mean()
    assert error_two < 0.8 * error_one
    # assign gives the forward pass's codes (no switch cost: nearest codes at each level)
    assert torch.equal(rvq.assign(z[None], torch.ones(1, 600, dtype=torch.bool)), out.indices)


def test_a_third_level_quantizes_what_the_first_two_leave():
    z = _clusters(600, 4, 5)
    mask = torch.ones(1, 600, dtype=torch.bool)
    rvq = ResidualQuantizer(8, 8, 4, decay=0.9, dead_after=5, levels=2)
    rvq.initialise(z, torch.Generator().manual_seed(1))
    rvq.eval()
    out = rvq(z.t()[None], mask)
    assert out.indices.shape == (1, 600, 3)
    assert torch.allclose(rvq.embed(out.indices), out.quantized, atol=1e-5)
    two = rvq.first.embed(out.indices[..., 0]) + rvq.residual.embed(out.indices[..., 1])
    error_two = (two[0].t() - z).pow(2).sum(1).mean()
    error_three = (out.quantized[0].t() - z).pow(2).sum(1).mean()
    assert error_three < 0.8 * error_two
    assert torch.equal(rvq.assign(z[None], mask), out.indices)
    # A pair quantizer's weights keep their names: shipped tokenizers still load.
    pair = ResidualQuantizer(8, 8, 4, decay=0.9, dead_after=5)
    assert not any(name.startswith("finer") for name in pair.state_dict())


def test_training_updates_both_codebooks_and_reaches_the_encoder():
    z = _clusters(300, 4, 2).t()[None].requires_grad_(True)  # (1, D, N)
    rvq = ResidualQuantizer(6, 6, 4, decay=0.5, dead_after=5)
    rvq.initialise(z[0].t().detach(), torch.Generator().manual_seed(3))
    first, second = rvq.first.codebook.clone(), rvq.residual.codebook.clone()
    out = rvq(z, torch.ones(1, 300, dtype=torch.bool))
    assert not torch.equal(first, rvq.first.codebook)
    assert not torch.equal(second, rvq.residual.codebook)
    (out.quantized.sum() + out.commit_loss).backward()
    assert z.grad is not None and bool(z.grad.abs().sum() > 0)


def test_a_hold_factor_makes_residual_codes_change_with_the_coarse_ones():
    g = torch.Generator().manual_seed(4)
    # A slow walk: the coarse code changes now and then, the residual one flickers.
    walk = torch.cumsum(0.15 * torch.randn(400, 4, generator=g), 0)
    z, mask = walk[None], torch.ones(1, 400, dtype=torch.bool)
    rvq = ResidualQuantizer(16, 16, 4, decay=0.9, dead_after=5, switch_cost=0.5)
    rvq.initialise(walk, torch.Generator().manual_seed(5))
    rvq.eval()

    def changes(pairs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        changed = pairs[0, 1:] != pairs[0, :-1]  # (N-1, 2)
        return changed[:, 0], changed[:, 1]

    coarse_free, residual_free = changes(rvq.assign(z, mask))
    assert int((residual_free & ~coarse_free).sum()) > 10  # alone, the levels disagree
    rvq.hold_factor = 1e6
    pairs = rvq.assign(z, mask)
    coarse, residual = changes(pairs)
    assert torch.equal(coarse, coarse_free)  # the first level is untouched
    assert int((residual & ~coarse).sum()) == 0  # the residual code only moves with it
    assert torch.equal(rvq(z.transpose(1, 2), mask).indices, pairs)  # forward agrees
    rvq.train()  # training fits the codebooks with the levels switching independently
    assert torch.equal(changes(rvq.assign(z, mask))[1], residual_free)


def test_encoding_costs_apply_to_encode_in_either_mode(residual_run, tiny_corpus):
    out, _ = residual_run
    tok = MotionTokenizer.from_pretrained(out)
    params = load_split(tiny_corpus, "val").sequences(4)
    plain = tok.encode_batch(params)
    tok.quantizer.hold_factor = 50.0
    for level in (tok.quantizer.first, tok.quantizer.residual):
        level.encode_switch_cost = 10.0
    sticky = tok.encode_batch(params)

    def repeats(tokens: list[np.ndarray]) -> float:
        return float(np.mean(np.concatenate([(t[1:] == t[:-1]).all(1) for t in tokens])))

    assert repeats(sticky) > repeats(plain)
    tok.train()  # a tokenizer in training mode still encodes with the encoding costs
    assert all(np.array_equal(a, b) for a, b in zip(tok.encode_batch(params), sticky, strict=True))


@pytest.fixture(scope="module")
def residual_run(tiny_corpus, tmp_path_factory):
    out = tmp_path_factory.mktemp("tok_residual") / "tok"
    cfg = TokenizerTrainConfig.from_recipe(
        "tiny", corpus=str(tiny_corpus), output=str(out), steps=20, eval_interval=20,
        model={"residual_codebook_size": 32},
    )  # fmt: skip
    return out, train_tokenizer(cfg)


def test_a_residual_tokenizer_encodes_pairs_and_decodes_them(residual_run, tiny_corpus):
    out, report = residual_run
    tok = MotionTokenizer.from_pretrained(out)
    assert tok.codebooks == 2 and tok.residual_codebook_size == 32
    assert {"residual_codebook_usage", "residual_perplexity", "residual_repeat_rate"} <= set(report)
    # A pair holds only when both codes do.
    assert report["pair_repeat_rate"] <= min(report["repeat_rate"], report["residual_repeat_rate"])
    params = load_split(tiny_corpus, "val").sequences(1)[0]
    tokens = tok.encode(params)
    assert tokens.shape == (len(params), 2) and tokens.dtype == np.int64
    assert tokens[:, 0].max() < tok.codebook_size and tokens[:, 1].max() < 32
    assert tok.decode(tokens).shape == params.shape
    assert tok.encode_batch([params[:7], params])[1].shape == tokens.shape
    assert tok.encode(params[:0]).shape == (0, 2)


def test_a_residual_tokenizer_refuses_single_codes_and_out_of_range_pairs(residual_run):
    tok = MotionTokenizer.from_pretrained(residual_run[0])
    with pytest.raises(InvalidInputError, match=r"\(N, \*\(2,\)\)"):
        tok.decode(np.zeros(5, np.int64))
    with pytest.raises(InvalidInputError, match="codebook 2 must lie in"):
        tok.decode(np.array([[0, 32]]))


def test_residual_size_is_checked_and_the_recipe_has_one():
    with pytest.raises(ValueError, match="residual_codebook_size"):
        TokenizerConfig(residual_codebook_size=1)
    recipe = TokenizerTrainConfig.from_recipe("residual", corpus="C")
    assert recipe.model.codebooks == 2
    # The encoding costs reach both levels of the quantizer.
    sticky = dataclasses.replace(recipe.model, encode_switch_cost=3.0, residual_hold_factor=6.0)
    quantizer = MotionTokenizer(sticky).quantizer
    assert (quantizer.first.switch_cost, quantizer.residual.encode_switch_cost) == (2.0, 3.0)
    assert quantizer.hold_factor == 6.0
    assert TokenizerTrainConfig.from_recipe("release", corpus="C").model.codebooks == 1
    assert TokenizerConfig(residual_codebook_size=8, residual_levels=2).codebooks == 3
    assert TokenizerTrainConfig.from_recipe("residual3", corpus="C").model.codebooks == 3
    with pytest.raises(ValueError, match="residual_levels"):
        TokenizerConfig(residual_codebook_size=8, residual_levels=0)


def test_a_three_level_tokenizer_trains_encodes_and_decodes(tiny_corpus, tmp_path):
    cfg = TokenizerTrainConfig.from_recipe(
        "tiny", corpus=str(tiny_corpus), output=str(tmp_path / "tok"), steps=12,
        eval_interval=12, model={"residual_codebook_size": 16, "residual_levels": 2},
    )  # fmt: skip
    report = train_tokenizer(cfg)
    assert "level3_codebook_usage" in report
    tok = MotionTokenizer.from_pretrained(tmp_path / "tok")
    params = load_split(tiny_corpus, "val").sequences(1)[0]
    tokens = tok.encode(params)
    assert tokens.shape == (len(params), 3) and tokens[:, 2].max() < 16
    assert tok.decode(tokens).shape == params.shape
    with pytest.raises(InvalidInputError, match="codebook 3 must lie in"):
        tok.decode(np.array([[0, 0, 16]]))
