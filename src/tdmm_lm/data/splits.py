"""Which split a sample belongs to.

* ``test_unseen_combo``: every sample with an (emotion category, head motion) pair that is
  held out of training, in *any* of its segments, so training never sees the pair at all.
* ``test_unseen_phrasing``: samples whose prompt and captions use the held-out wordings of
  the prompt suite.
* ``train`` / ``val`` / ``test``: the rest, by a hash of the sample id (90 / 5 / 5 %), so the
  assignment does not depend on build order or worker count.
"""

from __future__ import annotations

import hashlib

from tdmm_lm.prompts.schema import HEAD_MOTIONS, PromptSpec

__all__ = ["TEST_FRACTION", "VAL_FRACTION", "assign_split", "held_out_combos"]

VAL_FRACTION = 0.05
TEST_FRACTION = 0.05
# One held-out head motion for every other category keeps about 5 % of (category, head)
# pairs unseen: enough to measure generalisation without starving training of either.
HELD_OUT_EVERY_NTH_CATEGORY = 2
HELD_OUT_HEAD_STRIDE = 3  # walk the head motions so each is held out for a few categories


def held_out_combos(categories: tuple[str, ...]) -> frozenset[tuple[str, str]]:
    """The (category, head motion) pairs reserved for ``test_unseen_combo``."""
    pairs = set()
    eligible = [c for c in categories if c != "neutral"]
    for i, category in enumerate(eligible):
        if i % HELD_OUT_EVERY_NTH_CATEGORY == 0:
            head = HEAD_MOTIONS[(i * HELD_OUT_HEAD_STRIDE + 1) % len(HEAD_MOTIONS)]
            pairs.add((category, head))
    return frozenset(pairs)


def _unit_hash(text: str) -> float:
    """A stable number in [0, 1) from a string."""
    digest = hashlib.blake2b(text.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") / 2.0**64


def assign_split(spec: PromptSpec, combos: frozenset[tuple[str, str]]) -> str:
    """The split of ``spec`` given the held-out ``combos``."""
    if any((s.emotion_category, s.head_motion) in combos for s in spec.labels.segments):
        return "test_unseen_combo"
    if spec.held_out_phrasing:
        return "test_unseen_phrasing"
    u = _unit_hash(spec.id)
    if u < VAL_FRACTION:
        return "val"
    if u < VAL_FRACTION + TEST_FRACTION:
        return "test"
    return "train"
