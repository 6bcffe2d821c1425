"""The tokenizer model: shapes, the NumPy API, ranges, locality, losses, config checks."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tdmm_lm.errors import InvalidInputError
from tdmm_lm.face import ARKIT
from tdmm_lm.tokenizer import MotionTokenizer, TokenizerConfig
from tdmm_lm.tokenizer.report import streaming_context


def random_motion(n_frames: int, seed: int = 0) -> np.ndarray:
    """Smooth-ish random arkit parameters inside the valid ranges, (T, 61) float32."""
    rng = np.random.default_rng(seed)
    walk = np.cumsum(rng.normal(0, 0.05, (n_frames, ARKIT.dim)), 0)
    unit = 0.5 + 0.4 * np.tanh(walk)
    return (ARKIT.low + unit * (ARKIT.high - ARKIT.low)).astype(np.float32) * 0.5


def untrained(rate: int = 1) -> MotionTokenizer:
    torch.manual_seed(0)
    return MotionTokenizer(TokenizerConfig(frames_per_token=rate)).eval()


@pytest.mark.parametrize("rate", [1, 2, 4])
def test_encode_decode_shapes_and_types(rate):
    tok = untrained(rate)
    assert (tok.codebook_size, tok.frames_per_token, tok.fps) == (64, rate, 25.0)
    for n_frames in (1, 50, 101):
        tokens = tok.encode(random_motion(n_frames))
        assert tokens.dtype == np.int64 and tokens.shape == (-(-n_frames // rate),)
        assert tokens.min() >= 0 and tokens.max() < tok.codebook_size
        params = tok.decode(tokens)
        assert params.dtype == np.float32 and params.shape == (len(tokens) * rate, 61)


def test_rate_two_gives_half_as_many_tokens():
    motion = random_motion(100)
    assert len(untrained(2).encode(motion)) * 2 == len(untrained(1).encode(motion)) == 100


def test_encode_batch_matches_encode_one_by_one():
    tok = untrained(2)
    sequences = [random_motion(n, seed=n) for n in (7, 120, 50, 51, 200, 3)]
    batched = tok.encode_batch(sequences, max_frames=256)  # forces several padded batches
    for seq, tokens in zip(sequences, batched, strict=True):
        np.testing.assert_array_equal(tokens, tok.encode(seq))


def test_decode_stays_in_arkit_ranges():
    tok = untrained()
    with torch.no_grad():  # push the output far out of range
        tok.decoder.out.bias.fill_(50.0)
    params = tok.decode(np.arange(tok.codebook_size))
    assert (params >= ARKIT.low).all() and (params <= ARKIT.high).all()
    assert params[:, :52].max() == 1.0


def test_bad_inputs_are_user_errors():
    tok = untrained()
    with pytest.raises(InvalidInputError, match="expected"):
        tok.encode(np.zeros((10, 58), np.float32))
    with pytest.raises(InvalidInputError, match="NaN"):
        tok.encode(np.full((10, 61), np.nan, np.float32))
    with pytest.raises(InvalidInputError, match="lie in"):
        tok.decode(np.array([0, 64]))
    with pytest.raises(InvalidInputError, match="integer"):
        tok.decode(np.zeros(3, np.float32))


def test_context_is_a_few_frames_so_tokens_stream():
    tok = MotionTokenizer(TokenizerConfig(depth=3))
    context = streaming_context(tok)
    assert 0 < context["encoder_frames"] <= 12 and 0 < context["decoder_frames"] <= 12
    # A change far away leaves a token alone.
    motion = random_motion(120)
    moved = motion.copy()
    moved[100:] = 0.0
    assert (tok.encode(motion)[:60] == tok.encode(moved)[:60]).all()


def test_loss_decreases_over_a_few_steps():
    torch.manual_seed(0)
    tok = MotionTokenizer(TokenizerConfig())
    x = torch.from_numpy(np.stack([random_motion(32, seed=s) for s in range(4)]))
    mask = torch.ones(4, 32, dtype=torch.bool)
    optimizer = torch.optim.AdamW(tok.parameters(), lr=3e-3)
    totals = []
    for _ in range(20):
        _, losses = tok(tok.normalise(x), mask)
        optimizer.zero_grad()
        losses.total.backward()
        optimizer.step()
        totals.append(float(losses.total.detach()))
    assert totals[-1] < 0.8 * totals[0]
    terms = {"total", "vertex", "angle", "param", "z_l1", "z_mse", "velocity", "commit"}
    assert set(losses.as_floats()) == terms


def test_a_lost_blink_costs_more_than_a_slight_error_everywhere():
    """Squared standardised error: of two misses with the same L1, the lost peak costs more."""
    only_z = dict(vertex_weight=0, angle_weight=0, param_weight=0, z_l1_weight=0,
                  velocity_weight=0, commit_weight=0)  # fmt: skip
    tok = MotionTokenizer(TokenizerConfig(**only_z))
    tok.set_stats(np.zeros(61, np.float32), np.full(61, 0.2, np.float32))
    x = torch.zeros(1, 40, 61)
    x[0, 20:24, 0] = 1.0 / 0.2  # a four-frame blink, in standard deviations
    mask = torch.ones(1, 40, dtype=torch.bool)
    missed = x.clone()
    missed[0, 20:24, 0] = 0.0
    spread = x.clone()
    spread[0, :, 0] += 0.1 / 0.2  # the blink channel 0.1 off in every frame: the same L1
    commit = torch.zeros(())
    lost, slight = tok.losses(missed, x, mask, commit), tok.losses(spread, x, mask, commit)
    torch.testing.assert_close(lost.z_l1, slight.z_l1)
    assert lost.z_mse > 5 * slight.z_mse


def test_masked_frames_do_not_count():
    tok = untrained()
    x = torch.randn(2, 16, 61)
    mask = torch.ones(2, 16, dtype=torch.bool)
    mask[1, 10:] = False
    _, a = tok(x * mask[..., None], mask)
    x2 = x.clone()
    x2[1, 10:] = 5.0  # garbage beyond the end of sequence 1
    _, b = tok(x2 * mask[..., None], mask)
    assert torch.equal(a.total, b.total)


@pytest.mark.parametrize(
    "bad",
    [
        {"frames_per_token": 3},
        {"codebook_size": 1},
        {"kernel": 4},
        {"ema_decay": 1.0},
        {"vertex_weight": -1.0},
    ],
)
def test_config_rejects_bad_values(bad):
    with pytest.raises(ValueError, match=str(next(iter(bad.values())))):
        TokenizerConfig(**bad)


def test_code_features_are_each_tokens_vector_and_held_face():
    tok = untrained()
    features = tok.code_features()
    d = tok.config.code_dim
    assert features.shape == (tok.codebook_size, d + ARKIT.dim)
    np.testing.assert_allclose(features[:, :d], tok.quantizer.codebook.numpy())
    held = tok.decode(np.full(25, 3))  # a long run of token 3: its middle frame is the face
    np.testing.assert_allclose(features[3, d:], held[12], rtol=1e-5, atol=1e-5)
    face = features[:, d:]
    assert (face >= ARKIT.low - 1e-6).all() and (face <= ARKIT.high + 1e-6).all()
