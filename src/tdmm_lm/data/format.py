"""The corpus on disk: layout, manifest, Parquet schema, and the read/write pair for each.

::

    CORPUS/
      manifest.json                        format version, settings, counts, hours, splits
      data/
        data/{split}-{k:05d}-of-{n:05d}.parquet   one shard per (split, block k of n)
      videos/...                           only for video-based generators
      card/                                `tdmm data card` output (Markdown + PNG)

Why ``data/data/``: ``datasets.load_dataset("parquet", data_dir=CORPUS/data)`` only keeps
custom split names (``val``, ``test_unseen_combo``, …) for files matching its sharded pattern
``data/{split}-NNNNN-of-NNNNN.parquet`` *below* ``data_dir``; any other layout folds them
into ``train``/``validation``/``test``. The corpus is still one folder of Parquet shards,
readable with pyarrow (``pyarrow.dataset.dataset(CORPUS/data)``) as well.

A corpus is built in *blocks*: block ``k`` is a fixed, seed-determined set of samples,
written as one shard per split. A shard file is complete or absent (atomic rename), so a
killed build resumes by regenerating only the blocks whose shards are missing.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from tdmm_lm.errors import InvalidInputError
from tdmm_lm.files import atomic_write

__all__ = [
    "CORPUS_FORMAT_VERSION",
    "PARQUET_SCHEMA",
    "SPLITS",
    "VIDEO_DIR",
    "Manifest",
    "iter_samples",
    "read_manifest",
    "read_split",
    "remove_partial_shards",
    "shard_path",
    "write_manifest",
    "write_shard",
]

CORPUS_FORMAT_VERSION = 1
SPLITS: tuple[str, ...] = ("train", "val", "test", "test_unseen_combo", "test_unseen_phrasing")
MANIFEST_NAME = "manifest.json"
DATA_DIR = "data"
SHARD_DIR = "data/data"
VIDEO_DIR = "videos"
CARD_DIR = "card"

_SEGMENT = pa.struct(
    [
        ("start_s", pa.float32()),
        ("end_s", pa.float32()),
        ("emotion", pa.string()),
        ("emotion_category", pa.string()),
        ("intensity", pa.string()),
        ("head_motion", pa.string()),
        ("head_count", pa.int32()),
        ("head_speed", pa.string()),
        ("speaking", pa.string()),
        ("actions", pa.list_(pa.string())),
    ]
)
_LABELS = pa.struct(
    [
        ("emotion", pa.string()),
        ("emotion_category", pa.string()),
        ("intensity", pa.string()),
        ("head_motion", pa.string()),
        ("speaking", pa.string()),
        ("actions", pa.list_(pa.string())),
        ("segments", pa.list_(_SEGMENT)),
    ]
)
#: Columns of every shard (SPEC §6), plus ``seed`` and ``held_out_phrasing`` for provenance.
PARQUET_SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        ("split", pa.string()),
        ("prompt", pa.string()),
        ("captions", pa.list_(pa.string())),
        ("labels", _LABELS),
        ("generator", pa.string()),
        ("fps", pa.float32()),
        ("n_frames", pa.int32()),
        ("space", pa.string()),
        ("params", pa.list_(pa.float32())),
        ("video", pa.string()),
        ("quality", pa.float32()),
        ("seed", pa.int64()),
        ("held_out_phrasing", pa.bool_()),
    ]
)


@dataclass
class Manifest:
    """``manifest.json``: what a corpus holds and how it was made.

    Attributes:
        format_version: :data:`CORPUS_FORMAT_VERSION` of the writer.
        settings: The build settings (seed, hours, generators, block size, …); a resumed
            build must match them exactly.
        n_blocks: Number of blocks ``n`` (shards per split).
        counts: Samples per split (filled in when the build completes).
        hours: Hours of motion per split and ``"total"``.
        splits: Split names present.
        complete: True once every block is written.
        failures: Specs a video-based generator could not perform (left out; the block
            markers in ``.blocks/`` name them).
        tdmm_lm_version: Package version of the writer.
    """

    settings: dict[str, Any]
    n_blocks: int
    format_version: int = CORPUS_FORMAT_VERSION
    counts: dict[str, int] = field(default_factory=dict)
    hours: dict[str, float] = field(default_factory=dict)
    splits: list[str] = field(default_factory=lambda: list(SPLITS))
    complete: bool = False
    failures: int = 0
    tdmm_lm_version: str = ""


def shard_path(corpus: Path, split: str, block: int, n_blocks: int) -> Path:
    """Path of the shard of ``split`` for block ``block`` of ``n_blocks``."""
    return Path(corpus) / SHARD_DIR / f"{split}-{block:05d}-of-{n_blocks:05d}.parquet"


def write_manifest(corpus: Path, manifest: Manifest) -> None:
    """Write ``manifest.json`` atomically."""
    with atomic_write(Path(corpus) / MANIFEST_NAME) as f:
        f.write(json.dumps(asdict(manifest), indent=2).encode())


def read_manifest(corpus: Path) -> Manifest:
    """Read and check ``manifest.json``; errors name the file and say what to do."""
    path = Path(corpus) / MANIFEST_NAME
    if not path.is_file():
        raise InvalidInputError(
            f"{corpus}: not a corpus (no {MANIFEST_NAME}); build one with `tdmm data build -o DIR`"
        )
    try:
        raw = json.loads(path.read_text())
        manifest = Manifest(**raw)
    except (json.JSONDecodeError, TypeError) as e:
        raise InvalidInputError(f"{path}: unreadable manifest ({e})") from e
    if manifest.format_version != CORPUS_FORMAT_VERSION:
        raise InvalidInputError(
            f"{path}: corpus format {manifest.format_version}, this tdmm-lm reads "
            f"{CORPUS_FORMAT_VERSION}; rebuild it with `tdmm data build` (same --seed and "
            "--hours give the same samples)"
        )
    return manifest


def write_shard(path: Path, rows: list[dict[str, Any]]) -> None:
    """Write rows (dicts with the :data:`PARQUET_SCHEMA` columns) as one shard, atomically."""
    table = pa.Table.from_pylist(rows, schema=PARQUET_SCHEMA)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        pq.write_table(table, tmp, compression="zstd")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def remove_partial_shards(corpus: Path) -> int:
    """Delete the temporary files of shard writes that a killed build left behind.

    A writer killed between creating its temporary file and renaming it cannot clean up, so
    a resuming build calls this before it starts (the block is rewritten anyway: it has no
    marker). Returns how many files were removed.
    """
    stale = list((corpus / SHARD_DIR).glob(".*.tmp"))
    for path in stale:
        path.unlink(missing_ok=True)
    return len(stale)


def _shards(corpus: Path, split: str) -> list[Path]:
    return sorted(
        (Path(corpus) / SHARD_DIR).glob(f"{split}-[0-9][0-9][0-9][0-9][0-9]-of-*.parquet")
    )


def read_split(corpus: Path, split: str, columns: list[str] | None = None) -> pa.Table:
    """All rows of one split as a pyarrow table (optionally only some columns)."""
    if split not in SPLITS:
        raise InvalidInputError(f"unknown split {split!r}; valid: {', '.join(SPLITS)}")
    shards = _shards(corpus, split)
    if not shards:
        schema = (
            PARQUET_SCHEMA
            if columns is None
            else pa.schema([PARQUET_SCHEMA.field(c) for c in columns])
        )
        return schema.empty_table()
    return pa.concat_tables(pq.read_table(p, columns=columns) for p in shards)


def iter_samples(corpus: Path, split: str) -> Iterator[dict[str, Any]]:
    """Yield the samples of a split one by one, with ``params`` as a (T, D) float32 array."""
    for shard in _shards(corpus, split):
        for row in pq.read_table(shard).to_pylist():
            flat = np.asarray(row["params"], dtype=np.float32)
            row["params"] = flat.reshape(row["n_frames"], -1)
            yield row
