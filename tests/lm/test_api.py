"""The trained model: animate, describe, length control, determinism, save/load, errors."""

import json

import numpy as np
import pytest

from tdmm_lm.errors import InvalidInputError, TdmmError
from tdmm_lm.face import FaceSequence
from tdmm_lm.lm import TdmmModel, load_model
from tdmm_lm.lm import api as lm_api

PROMPT = "a person smiles broadly and nods twice"


@pytest.mark.parametrize("seconds", [0.04, 1.0, 2.5, 4.0])
def test_animate_gives_exactly_the_asked_frames(tiny_model, seconds):
    seq = tiny_model.animate(PROMPT, seconds=seconds, seed=1)
    assert isinstance(seq, FaceSequence)
    assert seq.space == "arkit" and seq.fps == tiny_model.fps
    assert seq.n_frames == round(seconds * tiny_model.fps)
    assert np.isfinite(seq.params).all()
    assert seq.meta["prompt"] == PROMPT


def test_animate_is_deterministic_given_the_seed(tiny_model):
    a = tiny_model.animate(PROMPT, seconds=2.0, seed=3)
    b = tiny_model.animate(PROMPT, seconds=2.0, seed=3)
    c = tiny_model.animate(PROMPT, seconds=2.0, seed=4)
    np.testing.assert_array_equal(a.params, b.params)
    assert not np.array_equal(a.params, c.params)
    greedy = [tiny_model.animate(PROMPT, seconds=1.0, seed=s, temperature=0.0) for s in (0, 1)]
    np.testing.assert_array_equal(greedy[0].params, greedy[1].params)
    # Trained with prompt dropout, so classifier-free guidance is on by default.
    assert tiny_model.config.guidance > 1.0
    plain = tiny_model.animate(PROMPT, seconds=1.0, seed=0, guidance=1.0)
    assert plain.n_frames == 25
    cooled = [tiny_model.animate(PROMPT, 2.0, seed=3, change_temperature=0.5) for _ in (0, 1)]
    np.testing.assert_array_equal(cooled[0].params, cooled[1].params)
    assert not np.array_equal(cooled[0].params, a.params)


def test_describe_returns_text_deterministically(tiny_model):
    seq = tiny_model.animate(PROMPT, seconds=2.0, seed=0)
    text = tiny_model.describe(seq)
    assert isinstance(text, str)
    assert text == tiny_model.describe(seq)
    # Another frame rate is resampled; a bare array is read at the model's frame rate.
    assert isinstance(tiny_model.describe(seq.resample(30.0)), str)
    assert isinstance(tiny_model.describe(seq.params), str)


def test_describe_long_sequences_window_by_window(tiny_model):
    long = int(tiny_model.max_seconds * tiny_model.fps) * 2 + 10
    params = np.zeros((long, 61), np.float32)
    text = tiny_model.describe(params)
    assert text.count(lm_api.WINDOW_JOIN.strip()) >= 1


def test_teacher_forced_accuracy(tiny_model, tiny_corpus):
    from tdmm_lm.data import iter_samples

    samples = list(iter_samples(tiny_corpus, "train"))[:4]
    acc = tiny_model.motion_token_accuracy(
        [s["prompt"] for s in samples], [s["params"] for s in samples]
    )
    assert 0.0 <= acc <= 1.0


def test_save_load_round_trip(tiny_model, tmp_path):
    tiny_model.save(tmp_path / "copy")
    again = TdmmModel.load(tmp_path / "copy")
    for (name, a), (_, b) in zip(
        tiny_model.lm.state_dict().items(), again.lm.state_dict().items(), strict=True
    ):
        assert np.array_equal(a.numpy(), b.numpy()), name
    np.testing.assert_array_equal(
        tiny_model.animate(PROMPT, 1.0, seed=2).params, again.animate(PROMPT, 1.0, seed=2).params
    )


def test_model_dir_is_self_contained(tiny_model_dir):
    header = json.loads((tiny_model_dir / "config.json").read_text())
    assert header["type"] == "tdmm_lm"
    for name in (
        "model.safetensors",
        "vocab.json",
        "tokenizer/config.json",
        "train_config.json",
        "train_log.jsonl",
    ):
        assert (tiny_model_dir / name).exists(), name
    events = [json.loads(line)["event"] for line in open(tiny_model_dir / "train_log.jsonl")]
    assert {"start", "train", "val", "checkpoint", "end"} <= set(events)


def test_load_model_without_release_says_how_to_train(monkeypatch, tmp_path):
    monkeypatch.setattr(lm_api, "RELEASE_DIR", tmp_path / "release")
    with pytest.raises(TdmmError, match="tdmm train --recipe release"):
        load_model()


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda m: m.animate(""), "empty"),
        (lambda m: m.animate("   "), "empty"),
        (lambda m: m.animate(PROMPT, seconds=0), "seconds"),
        (lambda m: m.animate(PROMPT, seconds=10_000), "seconds"),
        (lambda m: m.animate(PROMPT, change_temperature=0.0), "change_temperature"),
        (lambda m: m.describe(np.full((20, 61), np.nan, np.float32)), "NaN"),
        (lambda m: m.describe(np.zeros((20, 58), np.float32)), "channels"),
        (lambda m: m.describe(np.zeros((0, 61), np.float32)), "frames"),
    ],
)
def test_bad_input_gives_clear_errors(tiny_model, call, message):
    with pytest.raises(InvalidInputError, match=message) as info:
        call(tiny_model)
    assert "\n" not in str(info.value)


def test_missing_model_dir(tmp_path):
    with pytest.raises(InvalidInputError, match="does not exist"):
        load_model(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InvalidInputError, match="not a tdmm-lm artefact"):
        load_model(tmp_path / "empty")


def test_a_sentence_conditioned_text_to_motion_model_trains_and_animates(tiny_config, tmp_path):
    """The T2M-GPT-style set-up: Language2Motion only, one pooled sentence embedding."""
    from tdmm_lm.lm.train import train_lm

    cfg = tiny_config(
        tmp_path / "t2m", text_encoder="minilm_sentence", l2m_fraction=1.0, steps=4,
        eval_every=4, checkpoint_every=4,
    )  # fmt: skip
    model = load_model(train_lm(cfg))
    assert model.config.text_encoder == "minilm_sentence"
    seq = model.animate(PROMPT, seconds=1.0, seed=0)
    assert seq.n_frames == round(model.fps) and np.isfinite(seq.params).all()
    source = model.builder.l2m_source(PROMPT, 5, 1.0)
    assert int((source.tokens == model.vocab.txt).sum()) == 1  # the whole prompt in one slot


def test_animate_batch_gives_each_prompt_its_length_deterministically(tiny_model):
    prompts = [PROMPT, "she frowns", "a man looks surprised, then laughs and shakes his head"]
    seconds = [1.0, 2.0, 0.48]
    first = tiny_model.animate_batch(prompts, seconds, seed=5)
    again = tiny_model.animate_batch(prompts, seconds, seed=5)
    for seq, repeat, p, s in zip(first, again, prompts, seconds, strict=True):
        assert seq.n_frames == round(s * tiny_model.fps) and seq.meta["prompt"] == p
        np.testing.assert_array_equal(seq.params, repeat.params)
    with pytest.raises(InvalidInputError, match="durations"):
        tiny_model.animate_batch(prompts, [1.0], seed=0)
    with pytest.raises(InvalidInputError, match="empty"):
        tiny_model.animate_batch([PROMPT, " "], 1.0)
    assert tiny_model.animate_batch([], 1.0) == []


def test_describe_batch_writes_the_captions_describe_writes(tiny_model):
    clips = [tiny_model.animate(PROMPT, seconds=s, seed=i) for i, s in enumerate((1.0, 2.4, 3.0))]
    assert tiny_model.describe_batch(clips) == [tiny_model.describe(c) for c in clips]


def test_describe_reads_motion_held_to_the_training_range(tiny_model):
    from tdmm_lm.face import ARKIT

    rng = np.random.default_rng(0)
    params = rng.uniform(0.0, 0.3, (75, 61)).astype(np.float32)
    params[:, 52:] = 0.0
    wild = params.copy()
    wild[:, ARKIT.channels.index("leftEyeYaw")] = 0.7  # a gaze far past the training clips'
    held = tiny_model.tokenizer.within_seen_range(wild)
    assert not np.array_equal(held, wild)
    assert tiny_model.describe(wild) == tiny_model.describe(held)
    assert tiny_model.novelty(wild) > tiny_model.novelty(held)  # still measured on the input


def test_describe_reads_motion_far_from_the_corpus_as_its_tokens_reconstruct_it(
    tiny_model, monkeypatch
):
    import tdmm_lm.lm.captioning as captioning

    clip = tiny_model.animate(PROMPT, seconds=2.0, seed=0)
    read: list[np.ndarray] = []
    captions = tiny_model._captions
    monkeypatch.setattr(
        tiny_model, "_captions", lambda w, *a: read.extend(p for _, p in w) or captions(w, *a)
    )
    monkeypatch.setattr(captioning, "NOVELTY_WARNING", float("inf"))  # nothing is novel
    tiny_model.describe(clip)
    np.testing.assert_array_equal(read[-1], tiny_model.tokenizer.within_seen_range(clip.params))
    monkeypatch.setattr(captioning, "NOVELTY_WARNING", -1.0)  # everything is
    tiny_model.describe(clip)
    codes = tiny_model.tokenizer.encode(tiny_model.tokenizer.within_seen_range(clip.params))
    expected = tiny_model.tokenizer.within_seen_range(tiny_model.tokenizer.decode(codes))
    np.testing.assert_array_equal(read[-1], expected[: clip.n_frames])
    assert not np.array_equal(read[-1], read[-2])
