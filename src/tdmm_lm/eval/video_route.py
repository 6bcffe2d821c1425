"""The video → text route, measured: test clips rendered, tracked, classified and described.

``tdmm describe VIDEO`` never sees parameters: it sees what the tracker fits to the video.
On real video nothing says what the right caption is (``tdmm eval real`` can only put the
caption beside the tracker's own quality figures). The corpus's test clips do have labels,
so :func:`video_route` takes a seeded subset of them and, for each one:

1. renders it in the photo style (the renderer of ``tdmm animate --video``);
2. fits the video with the tracker's default settings, exactly as ``describe VIDEO`` does;
3. scores both the clip's own motion and the fit: the motion classifiers' reading against
   the clip's labels, and the attributes the caption parser reads from the model's caption.

The two rows side by side say what the route loses and where: a gap in the classifiers'
row was lost by the render and the tracker; a gap that only the captions show, by the model.
The figures carry no interval: the subset is small (rendering and fitting cost about 2.5 s
a clip on one core), so they are a gauge of the route, not a ranking of systems.
"""

from __future__ import annotations

import logging
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from tdmm_lm.errors import TdmmError
from tdmm_lm.eval.config import COR_NAMES
from tdmm_lm.eval.data import ATTRIBUTES, ClipSet

__all__ = ["VIDEO_SIZE", "video_route", "video_route_markdown"]

log = logging.getLogger(__name__)

#: Frame size of the rendered videos, px (the size ``tdmm animate --video`` writes).
VIDEO_SIZE = 512


def video_route(
    clips: ClipSet, model: Any, evaluator: Any, n_clips: int, seed: int
) -> dict[str, Any]:
    """Render, fit, classify and describe a seeded subset of ``clips``.

    Args:
        clips: A labelled split (the ``test`` split in ``tdmm eval``).
        model: A loaded :class:`~tdmm_lm.lm.TdmmModel`.
        evaluator: The :class:`~tdmm_lm.eval.evaluators.MotionEvaluator`.
        n_clips: Clips to take (fewer if the split is smaller). A clip whose video the
            tracker finds no face in is counted in ``n_untracked`` and left out of both rows.
        seed: Seed of the subset.

    Returns:
        ``{"split", "n_clips", "n_untracked", "seconds", "classifiers": {"motion", "tracked"},
        "captions": {"motion", "tracked"}, "examples"}``; each of the four readings maps
        CorE / CorM / CorI to the share of clips whose attribute matches the label.
    """
    from tdmm_lm.eval.captions import caption_attributes
    from tdmm_lm.face import FaceSequence
    from tdmm_lm.render import render_sequence
    from tdmm_lm.track import fit_video

    start = time.perf_counter()
    sampled = clips.sample(n_clips, seed)
    kept, tracked = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for k, params in enumerate(sampled.params):
            video = Path(tmp) / f"{k}.mp4"
            render_sequence(FaceSequence(params, fps=sampled.fps), video, "photo", VIDEO_SIZE)
            try:
                fitted, _ = fit_video(video)
            except TdmmError as e:  # no face found: the clip is left out of both rows
                log.warning("video route: clip %s not tracked: %s", sampled.ids[k], e)
                continue
            kept.append(k)
            tracked.append(fitted.resample(sampled.fps))
    chosen = sampled.subset(kept)
    motion = [FaceSequence(p, fps=chosen.fps) for p in chosen.params]
    readings: dict[str, dict[str, Any]] = {"classifiers": {}, "captions": {}}
    captions: dict[str, list[str]] = {}
    labels = chosen.labels
    for name, seqs in (("motion", motion), ("tracked", tracked)):
        predicted = evaluator.read(seqs).predictions
        classified = [{a: predicted[a][i] for a in ATTRIBUTES} for i in range(len(seqs))]
        captions[name] = model.describe_batch(seqs)
        parsed = [caption_attributes(c, lab) for c, lab in zip(captions[name], labels, strict=True)]
        readings["classifiers"][name] = _scores(classified, labels)
        readings["captions"][name] = _scores(parsed, labels)
    examples = [
        {"reference": chosen.captions[i][0], "motion": captions["motion"][i],
         "tracked": captions["tracked"][i]}
        for i in range(min(3, len(chosen)))
    ]  # fmt: skip
    return {
        "split": chosen.split,
        "n_clips": len(chosen),
        "n_untracked": len(sampled) - len(chosen),
        "seconds": round(time.perf_counter() - start, 1),
        **readings,
        "examples": examples,
    }


def _scores(read: list[dict[str, Any]], labels: list[dict[str, Any]]) -> dict[str, float]:
    """CorE / CorM / CorI: the share of clips whose attribute as ``read`` is the label's."""
    return {
        COR_NAMES[a]: float(np.mean([r[a] == lab[a] for r, lab in zip(read, labels, strict=True)]))
        for a in ATTRIBUTES
    }


def video_route_markdown(section: dict[str, Any]) -> list[str]:
    """The report's lines for :func:`video_route`'s result."""
    lines = [
        "",
        f"## The video route ({section['split']})",
        "",
        f"{section['n_clips']} clips rendered in the photo style and fitted by the tracker, as "
        f"`describe VIDEO` fits a video ({section['seconds']:.0f} s; "
        f"{section['n_untracked']} more with no face found). Share of clips whose "
        "attribute matches the label, read from the clip's own motion and from the fit:",
        "",
        "| reading | from | CorE | CorM | CorI |",
        "|---|---|---|---|---|",
    ]
    for kind, label in (("classifiers", "motion classifiers"), ("captions", "tdmm-lm caption")):
        for source in ("motion", "tracked"):
            r = section[kind][source]
            lines.append(
                f"| {label} | {'the clip' if source == 'motion' else 'its video, tracked'} "
                f"| {r['CorE']:.3f} | {r['CorM']:.3f} | {r['CorI']:.3f} |"
            )
    if section.get("examples"):
        lines += ["", "Examples (reference → caption of the clip → caption of its video):", ""]
        for e in section["examples"]:
            lines.append(f"- *{e['reference']}* → {e['motion']} → {e['tracked']}")
    return lines
