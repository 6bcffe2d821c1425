"""``tdmm eval real``: describe real face videos, with the tracker's quality figures.

Real videos have no reference captions, so there is nothing to score; the report puts each
caption beside what the tracker says about its own fit (tracked fraction, reprojection
error, jitter, flagged spans) and, when the model has evaluators, what the attribute
classifiers read from the tracked motion and what the caption parser reads from the
caption, so that the two can be compared.

It also measures what the model's motion tokenizer keeps of each fit (``tokenizer``): the
vertex error and expression peaks of the tokenized-then-decoded motion, as in
``tdmm tokenizer eval``, and the classifiers' reading of that decoded motion. The language
model sees the video only through those tokens, so a caption can be no better than what
they kept: a fit the classifiers read as "happiness" whose tokens they read as "neutral"
was lost by the tokenizer, not by the captioner.

::

    REPORT/report.json                    one entry per video
    REPORT/report.md                      the same as a table
    REPORT/sequences/{video stem}.npz     the tracked motion
    REPORT/confidence.png                 the tracker's per-frame confidence of every video
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from tdmm_lm.errors import InvalidInputError
from tdmm_lm.files import write_json_atomic, write_text_atomic

__all__ = ["VIDEO_SUFFIXES", "describe_videos"]

VIDEO_SUFFIXES = (".mp4", ".mov", ".avi", ".webm", ".mkv", ".m4v")
#: QA figures copied into the report.
QA_KEYS = (
    "tracked_fraction", "flagged_fraction", "reprojection_error", "jitter", "jitter_head_deg",
    "confidence", "flagged_spans",
)  # fmt: skip
#: Tokenizer round-trip figures copied into the report (see ``tdmm tokenizer eval``).
TOKENIZER_KEYS = ("vertex_error_mm", "peak_retention", "param_mae")


def describe_videos(
    videos: str | Path,
    output: str | Path,
    model: str | Path | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Track and describe every video in a folder; write the report folder.

    Args:
        videos: A folder of face videos.
        output: The report folder.
        model: A model folder (None: the shipped release model).
        progress: Called as ``progress(done, total)`` over the videos.

    Returns:
        The report: ``{"model", "videos": [{video, caption, frames, seconds, qa, ...}]}``.

    Raises:
        InvalidInputError: The folder is missing or holds no video.
    """
    from tdmm_lm.eval.captions import caption_attributes
    from tdmm_lm.face import FaceSequence
    from tdmm_lm.lm import load_model
    from tdmm_lm.tokenizer import reconstruction_metrics
    from tdmm_lm.track import fit_video

    folder = Path(videos)
    if not folder.is_dir():
        raise InvalidInputError(f"--videos {folder}: no such folder")
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in VIDEO_SUFFIXES)
    if not files:
        raise InvalidInputError(f"--videos {folder}: no video ({', '.join(VIDEO_SUFFIXES)}) in it")
    out = Path(output)
    if out.exists() and not out.is_dir():
        raise InvalidInputError(f"-o {out}: is a file; give a folder for the report")
    lm = load_model(model)
    evaluator = _evaluator(model)
    (out / "sequences").mkdir(parents=True, exist_ok=True)
    entries, curves = [], {}
    for k, path in enumerate(files):
        sequence, qa = fit_video(path)
        caption = lm.describe(sequence)
        sequence.save(out / "sequences" / f"{path.stem}.npz")
        summary = qa.summary()
        entry: dict[str, Any] = {
            "video": path.name,
            "caption": caption,
            "frames": sequence.n_frames,
            "seconds": round(sequence.seconds, 3),
            "qa": {key: summary[key] for key in QA_KEYS},
        }
        params = sequence.resample(lm.fps).params
        kept = reconstruction_metrics(lm.tokenizer, [params])
        entry["tokenizer"] = {key: kept[key] for key in TOKENIZER_KEYS}
        entry["tokenizer"]["novelty"] = lm.novelty(sequence)
        if evaluator is not None:
            reading = evaluator.read([sequence])
            entry["classifiers"] = {a: v[0] for a, v in reading.predictions.items()}
            decoded = lm.tokenizer.decode(lm.tokenizer.encode(params))
            reading = evaluator.read([FaceSequence(decoded, fps=lm.fps)])
            entry["classifiers_on_tokens"] = {a: v[0] for a, v in reading.predictions.items()}
            # No labels: read the caption's first emotional segment (a neutral clip's rule).
            neutral = {"emotion_category": "neutral", "segments": []}
            entry["caption_parser"] = caption_attributes(caption, neutral)
        entries.append(entry)
        curves[path.name] = qa.frame_confidence
        if progress is not None:
            progress(k + 1, len(files))
    report = {"model": str(model) if model else "release", "videos": entries}
    write_json_atomic(out / "report.json", report)
    _plot_confidence(curves, float(lm.fps), out / "confidence.png")
    write_text_atomic(out / "report.md", _markdown(report))
    return report


def _evaluator(model: str | Path | None) -> Any:
    """The model's evaluators, or None when it has none (the report then leaves them out)."""
    from tdmm_lm.eval.config import EVALUATOR_SUBDIR
    from tdmm_lm.eval.evaluators import MotionEvaluator
    from tdmm_lm.lm.api import RELEASE_DIR

    folder = (Path(model) if model else RELEASE_DIR) / EVALUATOR_SUBDIR
    return MotionEvaluator.from_pretrained(folder) if (folder / "config.json").is_file() else None


def _plot_confidence(curves: dict[str, list[float]], fps: float, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 3))
    for name, values in curves.items():
        ax.plot([i / fps for i in range(len(values))], values, label=name)
    ax.set_xlabel("seconds")
    ax.set_ylabel("tracker confidence")
    ax.set_ylim(0, 1.05)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def _markdown(report: dict[str, Any]) -> str:
    lines = [
        "# tdmm-lm on real videos",
        "",
        f"model: `{report['model']}`. QA figures are the tracker's own (`tdmm fit --report`).",
        "",
        "Tokens: the model's tokenizer on the fit (vertex error in mm, share of expression "
        "peaks kept), as `tdmm tokenizer eval` measures it on the corpus, and the fit's "
        "novelty (about 1 for motion like the corpus).",
        "",
        "| video | seconds | caption | tracked | reproj. error mean/p95 (mm) | jitter | flagged "
        "| tokens: vertex error / peaks kept / novelty |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for e in report["videos"]:
        qa = e["qa"]
        err, tok = qa["reprojection_error"], e["tokenizer"]
        lines.append(
            f"| {e['video']} | {e['seconds']:.1f} | {e['caption']} | {qa['tracked_fraction']:.2f} "
            f"| {err['mean']:.2f} / {err['p95']:.2f} | {qa['jitter']:.4f} "
            f"| {qa['flagged_fraction']:.2f} "
            f"| {tok['vertex_error_mm']:.2f} / {tok['peak_retention']:.2f} "
            f"/ {tok['novelty']:.1f} |"
        )
    if any("classifiers" in e for e in report["videos"]):
        lines += ["", "| video | classifiers on the fit (emotion, head, intensity) "
                  "| classifiers on its tokens | caption parser |",
                  "|---|---|---|---|"]  # fmt: skip
        order = ("emotion_category", "head_motion", "intensity")
        for e in report["videos"]:
            c, t, p = e["classifiers"], e["classifiers_on_tokens"], e["caption_parser"]
            lines.append(
                f"| {e['video']} | {', '.join(str(c[a]) for a in order)} "
                f"| {', '.join(str(t[a]) for a in order)} "
                f"| {', '.join(str(p[a]) for a in order)} |"
            )
    lines += ["", "![tracker confidence](confidence.png)"]
    return "\n".join(lines) + "\n"
