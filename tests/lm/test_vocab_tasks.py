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


def test_m2l_frames_sit_at_the_motion_positions(vocab):
    from tdmm_lm.lm.data import collate

    builder = TaskBuilder(vocab, frame_inputs=True)
    codes, frames = np.array([1, 2, 3]), np.arange(6, dtype=np.float32).reshape(3, 2)
    ex = builder.m2l(codes, "A smile.", 1, frames=frames)
    motion_at = np.flatnonzero(vocab.motion_mask()[ex.tokens])
    np.testing.assert_array_equal(ex.frames[motion_at], frames)
    assert np.isnan(np.delete(ex.frames, motion_at, axis=0)).all()
    batch = collate([ex, builder.l2m("a smile", codes, 1.0)], vocab.pad, block_size=64)
    assert batch.frames.shape == (2, batch.idx.shape[1], 2)
    np.testing.assert_array_equal(batch.frames[0, motion_at].numpy(), frames)
    assert batch.frames[1].isnan().all()  # Language2Motion has none
    assert "frames" in batch.model_kwargs()
    with pytest.raises(ValueError, match="frame inputs"):
        builder.m2l_source(codes, frames=frames[:2])


def test_token_frames_average_each_tokens_frames():
    from tdmm_lm.lm.summary import token_frames

    params = np.arange(10, dtype=np.float32).reshape(5, 2)
    np.testing.assert_array_equal(token_frames(params, 1, 5), params)
    np.testing.assert_array_equal(token_frames(params, 2, 3), [[1, 2], [5, 6], [8, 9]])
    assert token_frames(params[:0], 1, 0).shape == (0, 2)


def test_text_encoder_slots(vocab):
    builder = TaskBuilder(vocab, text_tokenizer=lambda text: [101, *range(len(text.split())), 102])
    ex = builder.l2m("one two three", np.array([0, 1]), 2.0)
    assert (ex.tokens == vocab.txt).sum() == len(ex.text_ids) == 5


def test_motion_noise_corrupts_inputs_only(vocab):
    builder = TaskBuilder(vocab)
    codes = np.arange(200) % K
    ex = builder.l2m("a smile", codes, 8.0)
    span = (vocab.motion_offset, vocab.motion_offset + K)
    noisy = ex.with_motion_noise(0.5, span, np.random.default_rng(0))
    np.testing.assert_array_equal(noisy.tokens, ex.tokens)  # the targets stay clean
    changed = noisy.inputs != ex.tokens
    assert 0.3 < changed[ex.n_source : -1].mean() < 0.5  # some draws repeat the true code
    assert not changed[: ex.n_source].any() and not changed[-1]
    assert vocab.motion_mask()[noisy.inputs[ex.n_source : -1]].all()


def test_collate_shifts_pads_and_masks_the_source(vocab):
    from tdmm_lm.lm.data import collate

    builder = TaskBuilder(vocab)
    short = builder.m2l(np.array([1, 2]), "A smile.")
    long = builder.l2m("a smile", np.arange(40) % K, 1.0)
    assert len(short) < len(long)
    noisy = long.with_motion_noise(
        0.9, (vocab.motion_offset, vocab.motion_offset + K), np.random.default_rng(1)
    )
    batch = collate([short, noisy], vocab.pad, block_size=64)
    assert batch.idx.shape == (2, len(long) - 1) and batch.n_tokens == len(short) + len(long) - 2
    np.testing.assert_array_equal(batch.idx[1].numpy(), noisy.inputs[:-1])
    np.testing.assert_array_equal(
        batch.targets[1, long.n_source - 1 :].numpy(), long.tokens[long.n_source :]
    )
    assert (batch.targets[1, : long.n_source - 1] == -1).all()
    assert (batch.idx[0, len(short) - 1 :] == vocab.pad).all()
    assert (batch.targets[0, len(short) - 1 :] == -1).all()
    assert batch.n_source.tolist() == [short.n_source, long.n_source]  # a prefix LM's source
    cropped = collate([long], vocab.pad, block_size=5)
    assert cropped.idx.shape == (1, 5) and cropped.n_source.tolist() == [5]


def test_motion_summary_statistics():
    from tdmm_lm.lm.summary import SUMMARY_STATS, summarise

    params = np.array([[0.0, 1.0], [1.0, 1.0], [0.5, 1.0]], dtype=np.float32)
    s = summarise(params).reshape(len(SUMMARY_STATS), 2)
    np.testing.assert_allclose(s, [[0.5, 1.0], [1.0, 1.0], [0.0, 1.0], [0.75, 0.0]])
    assert summarise(params[:1]).shape == (8,)  # one frame: no change
    with pytest.raises(ValueError):
        summarise(np.zeros((0, 2)))
