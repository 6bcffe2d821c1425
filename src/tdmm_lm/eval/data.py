"""The clips evaluation reads: a corpus split as arrays, texts and primary-segment labels.

Every evaluator target is an attribute of a clip's *primary* segment (its longest
non-neutral one), which the corpus's top-level ``labels`` describe: ``emotion_category``
(22 classes, neutral included), ``intensity`` (5 levels) and ``head_motion`` (11 types).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from tdmm_lm.errors import InvalidInputError
from tdmm_lm.prompts.lexicon import CATEGORIES
from tdmm_lm.prompts.schema import HEAD_MOTIONS, INTENSITY_LEVELS

__all__ = [
    "ATTRIBUTES",
    "ATTRIBUTE_CLASSES",
    "TEST_SPLITS",
    "ClipSet",
    "load_clips",
    "pad_batch",
]

#: The splits ``tdmm eval`` reports on.
TEST_SPLITS: tuple[str, ...] = ("test", "test_unseen_combo", "test_unseen_phrasing")
#: The attributes the classifiers predict and the caption parser reads, in report order.
ATTRIBUTES: tuple[str, ...] = ("emotion_category", "head_motion", "intensity")
#: The classes of each attribute, in a fixed order (the classifier heads' output order).
ATTRIBUTE_CLASSES: dict[str, tuple[str, ...]] = {
    "emotion_category": CATEGORIES,
    "head_motion": HEAD_MOTIONS,
    "intensity": INTENSITY_LEVELS,
}
_COLUMNS = ["id", "prompt", "captions", "labels", "fps", "n_frames", "space", "params"]


@dataclass
class ClipSet:
    """Clips of one corpus split, in corpus order (or a seeded subset of them).

    Attributes:
        split: The split's name.
        ids: Sample ids.
        params: One (T_i, 61) float32 ``arkit`` array per clip.
        prompts: The prompt of each clip.
        captions: The paraphrases of each clip (the M2L references).
        labels: The ``labels`` struct of each clip, as a dict (segments included).
        fps: Frame rate of every clip.
    """

    split: str
    ids: list[str]
    params: list[np.ndarray]
    prompts: list[str]
    captions: list[list[str]]
    labels: list[dict[str, Any]]
    fps: float
    _targets: dict[str, np.ndarray] = field(default_factory=dict, repr=False)

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def seconds(self) -> list[float]:
        """Duration of each clip."""
        return [len(p) / self.fps for p in self.params]

    def targets(self, attribute: str) -> np.ndarray:
        """(N,) int64 class index of ``attribute`` for each clip (see :data:`ATTRIBUTES`)."""
        if attribute not in self._targets:
            classes = ATTRIBUTE_CLASSES[attribute]
            self._targets[attribute] = np.array(
                [classes.index(lab[attribute]) for lab in self.labels], dtype=np.int64
            )
        return self._targets[attribute]

    def subset(self, index: np.ndarray | list[int]) -> ClipSet:
        """The clips at ``index``, in that order."""
        idx = [int(i) for i in index]
        return ClipSet(
            split=self.split,
            ids=[self.ids[i] for i in idx],
            params=[self.params[i] for i in idx],
            prompts=[self.prompts[i] for i in idx],
            captions=[self.captions[i] for i in idx],
            labels=[self.labels[i] for i in idx],
            fps=self.fps,
        )

    def sample(self, n: int | None, seed: int) -> ClipSet:
        """At most ``n`` clips drawn without replacement (all of them, in order, if fewer)."""
        if n is None or n >= len(self):
            return self
        rng = np.random.default_rng(seed)
        return self.subset(np.sort(rng.choice(len(self), size=n, replace=False)))


def load_clips(
    corpus: str | Path, split: str, max_clips: int | None = None, seed: int = 0
) -> ClipSet:
    """Read one split of a corpus for evaluation.

    Args:
        corpus: The corpus folder (``tdmm data build``).
        split: A split name (``train``, ``test``, …).
        max_clips: Keep a seeded random subset of at most this many clips (None: all).
        seed: Seed of the subset.

    Returns:
        The clips, with their parameters as (T, 61) arrays.

    Raises:
        InvalidInputError: The corpus is missing or unreadable, the split is unknown or
            empty, or the clips are not ``arkit`` motion.
    """
    import pyarrow as pa

    from tdmm_lm.data import read_manifest, read_split

    corpus = Path(corpus)
    read_manifest(corpus)  # a missing corpus or a wrong format fails here, with the fix
    table = read_split(corpus, split, columns=_COLUMNS)
    if table.num_rows == 0:
        raise InvalidInputError(
            f"{corpus}: split {split!r} is empty; build a larger corpus (`tdmm data build "
            "--hours H`) or choose another --split"
        )
    if max_clips is not None and max_clips < table.num_rows:
        rng = np.random.default_rng(seed)
        keep = np.sort(rng.choice(table.num_rows, size=max_clips, replace=False))
        table = table.take(pa.array(keep))
    spaces = set(table.column("space").to_pylist())
    if spaces != {"arkit"}:
        raise InvalidInputError(
            f"{corpus}: evaluation reads arkit motion, split {split!r} holds {sorted(spaces)}"
        )
    fps_values = set(table.column("fps").to_pylist())
    if len(fps_values) != 1:
        raise InvalidInputError(f"{corpus}: split {split!r} mixes frame rates {fps_values}")
    column = table.column("params").combine_chunks()
    flat = column.flatten().to_numpy(zero_copy_only=False).astype(np.float32, copy=False)
    offsets = column.offsets.to_numpy()
    frames = table.column("n_frames").to_numpy()
    params = []
    for i in range(table.num_rows):
        rows = flat[offsets[i] : offsets[i + 1]]
        params.append(rows.reshape(int(frames[i]), -1))
    return ClipSet(
        split=split,
        ids=table.column("id").to_pylist(),
        params=params,
        prompts=table.column("prompt").to_pylist(),
        captions=[list(c) for c in table.column("captions").to_pylist()],
        labels=table.column("labels").to_pylist(),
        fps=float(fps_values.pop()),
    )


def pad_batch(params: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Right-pad clips into one array.

    Args:
        params: B arrays of shape (T_i, D).

    Returns:
        ((B, T, D) float32 padded with zeros, (B, T) bool mask, True on real frames), with
        T the longest clip.
    """
    width = max(len(p) for p in params)
    dim = params[0].shape[1]
    out = np.zeros((len(params), width, dim), np.float32)
    mask = np.zeros((len(params), width), bool)
    for i, p in enumerate(params):
        out[i, : len(p)] = p
        mask[i, : len(p)] = True
    return out, mask
