"""The frozen MiniLM encoder: read from the wheel, equal to the reference implementation."""

import pytest
import torch

from tdmm_lm.lm.text import MAX_TEXT_TOKENS, MINILM_DIM, load_minilm, minilm_dir

TEXTS = [
    "a person smiles broadly and nods twice",
    "On camera, the individual shows modest mirth and swivels their head leftward.",
]


def test_states_match_transformers_bert():
    transformers = pytest.importorskip("transformers")
    encoder = load_minilm()
    states, mask = encoder.encode(TEXTS)
    assert states.shape[-1] == MINILM_DIM
    reference = transformers.AutoModel.from_pretrained(minilm_dir()).eval()
    tok = transformers.AutoTokenizer.from_pretrained(minilm_dir())
    batch = tok(TEXTS, padding=True, return_tensors="pt")
    with torch.no_grad():
        expected = reference(**batch).last_hidden_state
    assert torch.equal(batch["attention_mask"].bool(), mask)
    torch.testing.assert_close(states[mask], expected[mask], atol=1e-4, rtol=1e-4)


def test_rows_without_text_and_truncation():
    encoder = load_minilm()
    ids = torch.tensor([[101, 2000, 102], [0, 0, 0]])
    mask = torch.tensor([[True, True, True], [False, False, False]])
    states, _ = encoder.states_for(ids, mask)
    assert torch.isfinite(states).all() and (states[1] == 0).all()
    assert encoder.states_for(ids[1:], mask[1:]) == (None, None)
    assert len(encoder.token_ids("word " * 500)) == MAX_TEXT_TOKENS


def test_sentence_encoder_pools_to_one_unit_vector_per_prompt():
    from tdmm_lm.lm.text import SentenceEncoder, load_text_encoder

    sentence = load_text_encoder("minilm_sentence")
    assert isinstance(sentence, SentenceEncoder)
    vectors = sentence.embed(TEXTS)
    assert vectors.shape == (2, MINILM_DIM)
    torch.testing.assert_close(vectors.norm(dim=-1), torch.ones(2))
    # Paraphrases sit closer than unrelated prompts.
    near, far = sentence.embed(["a person grins widely", "someone frowns in anger"])
    assert float(vectors[0] @ near) > float(vectors[0] @ far)
    ids = torch.tensor([[101, 2000, 102], [0, 0, 0]])
    mask = torch.tensor([[True, True, True], [False, False, False]])
    states, slots = sentence.states_for(ids, mask)
    assert states.shape == (2, 1, MINILM_DIM)
    assert slots.tolist() == [[True], [False]]
    with pytest.raises(Exception, match="unknown text encoder"):
        load_text_encoder("glove")


def test_prompt_states_are_each_prompts_own_and_kept():
    from tdmm_lm.lm.text import SentenceEncoder

    encoder = load_minilm()
    rows = [tuple(encoder.token_ids(t)) for t in TEXTS]
    states, mask = encoder.prompt_states([rows[1], (), rows[0]])
    assert mask.tolist()[1] == [False] * mask.shape[1] and (states[1] == 0).all()
    for i, row in ((0, rows[1]), (2, rows[0])):
        ones = torch.ones(1, len(row), dtype=torch.bool)
        alone, _ = encoder.states_for(torch.tensor([row]), ones)
        assert int(mask[i].sum()) == len(row)
        assert torch.equal(states[i, : len(row)], alone[0])  # whatever else is in the batch
    # Kept: a later call reads the same tensor instead of encoding again.
    again, _ = encoder.prompt_states([rows[0]])
    assert torch.equal(again[0], states[2, : len(rows[0])])
    assert encoder.prompt_states([(), ()]) == (None, None)
    pooled, slots = SentenceEncoder(encoder).prompt_states([rows[0], ()])
    assert pooled.shape == (2, 1, MINILM_DIM) and slots.tolist() == [[True], [False]]
