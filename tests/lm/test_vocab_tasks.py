"""The one vocabulary and the instruction templates of both tasks."""

import numpy as np
import pytest

from tdmm_lm.errors import InvalidInputError
from tdmm_lm.lm.model import COUNTDOWN_NONE
from tdmm_lm.lm.tasks import L2M_TEMPLATES, M2L_TEMPLATES, TaskBuilder
from tdmm_lm.lm.vocab import MAX_LEN_SECONDS, SPECIALS, Vocab, train_vocab

TEXTS = [
    "A face that starts neutral, then a strong smile while nodding twice.",
    "She looks faintly worried and tilts her head to the left, speaking the whole time.",
    "Close-up of a very repulsed look while tilting to the left, then blushing.",
] * 5
K = 16


@pytest.fixture(scope="module")
def vocab() -> Vocab:
    return train_vocab(TEXTS, codebook_size=K, bpe_size=320)


def test_layout_is_contiguous(vocab):
    assert vocab.len_offset == len(SPECIALS)
    assert vocab.motion_offset == vocab.len_offset + MAX_LEN_SECONDS
    assert vocab.text_offset == vocab.motion_offset + K
    assert vocab.size == vocab.text_offset + vocab.text_size
    assert vocab.token_name(vocab.eos) == "<eos>"
    assert vocab.token_name(vocab.len_id(4.2)) == "<len_4>"
    assert vocab.token_name(vocab.motion_offset + 3) == "<m_3>"
    assert vocab.motion_mask().sum() == K
    assert vocab.text_mask().sum() == vocab.text_size
    assert not (vocab.motion_mask() & vocab.text_mask()).any()


@pytest.mark.parametrize(
    "text", [TEXTS[0], "unseen wording: mirth, swivels, skyward!", "émoji 🙂 and tabs\t", ""]
)
def test_text_round_trip(vocab, text):
    ids = vocab.encode_text(text)
    assert (ids >= vocab.text_offset).all()
    assert vocab.decode_text(ids) == text


def test_motion_round_trip_and_range(vocab):
    codes = np.array([0, 5, K - 1, 2])
    ids = vocab.motion_ids(codes)
    assert ((ids >= vocab.motion_offset) & (ids < vocab.text_offset)).all()
    mixed = np.concatenate([[vocab.bos], ids, vocab.encode_text("hi")])
    np.testing.assert_array_equal(vocab.motion_codes(mixed), codes)
    with pytest.raises(InvalidInputError):
        vocab.motion_ids(np.array([K]))


def test_json_round_trip(vocab):
    again = Vocab.from_json(vocab.to_json())
    assert again.size == vocab.size
    np.testing.assert_array_equal(again.encode_text(TEXTS[1]), vocab.encode_text(TEXTS[1]))


def test_l2m_example_structure(vocab):
    builder = TaskBuilder(vocab)
    codes = np.arange(6) % K
    for template in range(len(L2M_TEMPLATES)):
        ex = builder.l2m("a person smiles", codes, 4.0, template)
        assert ex.tokens[0] == vocab.bos
        assert ex.tokens[ex.n_source - 2] == vocab.l2m
        assert ex.tokens[ex.n_source - 1] == vocab.len_id(4.0)
        np.testing.assert_array_equal(ex.tokens[ex.n_source : -1], vocab.motion_ids(codes))
        assert ex.tokens[-1] == vocab.eos
        # The countdown: N before the first motion token, then N-1 ... 0.
        np.testing.assert_array_equal(ex.countdown[ex.n_source - 1 :], [6, 5, 4, 3, 2, 1, 0, -1])
        assert (ex.countdown[: ex.n_source - 1] == COUNTDOWN_NONE).all()
        assert "a person smiles" in vocab.decode_text(ex.tokens)
    source = builder.l2m_source("a person smiles", 6, 4.0, 2)
    np.testing.assert_array_equal(
        source.tokens, builder.l2m("a person smiles", codes, 4.0, 2).tokens[: source.n_source]
    )


def test_m2l_example_structure(vocab):
    builder = TaskBuilder(vocab)
    codes = np.array([1, 2, 3])
    templates = set()
    for template in range(len(M2L_TEMPLATES)):
        ex = builder.m2l(codes, "A strong smile.", template)
        assert ex.tokens[ex.n_source - 1] == vocab.sep
        assert vocab.decode_text(ex.tokens[ex.n_source : -1]) == "A strong smile."
        np.testing.assert_array_equal(vocab.motion_codes(ex.tokens), codes)
        motion_at = np.flatnonzero(vocab.motion_mask()[ex.tokens])
        np.testing.assert_array_equal(ex.countdown[motion_at], [2, 1, 0])
        assert ex.countdown[motion_at[0] - 1] == 3
        templates.add(tuple(ex.tokens[: motion_at[0]]))
    assert len(templates) == len(M2L_TEMPLATES)  # every phrasing differs


def test_text_encoder_slots(vocab):
    builder = TaskBuilder(vocab, text_tokenizer=lambda text: [101, *range(len(text.split())), 102])
    ex = builder.l2m("one two three", np.array([0, 1]), 2.0)
    assert (ex.tokens == vocab.txt).sum() == len(ex.text_ids) == 5
