"""``tdmm eval`` end to end on the tiny model, and its one-line errors."""

from __future__ import annotations

import json
import shutil
import sys

import pytest
from typer.testing import CliRunner

from tdmm_lm.cli import EXIT_USER_ERROR, app, main
from tdmm_lm.eval import EvalConfig, run_eval
from tdmm_lm.eval.data import TEST_SPLITS
from tdmm_lm.eval.harness import L2M_METRICS, L2M_SYSTEMS, M2L_METRICS, M2L_SYSTEMS

runner = CliRunner()
#: Metrics that a system cannot have (no model behind it, or one motion per prompt).
NOT_APPLICABLE = {
    ("ground-truth", "Tok"), ("retrieval", "Tok"), ("floor", "Tok"),
    ("ground-truth", "MultiModality"), ("retrieval", "MultiModality"), ("floor", "MultiModality"),
}  # fmt: skip


def run_main(monkeypatch, *args) -> int:
    monkeypatch.setattr(sys, "argv", ["tdmm", *map(str, args)])
    with pytest.raises(SystemExit) as exit_info:
        main()
    return exit_info.value.code


@pytest.fixture(scope="module")
def quick_report(model_dir, eval_corpus, tmp_path_factory):
    """`tdmm eval --quick` through the console entry point, as a user runs it."""
    out = tmp_path_factory.mktemp("eval_report") / "R"
    argv = sys.argv
    sys.argv = ["tdmm", "eval", "--model", str(model_dir), "--corpus", str(eval_corpus),
                "-o", str(out), "--quick", "--repeats", "2"]  # fmt: skip
    try:
        main()
    except SystemExit as e:  # typer exits 0 on success
        assert e.code in (0, None)
    finally:
        sys.argv = argv
    return out


def test_report_holds_every_metric_of_every_system_and_split(quick_report):
    report = json.loads((quick_report / "report.json").read_text())
    assert set(report["splits"]) == set(TEST_SPLITS)
    for split, section in report["splits"].items():
        for direction, systems, metrics in (
            ("l2m", L2M_SYSTEMS, L2M_METRICS),
            ("m2l", M2L_SYSTEMS, M2L_METRICS),
        ):
            assert list(section[direction]) == list(systems)
            for system in systems:
                for metric in metrics:
                    cell = section[direction][system][metric]
                    if direction == "l2m" and (system, metric) in NOT_APPLICABLE:
                        assert cell["mean"] is None, (split, system, metric)
                        continue
                    assert isinstance(cell["mean"], float), (split, direction, system, metric)
                    assert cell["ci95"] >= 0 and cell["n"] == 2, (split, system, metric)
                    # The attribute figures also carry their interval over the prompts.
                    over_prompts = direction == "l2m" and metric in ("CorE", "CorM", "CorI")
                    assert ("ci95_prompts" in cell) == over_prompts, (split, system, metric)
                    assert cell.get("ci95_prompts", 0.0) >= 0.0


def test_ground_truth_is_the_upper_reference(quick_report):
    report = json.loads((quick_report / "report.json").read_text())
    for section in report["splits"].values():
        gt = section["l2m"]["ground-truth"]
        assert gt["L2"]["mean"] == 0.0 and gt["FD"]["mean"] == pytest.approx(0.0, abs=1e-6)
        assert section["l2m"]["floor"]["L2"]["mean"] > 0.0
        # the prompt describes the clip: the parser reads its attributes back exactly
        m2l = section["m2l"]["ground-truth"]
        assert (m2l["CorE"]["mean"], m2l["CorM"]["mean"], m2l["CorI"]["mean"]) == (1.0, 1.0, 1.0)
        assert m2l["BLEU-1"]["mean"] > section["m2l"]["floor"]["BLEU-1"]["mean"]


def test_report_markdown_and_plots(quick_report):
    md = (quick_report / "report.md").read_text()
    for name in (
        "## test",
        "## test_unseen_combo",
        "## test_unseen_phrasing",
        "t2m-gpt",
        "CIDEr",
        "test t2m-gpt",  # the time by job
        "video route",
        "prompts drawn",  # the attribute figures' interval over the prompts
    ):
        assert name in md
    for png in ("confusion_l2m", "confusion_m2l", "r_precision", "contact_sheet"):
        data = (quick_report / f"{png}.png").read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 2000, png


def test_video_route_scores_the_clip_and_its_tracked_video(quick_report):
    report = json.loads((quick_report / "report.json").read_text())
    route = report["video_route"]
    n_test = report["meta"]["split_sizes"]["test"]
    assert route["split"] == "test" and route["n_clips"] == min(4, n_test)
    for kind in ("classifiers", "captions"):
        for source in ("motion", "tracked"):
            scores = route[kind][source]
            assert set(scores) == {"CorE", "CorM", "CorI"}
            assert all(0.0 <= v <= 1.0 for v in scores.values()), (kind, source)
    assert route["examples"] and all(e["tracked"].strip() for e in route["examples"])
    assert "## The video route (test)" in (quick_report / "report.md").read_text()


def test_quick_check_finds_its_keys(quick_report):
    """The acceptance check's key search (last path segment without "ci") finds each metric."""
    flat = {}

    def walk(node, path):
        if isinstance(node, dict):
            for key, value in node.items():
                walk(value, [*path, str(key)])
        elif isinstance(node, (int, float)) and not isinstance(node, bool):
            flat["/".join(path)] = node

    walk(json.loads((quick_report / "report.json").read_text()), [])
    for metric in ("CorE", "CorM", "CorI", "FD", "R@1", "BLEU", "CIDEr", "ROUGE"):
        assert any(
            metric.lower() in k.lower() and "ci" not in k.lower().split("/")[-1] for k in flat
        ), metric


def _small_run(model_dir, eval_corpus, **overrides) -> dict:
    """Settings of a small run on the tiny corpus (``output`` still to set)."""
    return dict(
        corpus=str(eval_corpus),
        model=str(model_dir),
        repeats=2,
        l2m_clips=4,
        m2l_clips=4,
        mm_prompts=2,
        mm_generations=3,
        retrieval_pool=20,
        sheet_prompts=0,
        **overrides,
    )


def test_one_split_and_deterministic_given_the_seed(model_dir, eval_corpus, tmp_path):
    cfg = _small_run(model_dir, eval_corpus, splits=("test_unseen_phrasing",), seed=3)
    a = run_eval(EvalConfig(output=str(tmp_path / "a"), **cfg))
    b = run_eval(EvalConfig(output=str(tmp_path / "b"), **cfg))
    assert list(a["splits"]) == ["test_unseen_phrasing"]
    assert a["splits"] == b["splits"]
    assert a["splits"]["test_unseen_phrasing"]["n_l2m"] == 4
    c = run_eval(EvalConfig(output=str(tmp_path / "c"), **{**cfg, "seed": 4}))
    assert c["splits"] != a["splits"]
    assert not (tmp_path / "a" / "contact_sheet.png").exists()
    assert "video_route" not in a  # measured on the test split only


def test_worker_processes_measure_what_one_process_measures(model_dir, eval_corpus, tmp_path):
    cfg = _small_run(
        model_dir, eval_corpus, splits=("test", "test_unseen_combo"), video_clips=0, seed=5
    )
    pooled = run_eval(EvalConfig(output=str(tmp_path / "a"), workers=2, **cfg))
    alone = run_eval(EvalConfig(output=str(tmp_path / "b"), workers=1, **cfg))
    assert list(pooled["splits"]) == ["test", "test_unseen_combo"]
    assert pooled["splits"] == alone["splits"]
    # Where the time went: every job of the pool, or every split of the one process.
    jobs = pooled["meta"]["job_seconds"]
    assert set(jobs) == {f"{split} {job}" for split in pooled["splits"]
                         for job in ("tdmm-lm", "t2m-gpt", "metrics")}  # fmt: skip
    assert set(alone["meta"]["job_seconds"]) == set(alone["splits"])
    assert all(seconds >= 0 for seconds in jobs.values())


def test_missing_evaluators_and_baseline_say_how_to_make_them(
    monkeypatch, bare_model_dir, eval_corpus, tmp_path, capsys
):
    code = run_main(
        monkeypatch,
        "eval",
        "--model",
        bare_model_dir,
        "--corpus",
        eval_corpus,
        "-o",
        tmp_path / "R",
        "--quick",
    )
    err = capsys.readouterr().err.strip()
    assert code == EXIT_USER_ERROR and "\n" not in err
    assert "tdmm eval train-evaluators" in err

    model = tmp_path / "M"
    shutil.copytree(bare_model_dir, model, ignore=shutil.ignore_patterns("checkpoints", "cache"))
    (model / "evaluators").mkdir()
    (model / "evaluators" / "config.json").write_text("{}")
    code = run_main(
        monkeypatch,
        "eval",
        "--model",
        model,
        "--corpus",
        eval_corpus,
        "-o",
        tmp_path / "R",
        "--quick",
    )
    err = capsys.readouterr().err.strip()
    assert code == EXIT_USER_ERROR and "tdmm eval train-baseline" in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--corpus", "{missing}", "-o", "{out}"], "not a corpus"),
        (["--corpus", "{corpus}", "-o", "{out}", "--split", "nope"], "unknown split"),
        (
            ["--corpus", "{corpus}", "-o", "{out}", "--split", "val", "--split", "valid"],
            "unknown split",
        ),
        (["--corpus", "{corpus}", "-o", "{out}", "--repeats", "0"], "repeats must be >= 1"),
        (["--corpus", "{corpus}"], "needs --corpus CORPUS and -o"),
        (["--corpus", "{corpus}", "-o", "{out}", "--model", "{missing}"], "not a model folder"),
    ],
)
def test_bad_input_is_one_line(
    monkeypatch, capsys, tmp_path, model_dir, eval_corpus, args, message
):
    values = {"missing": tmp_path / "nothing", "out": tmp_path / "R", "corpus": eval_corpus}
    argv = [a.format(**values) for a in args]
    if "--model" not in argv:
        argv += ["--model", str(model_dir)]
    code = run_main(monkeypatch, "eval", *argv)
    err = capsys.readouterr().err.strip()
    assert code == EXIT_USER_ERROR, err
    assert message in err and err.startswith("error:") and "\n" not in err


def test_empty_split_is_a_one_line_error(monkeypatch, capsys, tmp_path, model_dir, eval_corpus):
    corpus = tmp_path / "C"
    shutil.copytree(eval_corpus, corpus)
    for shard in (corpus / "data" / "data").glob("test-*.parquet"):
        shard.unlink()
    code = run_main(
        monkeypatch,
        "eval",
        "--model",
        model_dir,
        "--corpus",
        corpus,
        "-o",
        tmp_path / "R",
        "--split",
        "test",
    )
    err = capsys.readouterr().err.strip()
    assert code == EXIT_USER_ERROR and "split 'test' is empty" in err


def test_eval_help_lists_the_subcommands():
    result = runner.invoke(app, ["eval", "--help"])
    assert result.exit_code == 0
    for name in ("train-evaluators", "train-baseline", "real", "--quick", "--repeats"):
        assert name in result.output


def test_config_rejects_a_negative_video_subset_and_zero_skips_it():
    with pytest.raises(ValueError, match="video_clips"):
        EvalConfig(corpus="C", output="R", video_clips=-1)
    assert EvalConfig.quick_config(corpus="C", output="R").video_clips == 4


def test_video_route_leaves_out_a_clip_whose_video_shows_no_face(
    monkeypatch, model_dir, eval_corpus
):
    import tdmm_lm.track as track
    from tdmm_lm.errors import InvalidInputError
    from tdmm_lm.eval.data import load_clips
    from tdmm_lm.eval.evaluators import MotionEvaluator
    from tdmm_lm.eval.video_route import video_route
    from tdmm_lm.lm import load_model

    real_fit, calls = track.fit_video, []

    def first_has_no_face(path, *args, **kwargs):
        calls.append(path)
        if len(calls) == 1:
            raise InvalidInputError(f"no face found in {path}")
        return real_fit(path, *args, **kwargs)

    monkeypatch.setattr(track, "fit_video", first_has_no_face)
    clips = load_clips(eval_corpus, "test")
    evaluator = MotionEvaluator.from_pretrained(model_dir / "evaluators")
    route = video_route(clips, load_model(model_dir), evaluator, 3, seed=0)
    assert len(calls) == 3 and route["n_untracked"] == 1 and route["n_clips"] == 2
    assert len(route["examples"]) == 2


def test_motion_to_language_captions_every_test_clip_and_a_subset_elsewhere():
    full = EvalConfig(corpus="C", output="R")
    assert full.m2l_count("test", 654) == 654
    assert full.m2l_count("test_unseen_combo", 907) == 256
    assert full.m2l_count("test_unseen_phrasing", 100) == 100
    assert EvalConfig.quick_config(corpus="C", output="R").m2l_count("test", 654) == 32
    with pytest.raises(ValueError, match="m2l_clips"):
        EvalConfig(corpus="C", output="R", m2l_clips=0)
    with pytest.raises(ValueError, match="m2l_full_splits"):
        EvalConfig(corpus="C", output="R", m2l_full_splits=("tset",))
