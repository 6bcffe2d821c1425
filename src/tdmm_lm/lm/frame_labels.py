"""Per-token labels of a clip: which emotion, intensity and head motion each frame belongs to.

Motion2Language has to name a clip's emotion, but a caption states it in one word among
forty, so the caption loss alone teaches the model to read emotion from motion very slowly:
measured, a 2400-step release model sampled emotion words no better than chance, while it
got head motion right (head pose is a few channels; emotion is a pattern over dozens of
blendshapes). The corpus knows each segment's labels and times, so every motion token can
carry them. Auxiliary heads that predict them from the hidden state of each motion token
(:class:`~tdmm_lm.lm.model.TdmmGPT`, ``aux_classes``) give the motion-reading layers a
dense signal: about a hundred labelled positions per clip instead of one word.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tdmm_lm.prompts import CATEGORIES, HEAD_MOTIONS, INTENSITY_LEVELS

__all__ = ["FRAME_LABEL_CLASSES", "FRAME_LABEL_FIELDS", "IGNORE", "frame_labels"]

#: The segment fields each motion token is labelled with, in column order.
FRAME_LABEL_FIELDS: tuple[str, ...] = ("emotion_category", "intensity", "head_motion")
#: The classes of each field, in the same order.
FRAME_LABEL_CLASSES: tuple[tuple[str, ...], ...] = (CATEGORIES, INTENSITY_LEVELS, HEAD_MOTIONS)
#: Label of a token whose field is unknown (no loss is taken there).
IGNORE = -1


def frame_labels(labels: dict[str, Any], n_tokens: int, seconds: float) -> np.ndarray:
    """The segment labels of each motion token of a clip.

    Args:
        labels: The clip's corpus ``labels`` struct (its ``segments`` with times).
        n_tokens: Motion tokens of the clip (tokens are evenly spread over its duration).
        seconds: The clip's duration.

    Returns:
        (n_tokens, len(FRAME_LABEL_FIELDS)) int64 class indices; :data:`IGNORE` where a
        token lies in no segment or a value is not a known class.
    """
    out = np.full((n_tokens, len(FRAME_LABEL_FIELDS)), IGNORE, dtype=np.int64)
    segments = labels.get("segments") or []
    if not n_tokens or not segments or seconds <= 0:
        return out
    centres = (np.arange(n_tokens) + 0.5) * (seconds / n_tokens)  # (N,) token times, s
    ends = np.array([float(s["end_s"]) for s in segments])
    which = np.minimum(np.searchsorted(ends, centres, side="right"), len(segments) - 1)
    columns = zip(FRAME_LABEL_FIELDS, FRAME_LABEL_CLASSES, strict=True)
    for col, (field, classes) in enumerate(columns):
        index = {name: k for k, name in enumerate(classes)}
        per_segment = np.array([index.get(s.get(field), IGNORE) for s in segments])
        out[:, col] = per_segment[which]
    return out
