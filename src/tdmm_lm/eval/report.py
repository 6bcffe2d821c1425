"""The report folder of ``tdmm eval``: JSON, Markdown tables and PNG plots.

::

    REPORT/report.json              every metric of every system and split: {mean, ci95, n}
    REPORT/report.md                the same as tables, with the protocol and examples
    REPORT/confusion_l2m.png        emotion category: prompt label vs classifier on generated motion
    REPORT/confusion_m2l.png        emotion category: label vs caption parser on generated text
    REPORT/r_precision.png          R@1/2/3 (L2M) and R@1/3 (M2L) by system and split
    REPORT/contact_sheet.png        ground truth beside generated motion for test prompts (mesh)
"""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import numpy as np

from tdmm_lm.eval.data import ATTRIBUTE_CLASSES
from tdmm_lm.eval.video_route import video_route_markdown
from tdmm_lm.files import write_json_atomic, write_text_atomic

__all__ = ["format_markdown", "write_report"]

#: Which way is better, for the table headers.
DIRECTION = {
    "L2": "↓", "FD": "↓", "Tok": "↑", "R@1": "↑", "R@2": "↑", "R@3": "↑", "MM-Dist": "↓",
    "Diversity": "→GT", "MultiModality": "↑", "CorE": "↑", "CorM": "↑", "CorI": "↑",
    "CorE-1": "↑", "BLEU-1": "↑", "BLEU-4": "↑", "ROUGE-L": "↑", "CIDEr": "↑", "BERTScore-F1": "↑",
    "BERTScore-P": "↑", "BERTScore-R": "↑",
}  # fmt: skip
SHEET_TILE = 144
SHEET_FRAMES = 4
SHEET_LABEL = 34


def write_report(report: dict[str, Any], extras: dict[str, Any], out: Path) -> None:
    """Write report.json, the plots and report.md into ``out``.

    Args:
        report: The JSON-able report (:func:`~tdmm_lm.eval.harness.run_eval`).
        extras: Per split, what the plots need: emotion predictions and labels of both
            directions, the contact-sheet clips and their generations, caption examples.
        out: The report folder (created).
    """
    out.mkdir(parents=True, exist_ok=True)
    write_json_atomic(out / "report.json", report, ensure_ascii=False)
    split = "test" if "test" in extras else next(iter(extras))
    data = extras[split]
    plots = {}
    classes = ATTRIBUTE_CLASSES["emotion_category"]
    for key, direction, title in (
        ("confusion_l2m", "l2m", "Language2Motion: prompt label vs classifier on tdmm-lm motion"),
        ("confusion_m2l", "m2l", "Motion2Language: label vs parser on tdmm-lm captions"),
    ):
        path = out / f"{key}.png"
        plot_confusion(data[f"{direction}_truth"], data[f"{direction}_emotion"], classes,
                       f"{title} ({split})", path)  # fmt: skip
        plots[key] = path.name
    plot_r_precision(report, out / "r_precision.png")
    plots["r_precision"] = "r_precision.png"
    sheet = data.get("sheet") or {}
    n_sheet = report["meta"]["config"]["sheet_prompts"]
    if sheet and n_sheet:
        contact_sheet(sheet["clips"], sheet["generated"], n_sheet, out / "contact_sheet.png")
        plots["contact_sheet"] = "contact_sheet.png"
    write_text_atomic(out / "report.md", format_markdown(report, extras, plots))


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_confusion(
    truth: list[str], predicted: list[str | None], classes: tuple[str, ...], title: str, path: Path
) -> None:
    """Plot a row-normalised confusion matrix (a missing prediction counts in no column)."""
    from tdmm_lm.eval.metrics import confusion_matrix

    plt = _pyplot()
    counts = confusion_matrix([p or "" for p in predicted], truth, classes)
    rows = np.array([sum(t == c for t in truth) for c in classes], dtype=np.float64)
    share = counts / np.maximum(rows, 1)[:, None]
    fig, ax = plt.subplots(figsize=(9, 8))
    image = ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(classes)), classes, rotation=90, fontsize=7)
    ax.set_yticks(
        range(len(classes)),
        [f"{c} ({int(n)})" for c, n in zip(classes, rows, strict=True)],
        fontsize=7,
    )
    ax.set_xlabel("predicted")
    ax.set_ylabel("true (samples)")
    ax.set_title(title, fontsize=9)
    fig.colorbar(image, ax=ax, fraction=0.04)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def plot_r_precision(report: dict[str, Any], path: Path) -> None:
    """Bars of R@k by system, one column per split, L2M above M2L, with 95% intervals."""
    plt = _pyplot()
    splits = list(report["splits"])
    fig, axes = plt.subplots(2, len(splits), figsize=(4.5 * len(splits), 6.5), squeeze=False)
    for col, split in enumerate(splits):
        for row, (direction, ks) in enumerate((("l2m", (1, 2, 3)), ("m2l", (1, 3)))):
            ax = axes[row, col]
            table = report["splits"][split][direction]
            systems = list(table)
            width = 0.8 / len(ks)
            for j, k in enumerate(ks):
                cells = [table[s][f"R@{k}"] for s in systems]
                means = [c["mean"] or 0.0 for c in cells]
                errors = [c["ci95"] or 0.0 for c in cells]
                x = np.arange(len(systems)) + (j - (len(ks) - 1) / 2) * width
                ax.bar(x, means, width, yerr=errors, capsize=2, label=f"R@{k}")
            ax.set_xticks(range(len(systems)), systems, rotation=20, fontsize=8)
            ax.set_ylim(0, 1)
            ax.set_title(
                f"{split}: {'Language2Motion' if direction == 'l2m' else 'Motion2Language'}",
                fontsize=9,
            )
            ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def contact_sheet(clips: Any, generated: list[np.ndarray], n: int, path: Path) -> None:
    """Ground truth beside generated motion: one row per prompt, mesh style.

    Each row shows the prompt, then ``SHEET_FRAMES`` evenly spaced frames of the ground truth
    and the same instants of the generated motion.
    """
    import cv2

    from tdmm_lm.face import FaceModel
    from tdmm_lm.render import MeshRenderer

    renderer = MeshRenderer(FaceModel(), SHEET_TILE)
    rows = []
    width = 2 * SHEET_FRAMES * SHEET_TILE + SHEET_TILE // 4
    for i in range(min(n, len(generated))):
        tiles = []
        for params in (clips.params[i], generated[i]):
            at = np.linspace(0, len(params) - 1, SHEET_FRAMES + 2)[1:-1].round().astype(int)
            tiles.append(np.concatenate(list(renderer.frames(params[at])), axis=1))
        gap = np.full((SHEET_TILE, SHEET_TILE // 4, 3), 255, np.uint8)
        label = np.full((SHEET_LABEL, width, 3), 255, np.uint8)
        lines = textwrap.wrap(f"{i + 1}. {clips.prompts[i]}", 150)[:2]
        for k, line in enumerate(lines):
            cv2.putText(
                label,
                line,
                (4, 13 + 15 * k),
                cv2.FONT_HERSHEY_SIMPLEX,
                0.38,
                (0, 0, 0),
                1,
                cv2.LINE_AA,
            )
        rows.append(np.concatenate([label, np.concatenate([tiles[0], gap, tiles[1]], axis=1)]))
    header = np.full((24, width, 3), 255, np.uint8)
    for text, x in (
        ("ground truth", 4),
        ("tdmm-lm", SHEET_FRAMES * SHEET_TILE + SHEET_TILE // 4 + 4),
    ):
        cv2.putText(
            header, text, (x, 17), cv2.FONT_HERSHEY_SIMPLEX, 0.55, (0, 0, 0), 1, cv2.LINE_AA
        )
    sheet = np.concatenate([header, *rows])
    cv2.imwrite(str(path), cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_PNG_COMPRESSION, 9])


def _cell(value: dict[str, Any]) -> str:
    if value.get("mean") is None:
        return "–"
    return f"{value['mean']:.3f} ± {value['ci95']:.3f}"


def _table(section: dict[str, dict[str, Any]], metrics: list[str]) -> list[str]:
    head = ["system", *[f"{m} {DIRECTION.get(m, '')}".strip() for m in metrics]]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for system, values in section.items():
        lines.append("| " + " | ".join([system, *[_cell(values[m]) for m in metrics]]) + " |")
    return lines


def _prompt_intervals(section: dict[str, dict[str, Any]], n_prompts: int) -> list[str]:
    """A line of the attribute figures' 95% half-widths over the prompts drawn."""
    cells = []
    for system, values in section.items():
        halves = [f"{m} ± {v['ci95_prompts']:.3f}" for m, v in values.items()
                  if "ci95_prompts" in v]  # fmt: skip
        if halves:
            cells.append(f"{system} {', '.join(halves)}")
    if not cells:  # a report written before the interval existed
        return []
    return [
        f"Over the {n_prompts} prompts drawn (how far another draw of as many prompts could "
        "move them, 95%): " + "; ".join(cells) + ".",
        "",
    ]


def format_markdown(report: dict[str, Any], extras: dict[str, Any], plots: dict[str, str]) -> str:
    """The report as Markdown: setup, evaluators, one section per split, plots, protocol."""
    meta = report["meta"]
    cfg = meta["config"]
    lines = [
        "# tdmm-lm evaluation report",
        "",
        f"- model: `{meta['model']}`",
        f"- corpus: `{meta['corpus']}` (split sizes: "
        + ", ".join(f"{k} {v}" for k, v in meta["split_sizes"].items()) + ")",
        f"- evaluators: `{meta['evaluators']}`; "
        f"T2M-GPT-style baseline: `{meta['baseline_t2m_gpt']}`",
        f"- repeats: {cfg['repeats']}{' (--quick)' if cfg['quick'] else ''}; seed {cfg['seed']}; "
        f"{meta['seconds']:.0f} s; tdmm-lm {meta['tdmm_lm_version']}",
        "- time by job (each its own process's wall time; jobs share the workers): "
        + (", ".join(f"{k} {v:.0f} s" for k, v in meta.get("job_seconds", {}).items()) or "–"),
        "- every cell: mean ± 95% interval over the repeats; ↑ higher is better, ↓ lower, "
        "→GT closer to ground truth; – not applicable",
        "",
        "## Evaluators on ground truth",
        "",
        "Attribute accuracy of the motion classifiers (on the test motion itself) and of the "
        "caption parser (on the test prompts), on this corpus:",
        "",
        "| split | classifier CorE | CorM | CorI | parser CorE | CorM | CorI |",
        "|---|---|---|---|---|---|---|",
    ]  # fmt: skip
    for split, reading in report["evaluators"]["on_this_corpus"].items():
        c, p = reading["classifiers"], reading["caption_parser"]
        cells = [c["emotion_category"], c["head_motion"], c["intensity"],
                 p["emotion_category"], p["head_motion"], p["intensity"]]  # fmt: skip
        lines.append(f"| {split} | " + " | ".join(f"{v:.3f}" for v in cells) + " |")
    stored = report["evaluators"].get("as_trained")
    if stored:
        lines += ["", "As trained (their own corpus, `evaluators/report.json`):", ""]
        for split, r in stored.get("splits", {}).items():
            acc = ", ".join(f"{a} {v:.3f}" for a, v in r["accuracy"].items())
            ret = ", ".join(f"{k} {v:.3f}" for k, v in r["retrieval"].items())
            lines.append(f"- {split} ({r['n']} clips): {acc}; text-motion {ret}")
    for split, section in report["splits"].items():
        lines += [
            "",
            f"## {split}",
            "",
            f"{section['n_clips']} clips; Language2Motion on {section['n_l2m']} "
            f"(R-precision groups of {section['group_size']}), Motion2Language on "
            f"{section['n_m2l']}.",
            "",
            "### Language2Motion",
            "",
            *_table(section["l2m"], meta["metrics"]["l2m"]),
            "",
            *_prompt_intervals(section["l2m"], section["n_l2m"]),
            "### Motion2Language",
            "",
            *_table(section["m2l"], meta["metrics"]["m2l"]),
            "",
        ]
        examples = section.get("examples", [])
        if examples:
            lines += ["Examples (reference prompt → tdmm-lm caption):", ""]
            for e in examples:
                lines.append(f"- *{e['reference']}* → {e['tdmm-lm']}")
    if "video_route" in report:
        lines += video_route_markdown(report["video_route"])
    lines += ["", "## Plots", ""]
    lines += [f"![{name}]({file})" for name, file in plots.items()]
    lines += ["", "## Protocol", "", *PROTOCOL_NOTES]
    return "\n".join(lines) + "\n"


PROTOCOL_NOTES = [
    "- **Systems.** tdmm-lm: the model. t2m-gpt: the same motion tokenizer and a GPT "
    "conditioned only on a frozen MiniLM sentence embedding, trained by the same recipe "
    "(text-to-motion only, so it has no Motion2Language row). retrieval: the training clip "
    "with the nearest prompt (L2M) or motion (M2L) in the evaluator's embedding space. floor: "
    "the mean training motion; the most frequent training prompt. ground-truth: the test "
    "motion itself; the test prompt scored against the other captions.",
    "- **Language2Motion.** Each repeat generates every prompt anew (new seed) and draws new "
    "R-precision groups (1 true + 31 mismatched prompts per motion) and 300 Diversity pairs; "
    "MultiModality draws 10 pairs among 30 generations of each of up to 100 prompts. L2 is "
    "the mean per-frame Euclidean distance over the 61 parameters. FD is the Fréchet "
    "distance between evaluator embeddings of generated and ground-truth motion of the same "
    "prompts. Tok is teacher-forced next-motion-token accuracy (bootstrapped over clips). "
    "CorE/CorM/CorI: the motion classifiers' emotion category, head motion and intensity "
    "of the generated motion against the prompt's labels; their second interval is over the "
    "prompts drawn (each prompt's share of right generations a sample), which the repeats "
    "cannot show. CorE-1 is CorE on the clips "
    "with at most one non-neutral segment: with two or more, the label is the longest one, "
    "and the prompt does not say which that is.",
    "- **Motion2Language.** Captions are greedy, so each repeat resamples the clips "
    "(bootstrap). References are the clip's captions (not its prompt). Tokenisation: "
    "lower-case, words of letters and digits with inner hyphens or apostrophes, punctuation "
    "dropped. BLEU is corpus-level (COCO), ROUGE-L has beta 1.2, CIDEr is CIDEr-D with "
    "document frequencies from the evaluated references; BERTScore greedily matches MiniLM "
    "token states (no idf, no rescaling). R@k retrieves the clip's motion from the caption "
    "among 32. CorE/CorM/CorI: attributes the caption parser reads from the caption.",
    "- **The video route.** A seeded subset of the test clips is rendered in the photo "
    "style and fitted by the tracker with its default settings, as `describe VIDEO` does; "
    "the motion classifiers and the model's captions are scored on the clip's own motion and "
    "on the fit, against the clip's labels (no interval: a gauge of the route).",
    "- **--quick** runs the same protocol with 3 repeats, at most 32 clips per split and "
    "direction, MultiModality on 8 prompts x 6 generations, a 300-clip retrieval index and 4 "
    "clips through the video route: a smoke test of the whole pipeline, not figures to "
    "quote.",
]
