"""Training: schedule, checkpoints, resume after a kill, two processes, base models."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from tdmm_lm.errors import InvalidInputError
from tdmm_lm.lm.checkpoint import latest_checkpoint, load_checkpoint, save_checkpoint
from tdmm_lm.lm.recipes import TrainConfig, get_recipe
from tdmm_lm.lm.train import lr_at, train_lm

ROOT = Path(__file__).resolve().parents[2]
TINY_STEPS = get_recipe("tiny").steps


def cli_command(*args: str) -> list[str]:
    return [sys.executable, "-c", "from tdmm_lm.cli import main; main()", *args]


def weights(model_dir: Path) -> dict[str, torch.Tensor]:
    return load_file(str(model_dir / "model.safetensors"))


def test_lr_schedule():
    cfg = TrainConfig(steps=100, warmup_steps=10, lr=1e-3, min_lr=1e-4)
    assert lr_at(0, cfg) == pytest.approx(1e-4)
    assert lr_at(9, cfg) == pytest.approx(1e-3)
    assert lr_at(55, cfg) == pytest.approx(5.5e-4)
    assert lr_at(100, cfg) == pytest.approx(1e-4)
    assert all(lr_at(s, cfg) >= lr_at(s + 1, cfg) for s in range(10, 100))


def test_recipes_validate():
    assert get_recipe("release").n_layer >= 4
    with pytest.raises(ValueError, match="valid: tiny"):
        get_recipe("huge")
    with pytest.raises(ValueError, match="min_lr"):
        TrainConfig(lr=1e-4, min_lr=1e-3)
    with pytest.raises(ValueError, match="change_temperature"):
        TrainConfig(change_temperature=0.0)
    cfg = get_recipe("small")
    assert TrainConfig.from_dict(cfg.to_dict()) == cfg
    stored_before_prefix_lm = {k: v for k, v in cfg.to_dict().items() if k != "prefix_lm"}
    assert cfg.prefix_lm and not TrainConfig.from_dict(stored_before_prefix_lm).prefix_lm


def test_checkpoint_round_trip(tmp_path):
    model = torch.nn.Linear(3, 2)
    opt = torch.optim.AdamW(model.parameters())
    model(torch.ones(1, 3)).sum().backward()
    opt.step()
    rng = torch.get_rng_state()[None]
    save_checkpoint(tmp_path, 5, model.state_dict(), opt.state_dict(), rng, {"note": 1})
    save_checkpoint(tmp_path, 7, model.state_dict(), opt.state_dict(), rng)
    path = latest_checkpoint(tmp_path)
    assert path.name == "step-0000007" and len(list(path.parent.iterdir())) == 1
    step, state, opt_state, rng_back, _ = load_checkpoint(path)
    assert step == 7 and torch.equal(rng_back, rng)
    fresh = torch.optim.AdamW(model.parameters())
    fresh.load_state_dict(opt_state)
    assert torch.equal(
        fresh.state_dict()["state"][0]["exp_avg"], opt.state_dict()["state"][0]["exp_avg"]
    )
    assert all(torch.equal(state[k], v) for k, v in model.state_dict().items())


def test_training_reduces_the_loss(tiny_model_dir):
    records = [json.loads(line) for line in open(tiny_model_dir / "train_log.jsonl")]
    train = [r["loss"] for r in records if r["event"] == "train"]
    assert train[-1] < train[0]
    assert all(r["tokens_per_s"] > 0 for r in records if r["event"] == "train")


def test_refuses_to_overwrite_a_run(tiny_model_dir, tiny_config):
    with pytest.raises(InvalidInputError, match="--resume"):
        train_lm(tiny_config(tiny_model_dir))
    with pytest.raises(InvalidInputError, match="cannot resume"):
        train_lm(tiny_config(tiny_model_dir, d_model=32), resume=True)


def test_resume_after_kill_matches_an_uninterrupted_run(
    tiny_corpus, tiny_tokenizer, tiny_model_dir, tmp_path
):
    out = tmp_path / "killed"
    args = [
        "train",
        "--corpus",
        str(tiny_corpus),
        "--tokenizer",
        str(tiny_tokenizer),
        "-o",
        str(out),
        "--recipe",
        "tiny",
        "--steps",
        str(TINY_STEPS),
    ]
    # The session's tiny model again, in a process killed after its first checkpoint.
    proc = subprocess.Popen(
        cli_command(*args), cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    deadline = time.time() + 120
    while latest_checkpoint(out) is None and proc.poll() is None and time.time() < deadline:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, proc.stderr.read().decode()[-2000:]
    first = latest_checkpoint(out)
    assert first is not None and not (out / "model.safetensors").exists()
    assert int(first.name.split("-")[1]) < TINY_STEPS
    done = subprocess.run(
        cli_command(*args, "--resume"), cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    events = [json.loads(line) for line in open(out / "train_log.jsonl")]
    assert any(e["event"] == "resume" for e in events)
    reference, resumed = weights(tiny_model_dir), weights(out)
    assert reference.keys() == resumed.keys()
    for name in reference:
        torch.testing.assert_close(resumed[name], reference[name], rtol=0, atol=1e-6), name


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_process_accelerate_run_stays_in_sync(tiny_corpus, tiny_tokenizer, tmp_path):
    out = tmp_path / "ddp"
    script = tmp_path / "run.py"
    script.write_text(
        "import sys\n"
        "from accelerate import PartialState\n"
        "from tdmm_lm.lm.recipes import get_recipe\n"
        "from tdmm_lm.lm.train import train_lm, params_digest\n"
        "from tdmm_lm.lm import TdmmModel\n"
        "corpus, tok, out = sys.argv[1:4]\n"
        "cfg = get_recipe('tiny', corpus=corpus, tokenizer=tok, output=out, steps=6,\n"
        "                 checkpoint_every=3, eval_every=6, eval_clips=2, log_every=2,\n"
        "                 text_encoder='minilm')\n"
        "train_lm(cfg)\n"
        "if PartialState().is_main_process:  # the saved model is what the ranks agreed on\n"
        "    import pathlib\n"
        "    pathlib.Path(out, 'saved.txt').write_text(params_digest(TdmmModel.load(out).lm))\n"
    )
    # `accelerate launch --cpu --num_processes 2` starts several CPU processes only through
    # MPI (--mpirun_hostfile); without MPI it starts one. The torchrun launcher behind
    # --multi_gpu does start two, and ACCELERATE_USE_CPU makes them a gloo (MULTI_CPU) group.
    cmd = [
        sys.executable,
        "-m",
        "accelerate.commands.launch",
        "--multi_gpu",
        "--num_processes",
        "2",
        "--num_machines",
        "1",
        "--mixed_precision",
        "no",
        "--dynamo_backend",
        "no",
        "--main_process_port",
        str(free_port()),
        str(script),
        str(tiny_corpus),
        str(tiny_tokenizer),
        str(out),
    ]
    env = {**os.environ, "ACCELERATE_USE_CPU": "1"}
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    events = [json.loads(line) for line in open(out / "train_log.jsonl")]
    start = next(e for e in events if e["event"] == "start")
    sync = next(e for e in events if e["event"] == "sync")
    assert start["processes"] == 2
    assert len(sync["digests"]) == 2 and sync["in_sync"], sync
    assert (out / "saved.txt").read_text() == sync["digests"][0]
    # This run also covers prompts read by the frozen MiniLM encoder end to end.
    from tdmm_lm.lm import load_model

    model = load_model(out)
    assert model.config.text_encoder == "minilm" and model.text_encoder is not None
    assert model.animate("a person smiles", seconds=1.0).n_frames == round(model.fps)


def test_weighted_loss_is_the_mean_cross_entropy_by_default_and_weighs_what_it_says():
    import torch

    from tdmm_lm.lm.data import Batch
    from tdmm_lm.lm.objective import weighted_loss

    torch.manual_seed(0)
    lo, hi, v = 4, 12, 20
    idx = torch.tensor([[1, 5, 5, 6, 6], [1, 14, 15, 16, 17]])
    targets = torch.tensor([[5, 5, 6, 6, -1], [14, 15, 16, 17, 2]])
    logits = torch.randn(2, 5, v, requires_grad=True)
    batch = Batch(idx=idx, targets=targets, countdown=torch.full_like(idx, -1),
                  text_ids=torch.zeros(2, 0, dtype=torch.long),
                  text_mask=torch.zeros(2, 0, dtype=torch.bool), tasks=["l2m", "m2l"],
                  n_tokens=10, text_drop=torch.zeros(2, dtype=torch.bool),
                  summaries=torch.zeros(2, 0),
                  aux_targets=torch.zeros(2, 5, 0, dtype=torch.long),
                  n_source=torch.tensor([1, 1]), idx2=torch.full_like(idx, -1),
                  targets2=torch.full_like(idx, -1), frames=torch.zeros(2, 5, 0))  # fmt: skip
    plain = torch.nn.functional.cross_entropy(logits.reshape(-1, v), targets.reshape(-1),
                                              ignore_index=-1)  # fmt: skip
    torch.testing.assert_close(weighted_loss(logits, batch, (lo, hi)), plain)
    # Captions weighted 3x: the mean over (4 motion + 3 * 5 caption) weighted targets.
    nll = torch.nn.functional.cross_entropy(logits.transpose(1, 2), targets.clamp(min=0),
                                            reduction="none")  # fmt: skip
    expected = (nll[0, :4].sum() + 3 * nll[1].sum()) / (4 + 15)
    torch.testing.assert_close(weighted_loss(logits, batch, (lo, hi), m2l_weight=3.0), expected)
    # The change term (one change, 5 -> 6 at position 2) never pushes on the repeat's logit:
    # it only says which code, not whether the face moves on.
    extra = weighted_loss(logits, batch, (lo, hi), change_weight=1.0) - plain
    assert extra.item() > 0
    (grad,) = torch.autograd.grad(extra, logits)
    assert abs(grad[0, 2, 5]) < 1e-7 and grad[0, 2, 6] < -0.01  # repeat untouched, code raised
    assert grad[0, 1].abs().max() < 1e-7 and grad[1].abs().max() < 1e-7  # repeats, captions


def test_captioning_reads_the_motion_summary_in_training_and_validation(tiny_model_dir):
    from tdmm_lm.lm import load_model
    from tdmm_lm.lm.data import eval_examples, get_batch, load_clips
    from tdmm_lm.lm.tasks import TaskBuilder

    model = load_model(tiny_model_dir)
    corpus = json.loads((tiny_model_dir / "train_config.json").read_text())["corpus"]
    clips = load_clips(Path(corpus), "val", model.tokenizer, tiny_model_dir / "tokenizer", None)
    assert clips.summaries.shape == (len(clips), model.lm.config.summary_dim)
    builder = TaskBuilder(model.vocab)
    examples = eval_examples(clips, builder, 2)
    assert all((e.summary is not None) == (e.task == "m2l") for e in examples)
    batch = get_batch(clips, builder, 0, seed=0, rank=0, batch_size=8, block_size=384,
                      l2m_fraction=0.0, pool_batches=1)  # fmt: skip
    assert batch.summaries.shape == (8, model.lm.config.summary_dim)
    assert batch.summaries.abs().sum(1).gt(0).all()


def test_a_rotary_model_that_reads_frames_trains_and_describes(tiny_config, tmp_path):
    import torch

    from tdmm_lm.lm import load_model
    from tdmm_lm.lm.train import train_lm

    out = train_lm(
        tiny_config(tmp_path / "M", rope=True, frame_inputs=True, frame_velocity=True, steps=6)
    )
    model = load_model(out)
    gpt = model.lm.config
    assert gpt.rope and model.lm.pos_emb is None and gpt.frame_dim == 61 and gpt.frame_velocity
    assert model.builder.frame_inputs
    assert not torch.equal(model.lm.frame_std, torch.ones(61))  # standardised by the corpus
    assert not torch.equal(model.lm.frame_velocity_std, torch.ones(61))
    seq = model.animate("a person smiles", seconds=1.0, seed=0)
    assert isinstance(model.describe(seq), str)
    # Captioning reads the parameters themselves: the same tokens with other parameters
    # give other logits.
    codes, params = model.tokenizer.encode(seq.params), np.asarray(seq.params)
    last = []
    for frames in (params, params * 0.5):
        source = model.builder.m2l_source(codes, frames=frames)
        assert np.isfinite(source.frames).all(axis=1).sum() == seq.n_frames
        idx = torch.from_numpy(source.tokens)[None]
        pairs = {} if source.codes2 is None else {"idx2": torch.from_numpy(source.codes2)[None]}
        with torch.no_grad():
            logits, _ = model.lm(idx, countdown=torch.from_numpy(source.countdown)[None],
                                 frames=torch.from_numpy(source.frames)[None], **pairs)  # fmt: skip
        last.append(logits[0, -1])
    assert not torch.allclose(last[0], last[1])


def test_the_summary_is_of_the_given_parameters_unless_a_model_reads_its_tokens(tiny_model_dir):
    from tdmm_lm.data import iter_samples
    from tdmm_lm.lm import TrainConfig, load_model
    from tdmm_lm.lm.data import load_clips
    from tdmm_lm.lm.summary import summarise

    model = load_model(tiny_model_dir)
    assert model.lm.config.summary_source == "params"
    corpus = Path(json.loads((tiny_model_dir / "train_config.json").read_text())["corpus"])
    params = [s["params"] for s in iter_samples(corpus, "val")]
    tok_dir = tiny_model_dir / "tokenizer"
    given = load_clips(corpus, "val", model.tokenizer, tok_dir, None, "params")
    np.testing.assert_allclose(given.summaries, np.stack([summarise(p) for p in params]))
    decoded = load_clips(corpus, "val", model.tokenizer, tok_dir, None, "tokens")
    expected = np.stack([summarise(model.tokenizer.decode(c)) for c in decoded.codes])
    np.testing.assert_allclose(decoded.summaries, expected, rtol=1e-5, atol=1e-6)
    assert not np.allclose(given.summaries, decoded.summaries)  # the tokens are lossy
    # A run stored before the choice existed summarised its tokens; new runs the parameters.
    stored = TrainConfig().to_dict()
    del stored["summary_source"]
    assert TrainConfig.from_dict(stored).summary_source.value == "tokens"
    assert TrainConfig().summary_source.value == "params"
    with pytest.raises(ValueError):
        TrainConfig(summary_source="frames")


def test_a_new_part_is_fitted_to_a_frozen_trained_model(tiny_config, tmp_path):
    from tdmm_lm.lm import load_model

    base_dir = train_lm(tiny_config(tmp_path / "base", rope=True, frame_inputs=True, steps=6))
    adapted_cfg = tiny_config(
        tmp_path / "adapted", rope=True, frame_inputs=True, frame_velocity=True, steps=4,
        l2m_fraction=0.0, init_from=str(base_dir), train_only=("frame_velocity_proj",),
    )  # fmt: skip
    adapted_dir = train_lm(adapted_cfg)
    base, adapted = weights(base_dir), weights(adapted_dir)
    added = sorted(set(adapted) - set(base))
    assert added and all("frame_velocity" in name for name in added)
    assert all(torch.equal(base[name], adapted[name]) for name in base)  # frozen, to the bit
    start = json.loads((adapted_dir / "train_log.jsonl").read_text().splitlines()[0])
    assert start["new_weights"] == added and 0 < start["trained_params"]
    assert (adapted_dir / "vocab.json").read_text() == (base_dir / "vocab.json").read_text()
    # Language2Motion reads no frames, so the adapted model animates exactly as the base did.
    a = load_model(base_dir).animate("a person smiles", seconds=1.0, seed=3)
    b = load_model(adapted_dir).animate("a person smiles", seconds=1.0, seed=3)
    assert np.array_equal(a.params, b.params)


def test_a_start_that_does_not_fit_is_refused(tiny_config, tiny_model_dir, tmp_path):
    wider = tiny_config(tmp_path / "wide", d_model=96, steps=2, init_from=str(tiny_model_dir))
    with pytest.raises(InvalidInputError, match="do not fit this model"):
        train_lm(wider)
    with pytest.raises(InvalidInputError, match=r"no vocab\.json"):
        train_lm(tiny_config(tmp_path / "none", steps=2, init_from=str(tmp_path / "missing")))
    with pytest.raises(InvalidInputError, match="no weight of the model matches"):
        train_lm(tiny_config(tmp_path / "typo", steps=2, train_only=("frame_velocty_proj",)))
    with pytest.raises(ValueError, match="init_from"):
        TrainConfig(init_from="M", base_model="B")
