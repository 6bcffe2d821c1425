"""Captioning metrics of Motion2Language: BLEU-1/4, ROUGE-L, CIDEr-D and a MiniLM BERTScore.

Pure Python and NumPy, so no Java is needed (the COCO caption toolkit calls Java only for
its tokeniser). **Tokenisation**, applied identically to hypotheses and references:
:func:`caption_tokens` lower-cases the text and keeps the runs of letters and digits,
hyphens and apostrophes inside a word included (``self-satisfaction``, ``left-eyed``); every
other character (punctuation, whitespace) separates tokens and is dropped. This is what the
toolkit's PTBTokenizer followed by its punctuation filter gives for caption text like ours.

The scorers follow the COCO caption toolkit (``pycocoevalcap``):

* **BLEU** is corpus-level (clipped n-gram counts and lengths are summed over the whole set
  before the geometric mean), with the brevity penalty against the closest reference length.
* **ROUGE-L** is the LCS F-measure with beta = 1.2, taking the best precision and the best
  recall over the references, averaged over samples.
* **CIDEr-D** uses n = 1..4, sigma = 6, the clipped tf-idf product, the length penalty and
  the factor 10; document frequencies come from the references of the evaluated set.

Scores are computed per sample (or as per-sample sufficient statistics for BLEU), so that
repeats can resample the evaluated clips cheaply (:func:`bleu_from_stats`).

**BERTScore-style:** greedy cosine matching of the shipped MiniLM's last-layer token states
([CLS] and [SEP] dropped, no idf weighting, no baseline rescaling); with several references
the best F1 counts, as in ``bert_score``.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence

import numpy as np

__all__ = [
    "bertscore",
    "bleu",
    "bleu_from_stats",
    "bleu_stats",
    "caption_tokens",
    "cider_d",
    "rouge_l",
]

_TOKEN = re.compile(r"[a-z0-9]+(?:['\-][a-z0-9]+)*")
#: Longest n-gram of BLEU and CIDEr.
MAX_N = 4
ROUGE_BETA = 1.2
CIDER_SIGMA = 6.0


def caption_tokens(text: str) -> list[str]:
    """The documented tokenisation: lower-case words (inner hyphens/apostrophes kept)."""
    return _TOKEN.findall(text.lower())


def _ngrams(words: Sequence[str], n: int) -> Counter[tuple[str, ...]]:
    return Counter(tuple(words[i : i + n]) for i in range(len(words) - n + 1))


# -- BLEU -------------------------------------------------------------------------------------


def bleu_stats(hypothesis: str, references: Sequence[str]) -> np.ndarray:
    """Sufficient statistics of one sample for corpus BLEU.

    Returns:
        (2 + 2 * MAX_N,) float64: hypothesis length, closest reference length, then for
        n = 1..4 the clipped n-gram matches and the hypothesis n-gram count.
    """
    hyp = caption_tokens(hypothesis)
    refs = [caption_tokens(r) for r in references]
    if not refs:
        raise ValueError("bleu needs at least one reference per hypothesis")
    closest = min((abs(len(r) - len(hyp)), len(r)) for r in refs)[1]
    out = [len(hyp), closest]
    for n in range(1, MAX_N + 1):
        counts = _ngrams(hyp, n)
        most: Counter[tuple[str, ...]] = Counter()
        for r in refs:
            most |= _ngrams(r, n)  # element-wise max over references
        out += [sum(min(c, most[g]) for g, c in counts.items()), max(len(hyp) - n + 1, 0)]
    return np.asarray(out, dtype=np.float64)


def bleu_from_stats(stats: np.ndarray) -> tuple[float, float]:
    """Corpus BLEU-1 and BLEU-4 from summed (or stacked (N, 10)) :func:`bleu_stats`."""
    total = np.asarray(stats, np.float64)
    if total.ndim == 2:
        total = total.sum(0)
    hyp_len, ref_len = total[0], total[1]
    if hyp_len == 0:
        return 0.0, 0.0
    brevity = 1.0 if hyp_len > ref_len else math.exp(1.0 - ref_len / hyp_len)
    precisions = [
        total[2 + 2 * k] / total[3 + 2 * k] if total[3 + 2 * k] else 0.0 for k in range(MAX_N)
    ]
    b1 = brevity * precisions[0]
    if min(precisions) == 0.0:
        return float(b1), 0.0
    b4 = brevity * math.exp(sum(math.log(p) for p in precisions) / MAX_N)
    return float(b1), float(b4)


def bleu(hypotheses: Sequence[str], references: Sequence[Sequence[str]]) -> tuple[float, float]:
    """Corpus BLEU-1 and BLEU-4 of hypotheses against their reference lists."""
    return bleu_from_stats(
        np.stack([bleu_stats(h, r) for h, r in zip(hypotheses, references, strict=True)])
    )


# -- ROUGE-L ----------------------------------------------------------------------------------


def _lcs(a: Sequence[str], b: Sequence[str]) -> int:
    """Length of the longest common subsequence."""
    previous = [0] * (len(b) + 1)
    for x in a:
        current = [0]
        for j, y in enumerate(b):
            current.append(previous[j] + 1 if x == y else max(previous[j + 1], current[j]))
        previous = current
    return previous[-1]


def rouge_l(hypotheses: Sequence[str], references: Sequence[Sequence[str]]) -> np.ndarray:
    """Per-sample ROUGE-L F-measure (beta 1.2, best precision and recall over references).

    Returns:
        (N,) float64 scores in [0, 1].
    """
    out = []
    for hypothesis, refs in zip(hypotheses, references, strict=True):
        hyp = caption_tokens(hypothesis)
        best_p = best_r = 0.0
        for ref in refs:
            words = caption_tokens(ref)
            common = _lcs(hyp, words)
            if hyp and words:
                best_p = max(best_p, common / len(hyp))
                best_r = max(best_r, common / len(words))
        if best_p > 0 and best_r > 0:
            beta2 = ROUGE_BETA**2
            out.append((1 + beta2) * best_p * best_r / (best_r + beta2 * best_p))
        else:
            out.append(0.0)
    return np.asarray(out, dtype=np.float64)


# -- CIDEr-D ----------------------------------------------------------------------------------


def _tfidf(
    words: Sequence[str], df: Counter[tuple[str, ...]], log_n: float
) -> tuple[list[dict[tuple[str, ...], float]], list[float], int]:
    """Per-n tf-idf vectors, their norms, and the bigram count (CIDEr-D's length)."""
    vectors, norms = [], []
    for n in range(1, MAX_N + 1):
        vec = {g: c * (log_n - math.log(max(1.0, df[g]))) for g, c in _ngrams(words, n).items()}
        vectors.append(vec)
        norms.append(math.sqrt(sum(v * v for v in vec.values())))
    return vectors, norms, max(len(words) - 1, 0)


def cider_d(hypotheses: Sequence[str], references: Sequence[Sequence[str]]) -> np.ndarray:
    """Per-sample CIDEr-D; document frequencies from the references of this set.

    Returns:
        (N,) float64 scores (the corpus CIDEr-D is their mean).
    """
    refs = [[caption_tokens(r) for r in rs] for rs in references]
    df: Counter[tuple[str, ...]] = Counter()
    for rs in refs:
        df.update({g for r in rs for n in range(1, MAX_N + 1) for g in _ngrams(r, n)})
    log_n = math.log(float(max(len(refs), 1)))
    scores = []
    for hypothesis, rs in zip(hypotheses, refs, strict=True):
        h_vec, h_norm, h_len = _tfidf(caption_tokens(hypothesis), df, log_n)
        total = 0.0
        for ref in rs:
            r_vec, r_norm, r_len = _tfidf(ref, df, log_n)
            penalty = math.exp(-((h_len - r_len) ** 2) / (2 * CIDER_SIGMA**2))
            for n in range(MAX_N):
                if h_norm[n] == 0 or r_norm[n] == 0:
                    continue
                dot = sum(
                    min(v, r_vec[n].get(g, 0.0)) * r_vec[n].get(g, 0.0) for g, v in h_vec[n].items()
                )
                total += dot / (h_norm[n] * r_norm[n]) * penalty
        scores.append(10.0 * total / MAX_N / max(len(rs), 1))
    return np.asarray(scores, dtype=np.float64)


# -- BERTScore --------------------------------------------------------------------------------


def _unit(states: np.ndarray) -> np.ndarray:
    """Token states without [CLS]/[SEP], L2-normalised: (P - 2, D)."""
    inner = states[1:-1] if len(states) > 2 else states
    return inner / np.maximum(np.linalg.norm(inner, axis=1, keepdims=True), 1e-12)


def bertscore(
    hypotheses: Sequence[np.ndarray], references: Sequence[Sequence[np.ndarray]]
) -> np.ndarray:
    """Per-sample BERTScore-style precision, recall and F1 from token states.

    Args:
        hypotheses: One (P, D) array of MiniLM token states per sample ([CLS] … [SEP]).
        references: For each sample, the token-state arrays of its references.

    Returns:
        (N, 3) float64: precision, recall, F1 of the reference with the best F1.
    """
    out = np.zeros((len(hypotheses), 3))
    for i, (hyp, refs) in enumerate(zip(hypotheses, references, strict=True)):
        h = _unit(hyp)
        for ref in refs:
            sim = h @ _unit(ref).T  # (P_h, P_r)
            p, r = sim.max(1).mean(), sim.max(0).mean()
            f = 2 * p * r / (p + r) if p + r > 0 else 0.0
            if f > out[i, 2]:
                out[i] = (p, r, f)
    return out
