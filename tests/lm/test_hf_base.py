"""--base-model: a tiny random Hugging Face checkpoint, extended with motion tokens."""

from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from tdmm_lm.errors import InvalidInputError
from tdmm_lm.lm import load_model
from tdmm_lm.lm.train import train_lm

SENTENCES = ["a face smiles and nods", "the head turns left", "she frowns slowly"] * 20


def write_tokenizer(folder: Path):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    bpe = Tokenizer(models.BPE(unk_token="<unk>"))
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    bpe.train_from_iterator(
        SENTENCES,
        trainers.BpeTrainer(
            vocab_size=300,
            special_tokens=["<unk>", "<s>", "</s>", "<p>"],
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
            show_progress=False,
        ),
    )
    tok = PreTrainedTokenizerFast(
        tokenizer_object=bpe, unk_token="<unk>", bos_token="<s>", eos_token="</s>", pad_token="<p>"
    )
    tok.save_pretrained(folder)
    return tok


@pytest.fixture(scope="module")
def gpt2_dir(tmp_path_factory) -> Path:
    from transformers import GPT2Config, GPT2LMHeadModel

    folder = tmp_path_factory.mktemp("hf") / "gpt2"
    tok = write_tokenizer(folder)
    torch.manual_seed(0)
    config = GPT2Config(n_layer=2, n_embd=32, n_head=2, n_positions=512, vocab_size=len(tok))
    GPT2LMHeadModel(config).save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def t5_dir(tmp_path_factory) -> Path:
    from transformers import T5Config, T5ForConditionalGeneration

    folder = tmp_path_factory.mktemp("hf") / "t5"
    tok = write_tokenizer(folder)
    torch.manual_seed(0)
    config = T5Config(
        vocab_size=len(tok),
        d_model=32,
        d_ff=64,
        d_kv=16,
        num_layers=1,
        num_heads=2,
        decoder_start_token_id=tok.pad_token_id,
        pad_token_id=tok.pad_token_id,
        eos_token_id=tok.eos_token_id,
    )
    T5ForConditionalGeneration(config).save_pretrained(folder)
    return folder


@pytest.mark.parametrize(("base", "lora"), [("gpt2", 0), ("gpt2", 4), ("t5", 0)])
def test_base_model_trains_and_runs(base, lora, gpt2_dir, t5_dir, tiny_config, tmp_path):
    folder = {"gpt2": gpt2_dir, "t5": t5_dir}[base]
    if lora:
        pytest.importorskip("peft")
    cfg = tiny_config(
        tmp_path / "m",
        base_model=str(folder),
        lora_rank=lora,
        steps=6,
        checkpoint_every=3,
        eval_every=6,
        eval_clips=2,
        log_every=2,
    )
    out = train_lm(cfg)
    model = load_model(out)
    saved = load_file(str(out / "model.safetensors"))
    loaded = model.lm.state_dict()
    for name, tensor in saved.items():  # tied or untied, every weight comes back as saved
        assert torch.equal(loaded[name], tensor), name
    assert model.config.backend == ("hf_seq2seq" if base == "t5" else "hf_causal")
    seq = model.animate("a face smiles and nods", seconds=1.0, seed=0)
    assert seq.n_frames == round(model.fps)
    again = model.animate("a face smiles and nods", seconds=1.0, seed=0)
    assert (seq.params == again.params).all()
    assert isinstance(model.describe(seq), str)


def test_missing_base_model(tiny_config, tmp_path):
    with pytest.raises(InvalidInputError, match="no such folder"):
        train_lm(tiny_config(tmp_path / "m", base_model=str(tmp_path / "nowhere")))
