"""The video-based generators: puppet (render, film, track) and the external t2v adapter."""

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from tdmm_lm.face import ARKIT
from tdmm_lm.prompts import EXPRESSIONS, sample_prompts
from tdmm_lm.prompts.schema import Labels, PromptSpec, Segment
from tdmm_lm.synth import (
    CommandVideoGenerator,
    GenerationError,
    PuppetGenerator,
    T2VGenerator,
    get_generator,
)

# A stand-in text-to-video model: renders the built-in demo performance, photo style.
FAKE_T2V = """
import sys
from tdmm_lm.face import demo_sequence
from tdmm_lm.render import render_sequence
args = dict(zip(sys.argv[1::2], sys.argv[2::2]))
seq = demo_sequence(seconds=float(args["--seconds"]), fps=25.0)
render_sequence(seq, args["--out"], style="photo", size=256)
"""


@pytest.fixture(scope="module")
def happy_spec() -> PromptSpec:
    """A 3 s, extreme, still-headed smile."""
    word = next(w for w, r in EXPRESSIONS.items() if r.category == "happiness")
    segment = Segment(0.0, 3.0, word, "happiness", "extreme")
    labels = Labels(word, "happiness", "extreme", "still", "silent", [], [segment])
    return PromptSpec("p-happy", f"a person is extremely {word}", ["x"] * 4, labels, 3.0, seed=4)


def test_puppet_tracks_back_the_performed_motion(happy_spec, tmp_path):
    puppet = get_generator("puppet", size=320, video_dir=str(tmp_path))
    seq = puppet.generate(happy_spec, fps=25.0)
    performed = puppet.performer.generate(happy_spec, fps=25.0)
    assert seq.params.shape == performed.params.shape
    assert seq.meta["quality"] > 0.5 and seq.meta["tracked_fraction"] > 0.9
    assert (tmp_path / seq.meta["video"]).is_file()
    smile = [ARKIT.index("mouthSmileLeft"), ARKIT.index("mouthSmileRight")]
    truth, tracked = performed.params[:, smile].mean(1), seq.params[:, smile].mean(1)
    assert truth.max() > 0.4
    # The route carries the tracker's fingerprint (it under-reads a filmed smile somewhat),
    # but the performance must come back: same time course, most of the amplitude.
    assert np.corrcoef(truth, tracked)[0, 1] > 0.9
    assert tracked.max() > 0.5 * truth.max()


def test_puppet_filming_is_reproducible(happy_spec):
    puppet = PuppetGenerator()
    rng_a = puppet._draw_filming(np.random.default_rng(1))
    rng_b = puppet._draw_filming(np.random.default_rng(1))
    np.testing.assert_array_equal(rng_a.affine, rng_b.affine)


def test_command_template_is_quoted_and_checked(tmp_path):
    gen = CommandVideoGenerator("python gen.py --prompt {prompt} --out {out}")
    argv = gen.command('a person\'s "big" smile; rm -rf /', tmp_path / "x.mp4", 3, 25, 1)
    assert argv[:3] == ["python", "gen.py", "--prompt"]
    assert argv[3] == 'a person\'s "big" smile; rm -rf /'  # one argument, never a shell
    with pytest.raises(ValueError, match="placeholders"):
        CommandVideoGenerator("python gen.py {prompt}")


def test_t2v_adapter_tracks_the_external_video_and_logs_the_job(happy_spec, tmp_path):
    script = tmp_path / "fake_t2v.py"
    script.write_text(FAKE_T2V)
    template = f"{sys.executable} {script} --prompt {{prompt}} --out {{out}} --seconds {{seconds}}"
    gen = T2VGenerator(get_generator("t2v", command=template, video_dir=str(tmp_path)).config)
    seq = gen.generate(happy_spec, fps=25.0)
    assert seq.n_frames == round(happy_spec.duration_s * 25)
    assert seq.meta["quality"] > 0.5
    jobs = [json.loads(line) for line in (tmp_path / "t2v_jobs.jsonl").read_text().splitlines()]
    assert jobs[-1]["status"] == "ok" and jobs[-1]["spec_id"] == happy_spec.id
    assert (tmp_path / jobs[-1]["video"]).is_file()


def test_t2v_failures_are_recorded_and_skipped_by_the_build(tmp_path):
    from tdmm_lm.data import BuildConfig, build_corpus

    template = f"{sys.executable} -c 'import sys; sys.exit(3)' {{prompt}} {{out}}"
    manifest = build_corpus(
        tmp_path / "C",
        BuildConfig(
            hours=0.002, generators=("t2v",), t2v_command=template, workers=1, block_size=4
        ),
    )
    assert manifest.complete and manifest.failures >= 1
    assert sum(manifest.counts.values()) == 0
    jobs = (tmp_path / "C" / "videos" / "t2v_jobs.jsonl").read_text().splitlines()
    assert all(json.loads(j)["status"] == "failed" for j in jobs)
    with pytest.raises(GenerationError):
        T2VGenerator(get_generator("t2v", command=template).config).generate(
            sample_prompts(1, seed=0)[0]
        )


def test_build_with_puppet_writes_videos_into_the_corpus(tmp_path):
    from tdmm_lm.data import BuildConfig, build_corpus, iter_samples

    corpus = tmp_path / "C"
    manifest = build_corpus(
        corpus, BuildConfig(hours=0.002, generators=("puppet",), workers=1, block_size=4)
    )
    rows = [r for s in manifest.splits for r in iter_samples(corpus, s)]
    assert rows and all(r["video"] and (corpus / r["video"]).is_file() for r in rows)
    assert all(0 < r["quality"] <= 1 for r in rows)
    assert Path(corpus / "videos" / "puppet").is_dir()
