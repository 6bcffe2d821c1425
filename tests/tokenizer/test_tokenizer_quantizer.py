"""The EMA codebook: updates, dead-code reset, k-means++ init, eval mode."""

from __future__ import annotations

import itertools

import pytest
import torch

from tdmm_lm.tokenizer.quantizer import EMAQuantizer, kmeans_plus_plus, sticky_assign


def as_input(z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(M, D) vectors -> a (1, D, M) quantizer input and its (1, M) mask."""
    return z.t()[None], torch.ones(1, len(z), dtype=torch.bool)


def test_ema_moves_a_code_toward_its_vectors():
    q = EMAQuantizer(codebook_size=4, code_dim=2, decay=0.9, dead_after=100)
    q.codebook.copy_(torch.tensor([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0], [10.0, 10.0]]))
    q.ema_sum.copy_(q.codebook)
    target = torch.tensor([[1.0, 1.0]] * 8)
    for _ in range(50):
        out = q(*as_input(target))
    assert (out.indices == 0).all()
    assert torch.allclose(q.codebook[0], torch.tensor([1.0, 1.0]), atol=0.05)
    assert torch.allclose(q.codebook[3], torch.tensor([10.0, 10.0]))  # unused codes stay put


def test_dead_codes_are_revived_on_encoder_outputs():
    torch.manual_seed(0)
    q = EMAQuantizer(codebook_size=8, code_dim=2, decay=0.99, dead_after=3)
    q.codebook.copy_(torch.full((8, 2), 100.0))  # every code far from the data ...
    q.codebook[0] = 0.0  # ... except code 0, which takes every vector
    q.ema_sum.copy_(q.codebook)
    data = torch.randn(64, 2)
    generator = torch.Generator().manual_seed(0)
    for step in range(3):
        used = q(*as_input(data), generator=generator).counts > 0
        assert used.sum() == 1, f"step {step}: only code 0 is used before the reset"
    assert int(q.resets) == 7
    revived = q.codebook[1:]
    # Each revived code now sits on one of the batch's vectors ...
    assert all((data == code).all(1).any() for code in revived)
    # ... so the next batch spreads over many codes.
    counts = q(*as_input(data), generator=generator).counts
    assert (counts > 0).sum() >= 6


def test_eval_mode_does_not_update():
    q = EMAQuantizer(codebook_size=4, code_dim=2, decay=0.5, dead_after=1).eval()
    before = {k: v.clone() for k, v in q.state_dict().items()}
    q(*as_input(torch.randn(16, 2)))
    for key, value in q.state_dict().items():
        assert torch.equal(value, before[key]), key


def test_padding_is_ignored():
    q = EMAQuantizer(codebook_size=4, code_dim=2, decay=0.5, dead_after=100)
    z, mask = as_input(torch.randn(10, 2))
    mask[0, 5:] = False
    assert q(z, mask).counts.sum() == 5


def test_kmeans_plus_plus_finds_separated_clusters():
    generator = torch.Generator().manual_seed(0)
    centres = torch.tensor([[0.0, 0.0], [20.0, 0.0], [0.0, 20.0]])
    z = (centres[:, None] + 0.1 * torch.randn(3, 50, 2, generator=generator)).reshape(-1, 2)
    found = kmeans_plus_plus(z, 3, generator)
    distances = torch.cdist(centres, found).min(1).values
    assert (distances < 0.2).all()


def test_gradient_reaches_the_encoder_through_the_straight_through_estimator():
    q = EMAQuantizer(codebook_size=4, code_dim=2, decay=0.9, dead_after=100)
    z = torch.randn(1, 2, 6, requires_grad=True)
    out = q(z, torch.ones(1, 6, dtype=torch.bool))
    (out.quantized.sum() + out.commit_loss).backward()
    assert z.grad is not None and z.grad.abs().sum() > 0


def _path_cost(distances, path, switch_cost):
    picked = distances[torch.arange(len(path)), path].sum()
    return float(picked + switch_cost * (path[1:] != path[:-1]).sum())


def test_sticky_assign_finds_the_cheapest_path():
    g = torch.Generator().manual_seed(0)
    distances = torch.rand(1, 6, 3, generator=g)
    mask = torch.ones(1, 6, dtype=torch.bool)
    for switch_cost in (0.0, 0.2, 0.5, 5.0):
        path = sticky_assign(distances, mask, switch_cost)[0]
        brute = min(
            _path_cost(distances[0], torch.tensor(p), switch_cost)
            for p in itertools.product(range(3), repeat=6)
        )
        assert _path_cost(distances[0], path, switch_cost) == pytest.approx(brute)
    # A huge cost holds one code; no cost takes the nearest code everywhere.
    assert len(set(sticky_assign(distances, mask, 1e9)[0].tolist())) == 1
    assert torch.equal(sticky_assign(distances, mask, 0.0), distances.argmin(-1))


def test_sticky_assign_with_a_cost_per_position_finds_the_cheapest_path():
    g = torch.Generator().manual_seed(2)
    distances = torch.rand(1, 6, 3, generator=g)
    mask = torch.ones(1, 6, dtype=torch.bool)
    costs = torch.tensor([[0.0, 0.05, 2.0, 0.0, 0.3, 5.0]])  # a change into each frame

    def cost(path: tuple[int, ...]) -> float:
        changes = sum(float(costs[0, t]) for t in range(1, 6) if path[t] != path[t - 1])
        return sum(float(distances[0, t, k]) for t, k in enumerate(path)) + changes

    path = tuple(sticky_assign(distances, mask, costs)[0].tolist())
    assert cost(path) == pytest.approx(min(map(cost, itertools.product(range(3), repeat=6))))
    # Rows of a padded batch with their own costs take the paths they take alone.
    batch = torch.rand(3, 9, 4, generator=g)
    valid = torch.ones(3, 9, dtype=torch.bool)
    valid[1, 5:] = False
    row_costs = torch.rand(3, 9, generator=g)
    together = sticky_assign(batch, valid, row_costs)
    for row, n in ((0, 9), (1, 5), (2, 9)):
        alone = sticky_assign(batch[row : row + 1, :n], valid[row : row + 1, :n],
                              row_costs[row : row + 1, :n])  # fmt: skip
        assert torch.equal(together[row, :n], alone[0])


def test_sticky_assign_is_the_same_alone_and_in_a_padded_batch():
    g = torch.Generator().manual_seed(1)
    distances = torch.rand(3, 20, 8, generator=g)
    mask = torch.ones(3, 20, dtype=torch.bool)
    mask[1, 12:] = False
    mask[2, 5:] = False
    batch = sticky_assign(distances, mask, 0.3)
    for row, n in ((0, 20), (1, 12), (2, 5)):
        alone = sticky_assign(distances[row : row + 1, :n], mask[row : row + 1, :n], 0.3)
        assert torch.equal(batch[row, :n], alone[0])


def test_a_switch_cost_makes_the_token_stream_hold_still():
    q = EMAQuantizer(codebook_size=16, code_dim=2, decay=0.9, dead_after=100, switch_cost=4.0)
    q.eval()
    # A point wobbling between two codes: nearest-code flickers, sticky holds.
    q.codebook.copy_(torch.tensor([[0.0, 0.0], [1.0, 0.0]]).repeat(8, 1))
    q.codebook[2:] += 10.0
    q.distance_scale.fill_(0.05)
    wobble = 0.45 + 0.1 * torch.tensor([(-1.0) ** t for t in range(30)])
    z = torch.stack([wobble, torch.zeros(30)], -1)[None]  # (1, 30, 2)
    mask = torch.ones(1, 30, dtype=torch.bool)
    sticky = q.assign(z, mask)
    q.switch_cost = 0.0
    nearest = q.assign(z, mask)
    assert (nearest[0, 1:] != nearest[0, :-1]).sum() == 29
    assert (sticky[0, 1:] != sticky[0, :-1]).sum() == 0
    # An encoding cost applies in eval mode only; training keeps the fitting cost.
    q.encode_switch_cost = 4.0
    assert torch.equal(q.assign(z, mask), sticky)
    q.train()
    assert torch.equal(q.assign(z, mask), nearest)
