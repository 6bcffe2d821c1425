"""The transformer: shapes, loss, learning, KV cache, sampling, save/load."""

import math

import pytest
import torch

from tdmm_lm.lm.generate import block_repeats, draw, sample_next
from tdmm_lm.lm.model import GPTConfig, TdmmGPT

V = 50


def tiny(**overrides) -> TdmmGPT:
    torch.manual_seed(0)
    return TdmmGPT(
        GPTConfig(vocab_size=V, block_size=64, n_layer=2, n_head=2, d_model=32, **overrides)
    ).eval()


def test_forward_shapes_and_loss():
    model = tiny()
    idx = torch.randint(0, V, (3, 10))
    targets = torch.randint(0, V, (3, 10))
    targets[:, :4] = -1  # no loss on the source
    logits, loss = model(idx, targets)
    assert logits.shape == (3, 10, V)
    assert loss.ndim == 0 and abs(loss.item() - math.log(V)) < 0.5  # near uniform at init
    last, none = model(idx)
    assert last.shape == (3, 1, V) and none is None
    torch.testing.assert_close(last[:, 0], logits[:, -1])


def test_text_prefix_fills_slots():
    model = tiny(text_dim=8, txt_token_id=7)
    idx = torch.tensor([[1, 7, 7, 7, 2, 3], [1, 7, 2, 3, 4, 5]])
    states = torch.randn(2, 3, 8)
    mask = torch.tensor([[True, True, True], [True, False, False]])
    logits, _ = model(idx, torch.zeros_like(idx), text_states=states, text_mask=mask)
    assert logits.shape == (2, 6, V)
    other, _ = model(
        idx, torch.zeros_like(idx), text_states=torch.randn_like(states), text_mask=mask
    )
    assert not torch.allclose(logits, other)  # the states are read
    with pytest.raises(AssertionError):
        model(idx, text_states=states, text_mask=torch.ones(2, 3, dtype=torch.bool))


def test_loss_decreases_when_overfitting_one_batch():
    model = tiny().train()
    idx = torch.randint(0, V, (4, 16))
    targets = torch.roll(idx, -1, dims=1)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(30):
        _, loss = model(idx, targets)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]


@pytest.mark.parametrize("rope", [False, True])
@pytest.mark.parametrize("prefix_lm", [False, True])
@pytest.mark.parametrize("text", [False, True])
def test_kv_cache_matches_recomputation(text, prefix_lm, rope):
    model = tiny(text_dim=8 if text else 0, txt_token_id=7, prefix_lm=prefix_lm, rope=rope)
    idx = torch.tensor([[1, 7, 7, 3, 4]]) if text else torch.tensor([[1, 2, 3, 4, 5]])
    states = torch.randn(1, 2, 8) if text else None
    mask = torch.ones(1, 2, dtype=torch.bool) if text else None
    countdown = torch.tensor([[-1, -1, -1, -1, 12]])
    new_cd = torch.arange(11, -1, -1)
    allowed = torch.ones(V, dtype=torch.bool)
    allowed[7] = False  # generation never writes a <txt> slot
    kwargs = dict(
        countdown=countdown,
        new_countdown=new_cd,
        text_states=states,
        text_mask=mask,
        temperature=0.0,
        allowed=allowed,
    )
    cached = model.generate(idx, 12, use_cache=True, **kwargs)
    plain = model.generate(idx, 12, use_cache=False, **kwargs)
    assert cached.shape == (1, 17)
    torch.testing.assert_close(cached, plain)


def test_generate_respects_allowed_eos_and_seed():
    model = tiny()
    idx = torch.tensor([[1, 2, 3]])
    allowed = torch.zeros(V, dtype=torch.bool)
    allowed[10:20] = True
    out = model.generate(
        idx, 20, allowed=allowed, temperature=1.0, generator=torch.Generator().manual_seed(0)
    )
    assert ((out[0, 3:] >= 10) & (out[0, 3:] < 20)).all()
    again = model.generate(
        idx, 20, allowed=allowed, temperature=1.0, generator=torch.Generator().manual_seed(0)
    )
    torch.testing.assert_close(out, again)
    only_eos = torch.zeros(V, dtype=torch.bool)
    only_eos[4] = True
    stopped = model.generate(idx, 20, allowed=only_eos, eos_id=4)
    assert stopped.shape == (1, 4) and stopped[0, -1] == 4
    # The end may not come before min_new_tokens: with only one other id allowed, that id
    # fills the first positions whatever the model prefers.
    eos_or_ten = only_eos.clone()
    eos_or_ten[10] = True
    held = model.generate(idx, 20, allowed=eos_or_ten, eos_id=4, min_new_tokens=3,
                          temperature=0.0)  # fmt: skip
    assert (held[0, 3:6] == 10).all()
    with pytest.raises(ValueError, match="block_size"):
        model.generate(idx, 64)


def test_sampling_filters():
    logits = torch.tensor([[4.0, 3.0, 2.0, -5.0, -5.0]])
    gen = torch.Generator().manual_seed(0)
    assert sample_next(logits, temperature=0.0).item() == 0
    draws = {sample_next(logits, 1.0, top_k=2, generator=gen).item() for _ in range(200)}
    assert draws == {0, 1}
    # p(0) = 0.66, p(1) = 0.24: a nucleus of 0.5 keeps only the top id.
    draws = {sample_next(logits, 1.0, top_p=0.5, generator=gen).item() for _ in range(100)}
    assert draws == {0}
    draws = {sample_next(logits, 1.0, top_p=0.8, generator=gen).item() for _ in range(300)}
    assert draws == {0, 1}


def test_draw_follows_the_weights_and_never_draws_a_zero():
    weights = torch.tensor([[0.0, 1.0, 3.0, 0.0, 4.0]]).repeat(20000, 1)  # unnormalised
    ids = draw(weights, torch.Generator().manual_seed(0))
    share = torch.bincount(ids, minlength=5).float() / len(ids)
    torch.testing.assert_close(
        share, torch.tensor([0.0, 0.125, 0.375, 0.0, 0.5]), atol=0.01, rtol=0
    )
    again = draw(weights[:50], torch.Generator().manual_seed(0))
    torch.testing.assert_close(again, ids[:50])  # seeded: the same draws
    with pytest.raises(ValueError, match="zero or non-finite"):
        draw(torch.tensor([[0.0, 0.0]]))
    with pytest.raises(ValueError, match="zero or non-finite"):
        draw(torch.tensor([[math.nan, 1.0]]))


def test_change_temperature_cools_only_the_changes():
    # The last id (0) is kept with p = 0.5; the changes 1, 2, 3 share the rest as 4 : 2 : 1.
    logits = torch.log(torch.tensor([[0.5, 2 / 7, 1 / 7, 1 / 14, 0.0]])).repeat(4000, 1)
    last = torch.zeros(4000, dtype=torch.long)
    gen = torch.Generator().manual_seed(0)
    plain = sample_next(logits, 1.0, generator=gen, last=last, change_temperature=1.0)
    cooled = sample_next(logits, 1.0, generator=gen, last=last, change_temperature=0.05)
    for draws in (plain, cooled):
        assert abs((draws == 0).float().mean().item() - 0.5) < 0.03  # changes as often
    assert abs((plain == 1).float().mean().item() - 2 / 7) < 0.03
    assert (cooled[cooled != 0] == 1).float().mean().item() > 0.99  # to the likeliest change
    # A last id that may not be drawn (the prompt's last token): one plain draw.
    allowed = torch.tensor([False, True, True, True, True])
    first = sample_next(logits, 1.0, allowed=allowed, generator=gen, last=last,
                        change_temperature=0.05)  # fmt: skip
    assert 0.45 < (first == 1).float().mean().item() < 0.7  # 4/7, not ~1
    # Only the last id left by the filter: it is kept.
    kept = sample_next(logits[:5], 1.0, top_k=1, generator=gen, last=last[:5],
                       change_temperature=0.5)  # fmt: skip
    assert (kept == 0).all()


def test_rotary_attention_sees_only_distances():
    from tdmm_lm.lm.blocks import _rotate, rotary_angles

    q, k = torch.randn(1, 1, 1, 8), torch.randn(1, 1, 1, 8)

    def score(i: int, j: int) -> float:
        cos, sin = rotary_angles(torch.tensor([i, j]), 8)
        return float((_rotate(q, cos[:1], sin[:1]) * _rotate(k, cos[1:], sin[1:])).sum())

    assert score(3, 1) == pytest.approx(score(40, 38), abs=1e-5)
    assert score(3, 1) != pytest.approx(score(3, 2), abs=1e-3)


def test_save_load_round_trip(tmp_path):
    model = tiny(text_dim=8)
    model.save_pretrained(tmp_path / "gpt")
    again = TdmmGPT.from_pretrained(tmp_path / "gpt")
    assert again.config == model.config and not again.training
    for (name, a), (_, b) in zip(
        model.state_dict().items(), again.state_dict().items(), strict=True
    ):
        assert torch.equal(a, b), name


def test_config_validation():
    with pytest.raises(ValueError, match="n_head"):
        GPTConfig(d_model=30, n_head=4)
    with pytest.raises(ValueError, match="dropout"):
        GPTConfig(dropout=1.5)


def test_guidance_of_one_is_plain_conditional_sampling():
    model = tiny(text_dim=8, txt_token_id=7)
    idx = torch.tensor([[1, 7, 7, 3, 4], [1, 7, 7, 3, 4]])
    states = torch.randn(2, 2, 8)
    states[1] = 0.0  # the hidden prompt
    mask = torch.ones(2, 2, dtype=torch.bool)
    allowed = torch.ones(V, dtype=torch.bool)
    allowed[7] = False
    kw = dict(allowed=allowed, temperature=0.0)
    both = model.generate(idx, 10, text_states=states, text_mask=mask, guidance=1.0, **kw)
    alone = model.generate(idx[:1], 10, text_states=states[:1], text_mask=mask[:1], **kw)
    torch.testing.assert_close(both[0], alone[0])
    torch.testing.assert_close(both[0], both[1])
    strong = model.generate(idx, 10, text_states=states, text_mask=mask, guidance=5.0, **kw)
    assert strong.shape == both.shape
    with pytest.raises(ValueError, match="with and without text"):
        model.generate(idx[:1], 3, guidance=2.0)


def test_no_repeat_ngram_blocks_loops():
    logits = torch.zeros(1, 10)
    generated = torch.tensor([[1, 2, 3, 1, 2]])  # 1 2 -> 3 was seen: 3 is banned after "1 2"
    blocked = block_repeats(logits, generated, 3)
    assert blocked[0, 3] == -math.inf and torch.isfinite(blocked[0, [0, 1, 2, 4]]).all()
    assert torch.equal(block_repeats(logits, generated[:, :1], 3), logits)


def repetitive_model() -> TdmmGPT:
    """A tiny model whose next token is often the last one (like motion), with real spread."""
    model = tiny()
    with torch.no_grad():
        model.lm_head.weight.copy_(model.tok_emb.weight * 3.0)  # favour echoing the input id
    return model


@pytest.mark.parametrize("guided", [False, True])
def test_drafted_decoding_equals_plain_greedy(guided):
    model = repetitive_model()
    idx = torch.tensor([[1, 2, 3, 4]] * (2 if guided else 1))
    kw = dict(
        countdown=torch.full_like(idx, -1),
        new_countdown=torch.arange(29, -1, -1),
        temperature=0.0,
        guidance=1.5 if guided else None,
    )
    plain = model.generate(idx, 30, **kw)
    for draft in (1, 3, 8):
        torch.testing.assert_close(model.generate(idx, 30, draft=draft, **kw), plain)


@pytest.mark.parametrize("change_temperature", [1.0, 0.3])
def test_drafted_sampling_is_deterministic_and_exact_in_distribution(change_temperature):
    model = repetitive_model()
    idx = torch.tensor([[5, 6]])
    allowed = torch.zeros(V, dtype=torch.bool)
    allowed[5:15] = True
    kw = dict(allowed=allowed, temperature=1.0, top_p=0.95, change_temperature=change_temperature)

    def draw(draft: int, seed: int) -> torch.Tensor:
        gen = torch.Generator().manual_seed(seed)
        return model.generate(idx, 3, draft=draft, generator=gen, **kw)[0, 2:]

    torch.testing.assert_close(draw(4, 7), draw(4, 7))
    # The joint law of three tokens, drafted or not: total variation within sampling noise.
    n = 300
    plain = torch.stack([draw(0, s) for s in range(n)])
    drafted = torch.stack([draw(4, 10_000 + s) for s in range(n)])
    for position in range(3):
        p = torch.bincount(plain[:, position], minlength=V).float() / n
        q = torch.bincount(drafted[:, position], minlength=V).float() / n
        assert 0.5 * (p - q).abs().sum() < 0.12, position
    repeats = (drafted[:, 1:] == drafted[:, :-1]).float().mean()
    assert repeats > 0.2  # the drafts are actually kept, not always refused


def test_sliced_output_layer_is_exact():
    model = tiny()
    idx = torch.tensor([[1, 2, 3]])
    allowed = torch.zeros(V, dtype=torch.bool)
    allowed[20:30] = True  # a contiguous range: the head is sliced to it
    kw = dict(allowed=allowed, temperature=0.0)
    sliced = model.generate(idx, 15, use_cache=True, **kw)
    full = model.generate(idx, 15, use_cache=False, **kw)
    torch.testing.assert_close(sliced, full)
    last, _ = model(idx, head_rows=(20, 30))
    reference, _ = model(idx)
    torch.testing.assert_close(last[..., 20:30], reference[..., 20:30])
    assert torch.isinf(last[..., :20]).all()


@pytest.mark.parametrize("rope", [False, True])
@pytest.mark.parametrize("prefix_lm", [False, True])
def test_left_padded_prompts_continue_as_they_would_alone(prefix_lm, rope):
    model = tiny(text_dim=8, txt_token_id=7, prefix_lm=prefix_lm, rope=rope)
    rows = [[1, 7, 7, 3, 4], [1, 7, 3], [1, 2, 3, 4, 5, 6, 8]]
    g = torch.Generator().manual_seed(0)
    states = [torch.randn(sum(t == 7 for t in r), 8, generator=g) for r in rows]
    width, slots = max(map(len, rows)), max(len(s) for s in states)
    idx = torch.zeros(3, width, dtype=torch.long)
    valid = torch.zeros(3, width, dtype=torch.bool)
    padded_states = torch.zeros(3, slots, 8)
    text_mask = torch.zeros(3, slots, dtype=torch.bool)
    countdown = torch.full((3, width), -1)
    for i, (r, s) in enumerate(zip(rows, states, strict=True)):
        idx[i, width - len(r) :] = torch.tensor(r)
        valid[i, width - len(r) :] = True
        padded_states[i, : len(s)], text_mask[i, : len(s)] = s, True
        countdown[i, -1] = 6
    new_countdown = torch.arange(5, -1, -1)
    batch = model.generate(idx, 6, countdown=countdown, new_countdown=new_countdown,
                           text_states=padded_states, text_mask=text_mask, temperature=0.0,
                           valid=valid)  # fmt: skip
    for i, (r, s) in enumerate(zip(rows, states, strict=True)):
        alone = model.generate(
            torch.tensor([r]), 6, countdown=countdown[i : i + 1, width - len(r) :],
            new_countdown=new_countdown, text_states=s[None] if len(s) else None,
            text_mask=torch.ones(1, len(s), dtype=torch.bool) if len(s) else None,
            temperature=0.0,
        )  # fmt: skip
        torch.testing.assert_close(batch[i, width:], alone[0, len(r) :])


def test_guided_batches_pair_each_prompt_with_its_hidden_copy():
    model = tiny(text_dim=8, txt_token_id=7)
    idx = torch.tensor([[1, 7, 3, 4]] * 4)
    states = torch.randn(4, 1, 8)
    states[2:] = 0.0  # rows 2 and 3 hide the prompts of rows 0 and 1
    mask = torch.ones(4, 1, dtype=torch.bool)
    kw = dict(temperature=0.0, guidance=3.0)
    batch = model.generate(idx, 8, text_states=states, text_mask=mask, **kw)
    for i in (0, 1):
        pair = model.generate(idx[:2], 8, text_states=states[[i, i + 2]], text_mask=mask[:2], **kw)
        torch.testing.assert_close(batch[i], pair[0])
        torch.testing.assert_close(batch[i + 2], pair[0])


def test_motion_code_features_shape_the_motion_embeddings_and_scores():
    model = tiny(motion_offset=10, motion_codes=8, motion_feature_dim=3)
    features = torch.randn(8, 3)
    features[5] = features[4]  # two codes with the same vector
    model.set_motion_features(features)
    with torch.no_grad():
        model.tok_emb.weight[14:16] = 0.0  # only the features tell the two apart
    idx = torch.tensor([[1, 14], [1, 15]])
    logits, _ = model(idx)
    torch.testing.assert_close(logits[0], logits[1])  # same code vector, same next-token law
    with torch.no_grad():
        model.motion_in.weight.normal_()
    other = torch.tensor([[1, 14], [1, 16]])
    logits, _ = model(other)
    assert not torch.allclose(logits[0], logits[1])
    # The sliced head scores the motion rows as the full head does.
    full, _ = model(idx, all_logits=True)
    sliced, _ = model(idx, all_logits=True, head_rows=(10, 18))
    torch.testing.assert_close(sliced[..., 10:18], full[..., 10:18])
    with pytest.raises(ValueError, match="motion features"):
        tiny(motion_offset=45, motion_codes=8, motion_feature_dim=3)


def test_decoding_head_folds_the_code_features_and_follows_weight_changes():
    model = tiny(motion_offset=10, motion_codes=8, motion_feature_dim=3)
    model.set_motion_features(torch.randn(8, 3))
    x = torch.randn(2, 4, 32)
    trained = model.head(x)  # with autograd: the features are scored apart
    with torch.no_grad():
        torch.testing.assert_close(model.head(x), trained)
        torch.testing.assert_close(model.head(x, 10, 18), trained[..., 10:18])
        model.motion_out.weight.mul_(2.0)  # an optimiser step, in place: the cache is stale
        folded = model.head(x)
    torch.testing.assert_close(folded, model.head(x))
    assert not torch.allclose(folded, trained)
    state = {k: v.clone() for k, v in model.state_dict().items()}
    state["lm_head.weight"] += 1.0
    model.load_state_dict(state)  # new weights, loaded in place
    reference = model.head(x)  # with autograd: nothing cached
    with torch.no_grad():
        torch.testing.assert_close(model.head(x), reference)
        model.motion_out.weight.data.mul_(0.5)  # no version bump: train()/eval() forgets
    model.eval()
    reference = model.head(x)
    with torch.no_grad():
        torch.testing.assert_close(model.head(x), reference)
    with torch.inference_mode():  # weights made in inference mode have no version counter
        made = tiny(motion_offset=10, motion_codes=8, motion_feature_dim=3)
        torch.testing.assert_close(made.head(x), made.head(x))


def test_summary_enters_at_the_summary_token_only():
    sep = 3
    model = tiny(summary_token_id=sep, summary_dim=4)
    model.set_summary_stats(torch.randn(16, 4) * 5 + 2)
    idx = torch.tensor([[1, 4, 10, 10, 11, sep, 20], [1, 4, 10, 10, 11, sep, 20]])
    summary = torch.tensor([[0.0, 1.0, 2.0, 3.0], [3.0, 2.0, 1.0, 0.0]])
    x = model.embed(idx, None, None, None, 0, summary=summary)
    bare = model.embed(idx, None, None, None, 0)
    differs = (x - bare).abs().sum(-1) > 0  # (B, T)
    assert differs[:, 5].all() and differs.sum() == 2  # only at <sep>
    logits, _ = model(idx, all_logits=True, summary=summary)
    torch.testing.assert_close(logits[0, :5], logits[1, :5])  # nothing before <sep> sees it
    assert not torch.allclose(logits[0, 5:], logits[1, 5:])
    # Generation passes it to the prompt, cached or not.
    kw = {"max_new_tokens": 3, "temperature": 0.0, "summary": summary}
    cached, plain = model.generate(idx, **kw), model.generate(idx, use_cache=False, **kw)
    torch.testing.assert_close(cached, plain)


def test_frames_enter_at_their_own_positions_only():
    model = tiny(frame_dim=3, prefix_lm=True)
    model.set_frame_stats(torch.randn(32, 3) * 2 + 1)
    idx = torch.tensor([[1, 4, 10, 10, 11, 3]] * 2)
    frames = torch.full((2, 6, 3), float("nan"))
    frames[:, 2:5] = torch.randn(3, 3)  # the three motion positions
    frames[1, 3] = torch.tensor([5.0, -5.0, 0.0])  # one frame differs
    x = model.embed(idx, None, None, None, 0, frames=frames)
    bare = model.embed(idx, None, None, None, 0)
    differs = (x - bare).abs().sum(-1) > 0  # (B, T)
    assert differs[:, 2:5].all() and differs.sum() == 6  # nowhere else, NaN rows ignored
    assert ((x[0] - x[1]).abs().sum(-1) > 0).tolist() == [False, False, False, True, False, False]
    far = frames.clone()
    far[1, 3] = torch.tensor([1e6, -5.0, 0.0])  # a tracked outlier enters clipped
    assert torch.isfinite(model.embed(idx, None, None, None, 0, frames=far)).all()
    # Generation reads them with the prompt, cached or not.
    kw = {"max_new_tokens": 4, "temperature": 0.0, "frames": frames}
    cached, plain = model.generate(idx, **kw), model.generate(idx, use_cache=False, **kw)
    torch.testing.assert_close(cached, plain)


def test_frame_velocities_read_each_frames_change_from_the_one_before():
    model = tiny(frame_dim=3, prefix_lm=True, frame_velocity=True)
    model.set_frame_stats(torch.randn(32, 3))
    model.set_frame_velocity_stats(torch.randn(32, 3) * 0.1)
    idx = torch.tensor([[1, 4, 10, 10, 10, 3]])
    frames = torch.full((1, 6, 3), float("nan"))
    frames[0, 2:5] = torch.tensor([[0.0, 0.0, 0.0], [0.3, 0.0, 0.0], [0.3, 0.0, 0.0]])
    still = frames.clone()
    still[0, 2:5] = 0.3
    speed = model._frame_velocity_input(frames, torch.isfinite(frames).all(-1, keepdim=True),
                                        torch.float32)  # fmt: skip
    # Only the frame that moved has a change; the first frame and non-frames have none.
    assert ((speed.abs().sum(-1) > 0)[0]).tolist() == [False, False, False, True, False, False]
    held = model._frame_velocity_input(still, torch.isfinite(still).all(-1, keepdim=True),
                                       torch.float32)  # fmt: skip
    assert held.abs().sum() == 0
    # In the embedding: the same last pose reached by a move differs from one held.
    moved = model.embed(idx, None, None, None, 0, frames=frames)[0, 3]
    static = model.embed(idx, None, None, None, 0, frames=still)[0, 3]
    assert not torch.allclose(moved, static)
    with pytest.raises(ValueError, match="frame inputs"):
        tiny(frame_velocity=True)


def test_summary_outliers_are_clipped_and_the_source_is_checked():
    from tdmm_lm.lm.described import LIMIT_Z

    sep = 3
    model = tiny(summary_token_id=sep, summary_dim=2)  # stats: mean 0, std 1
    idx = torch.tensor([[1, sep]] * 3)
    # A value far out (a tracked video's saturated channel) enters as one at the limit.
    summary = torch.tensor([[LIMIT_Z, 0.0], [LIMIT_Z * 100, 0.0], [1.0, 0.0]])
    x = model.embed(idx, None, None, None, 0, summary=summary)
    torch.testing.assert_close(x[0], x[1])
    assert not torch.allclose(x[0], x[2])
    with pytest.raises(ValueError, match="summary_source"):
        GPTConfig(summary_source="frames")


def test_prefix_lm_reads_the_source_both_ways_and_the_target_causally():
    model = tiny(prefix_lm=True)
    idx = torch.randint(0, V, (1, 10))
    source = torch.tensor([6])
    changed = idx.clone()
    changed[0, 4] = (idx[0, 4] + 1) % V  # a late source token
    base, _ = model(idx, all_logits=True, prefix=source)
    after, _ = model(changed, all_logits=True, prefix=source)
    assert not torch.allclose(base[0, :4], after[0, :4])  # earlier source positions see it
    changed = idx.clone()
    changed[0, 8] = (idx[0, 8] + 1) % V  # a target token
    after, _ = model(changed, all_logits=True, prefix=source)
    torch.testing.assert_close(base[0, :8], after[0, :8])  # nothing before it does
    causal = tiny(prefix_lm=False)
    plain, _ = causal(idx, all_logits=True, prefix=source)  # a causal model ignores it
    torch.testing.assert_close(plain, causal(idx, all_logits=True)[0])


def test_prefix_lm_training_layout_scores_what_generation_produced():
    model = tiny(prefix_lm=True)
    idx = torch.tensor([[1, 2, 3, 4, 5]])
    out = model.generate(idx, 10, temperature=0.0)
    logits, _ = model(out, all_logits=True, prefix=torch.tensor([idx.shape[1]]))
    # Teacher forcing with the source as prefix predicts each greedy token from its past.
    torch.testing.assert_close(logits[0, 4:-1].argmax(-1), out[0, 5:])
