"""``tdmm data card``: statistics, plots (PNG) and a Markdown dataset card for a corpus."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq

from tdmm_lm.data.format import CARD_DIR, SHARD_DIR, SPLITS, read_manifest
from tdmm_lm.face.spaces import ARKIT
from tdmm_lm.files import atomic_write

__all__ = ["CardStats", "corpus_statistics", "write_card"]

STYLE_SAMPLE_PER_GENERATOR = 200  # sequences per generator for the style comparison
ACTIVE_THRESHOLD = 0.1  # a blendshape counts as active in a frame above this weight
DURATION_BINS = np.arange(2.0, 8.5, 0.5)
LABEL_FIELDS = ("emotion_category", "intensity", "head_motion", "speaking")
CardStats = dict[str, Any]


def corpus_statistics(corpus: Path) -> CardStats:
    """Stream every shard once and gather the card's statistics."""
    counters: dict[str, Counter] = defaultdict(Counter)
    durations: list[float] = []
    words: Counter = Counter()
    channel_sum = np.zeros(ARKIT.dim)
    channel_active = np.zeros(ARKIT.dim)
    channel_peak = np.zeros(ARKIT.dim)
    n_frames_total = 0
    style_samples: dict[str, list[np.ndarray]] = defaultdict(list)
    for shard in sorted((Path(corpus) / SHARD_DIR).glob("*.parquet")):
        table = pq.read_table(shard)
        for row in table.to_pylist():
            labels = row["labels"]
            for field in LABEL_FIELDS:
                counters[field][labels[field]] += 1
            counters["generator"][row["generator"]] += 1
            counters["split"][row["split"]] += 1
            for segment in labels["segments"]:
                words[segment["emotion"]] += 1
            for action in labels["actions"]:
                counters["action"][action] += 1
            durations.append(row["n_frames"] / row["fps"])
            if row["space"] != ARKIT.id:
                continue
            params = np.asarray(row["params"], np.float32).reshape(row["n_frames"], -1)
            channel_sum += params.sum(axis=0)
            channel_active += (np.abs(params) > ACTIVE_THRESHOLD).sum(axis=0)
            channel_peak = np.maximum(channel_peak, np.abs(params).max(axis=0))
            n_frames_total += len(params)
            samples = style_samples[row["generator"]]
            if len(samples) < STYLE_SAMPLE_PER_GENERATOR:
                samples.append(params)
    frames = max(n_frames_total, 1)
    return {
        "counters": {k: dict(v.most_common()) for k, v in counters.items()},
        "durations": durations,
        "emotion_words": dict(words.most_common()),
        "channel_mean": (channel_sum / frames).tolist(),
        "channel_active_fraction": (channel_active / frames).tolist(),
        "channel_peak": channel_peak.tolist(),
        "style": _style_comparison(style_samples),
    }


def _style_comparison(samples: dict[str, list[np.ndarray]]) -> dict[str, dict[str, float]]:
    """Per-generator style statistics: how the generators differ."""
    try:
        from tdmm_lm.face import FaceSequence
        from tdmm_lm.synth import style_statistics
    except ImportError:
        return {}
    out = {}
    for name, params in samples.items():
        seqs = [FaceSequence(p, space="arkit", fps=25.0) for p in params]
        out[name] = {k: round(float(v), 4) for k, v in style_statistics(seqs).items()}
    return out


def _bar(ax: Any, counts: dict[str, int], title: str) -> None:
    names = list(counts)
    ax.bar(range(len(names)), [counts[n] for n in names], color="#4a6fa5")
    ax.set_xticks(range(len(names)))
    ax.set_xticklabels(names, rotation=60, ha="right", fontsize=8)
    ax.set_title(title)
    ax.set_ylabel("samples")


def _plots(stats: CardStats, out: Path) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    written = []
    counters = stats["counters"]
    for field in (*LABEL_FIELDS, "generator", "split"):
        fig, ax = plt.subplots(figsize=(9, 4), layout="constrained")
        _bar(ax, counters.get(field, {}), f"balance: {field.replace('_', ' ')}")
        name = f"balance_{field}.png"
        fig.savefig(out / name, dpi=110)
        plt.close(fig)
        written.append(name)
    fig, ax = plt.subplots(figsize=(7, 4), layout="constrained")
    ax.hist(stats["durations"], bins=DURATION_BINS, color="#4a6fa5")
    ax.set_xlabel("clip duration (s)")
    ax.set_ylabel("samples")
    ax.set_title("duration histogram")
    fig.savefig(out / "durations.png", dpi=110)
    plt.close(fig)
    written.append("durations.png")
    fig, ax = plt.subplots(figsize=(14, 4.5), layout="constrained")
    x = np.arange(ARKIT.dim)
    ax.bar(x, stats["channel_active_fraction"], color="#4a6fa5", label=f"> {ACTIVE_THRESHOLD}")
    ax.plot(x, np.abs(stats["channel_mean"]), "o", color="#c0504d", ms=3, label="mean |value|")
    ax.set_xticks(x)
    ax.set_xticklabels(ARKIT.channels, rotation=90, fontsize=7)
    ax.set_title("per-channel activity: fraction of frames active, and mean value")
    ax.legend()
    fig.savefig(out / "channel_activity.png", dpi=110)
    plt.close(fig)
    written.append("channel_activity.png")
    return written


def _table(counts: dict[str, int]) -> str:
    total = max(sum(counts.values()), 1)
    lines = ["| value | samples | share |", "|---|---:|---:|"]
    lines += [f"| {k} | {v} | {100 * v / total:.1f} % |" for k, v in counts.items()]
    return "\n".join(lines)


def _markdown(corpus: Path, stats: CardStats, plots: list[str]) -> str:
    manifest = read_manifest(corpus)
    settings = {k: v for k, v in manifest.settings.items() if k != "block_sizes"}
    counters = stats["counters"]
    words = stats["emotion_words"]
    order = np.argsort(stats["channel_active_fraction"])[::-1]
    busiest = ", ".join(ARKIT.channels[i] for i in order[:8])
    quietest = ", ".join(ARKIT.channels[i] for i in order[-8:])
    parts = [
        f"# Dataset card: {corpus.name}",
        "",
        "A text-paired facial-motion corpus made by tdmm-lm: each sample pairs a prompt and "
        "at least four paraphrased captions with a sequence of per-frame `arkit` parameters "
        "(52 ARKit blendshapes, head and eye rotations) and structured labels.",
        "",
        "## How it was made",
        "",
        "Prompts come from the prompt suite (emotion words in balanced categories × five "
        "intensity levels × head motions, with micro-actions, speaking styles and 1–3 timed "
        "segments). Each prompt is performed by one of the generators below, chosen evenly.",
        "",
        f"- settings: `{json.dumps(settings)}`",
        f"- format version {manifest.format_version}, tdmm-lm {manifest.tdmm_lm_version}",
        f"- hours of motion: {manifest.hours.get('total', 0):.2f}",
        "",
        "## Splits",
        "",
        _table({s: manifest.counts.get(s, 0) for s in SPLITS}),
        "",
        "`test_unseen_combo` holds every sample with an (emotion category, head motion) pair "
        "kept out of training; `test_unseen_phrasing` holds samples worded with synonyms and "
        "sentence frames that training never sees.",
        "",
        "## Balance",
        "",
    ]
    for field in (*LABEL_FIELDS, "generator"):
        parts += [f"### {field.replace('_', ' ')}", "", _table(counters.get(field, {})), ""]
    parts += [
        f"Distinct emotion / expression words over all segments: **{len(words)}**.",
        "",
        "## Generator styles",
        "",
        "The generators are built differently so that the corpus carries no single "
        "generator's fingerprint. Their motion statistics, on up to "
        f"{STYLE_SAMPLE_PER_GENERATOR} samples each:",
        "",
    ]
    style = stats["style"]
    if style:
        keys = sorted({k for v in style.values() for k in v})
        parts.append("| statistic | " + " | ".join(style) + " |")
        parts.append("|---|" + "---:|" * len(style))
        parts += [
            f"| {k} | " + " | ".join(str(style[g].get(k, "")) for g in style) + " |" for k in keys
        ]
    parts += [
        "",
        "## Channel activity",
        "",
        f"Most active channels: {busiest}. Least active: {quietest}.",
        "",
        "## Known biases and limits",
        "",
        "- All motion is procedural (or tracked from videos rendered from procedural motion): "
        "it follows the expression recipes of the prompt suite, which are FACS-informed "
        "but hand-written, so every word of a category shares a family resemblance and real "
        "idiosyncrasies (asymmetric habits, speech visemes of a real language) are absent.",
        "- Speech is speech-*like* mouth activity, not visemes of real words.",
        "- Identity does not vary in parameter space: the `arkit` rig has no identity "
        "channels; per-actor variation is limited to gains, timing and asymmetry.",
        "- Categories, intensities and head motions are balanced by construction, which does "
        "not reflect how often they occur in real footage (neutral and mild states dominate "
        "real video).",
        "- Captions are English, generated from templates with synonyms; their grammar is "
        "regular compared to human descriptions.",
        "",
        "## Plots",
        "",
    ]
    parts += [f"![{p}]({p})" for p in plots]
    return "\n".join(parts) + "\n"


def write_card(corpus: str | Path) -> Path:
    """Write ``CORPUS/card/``: PNG plots, ``stats.json`` and ``dataset_card.md``.

    Returns:
        The path of ``dataset_card.md``.
    """
    corpus = Path(corpus)
    read_manifest(corpus)  # clear error if this is not a corpus
    out = corpus / CARD_DIR
    out.mkdir(parents=True, exist_ok=True)
    stats = corpus_statistics(corpus)
    plots = _plots(stats, out)
    summary = {k: v for k, v in stats.items() if k != "durations"}
    with atomic_write(out / "stats.json") as f:
        f.write(json.dumps(summary, indent=2).encode())
    card = out / "dataset_card.md"
    with atomic_write(card) as f:
        f.write(_markdown(corpus, stats, plots).encode())
    return card
