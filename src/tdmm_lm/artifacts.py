"""One save/load protocol for every trainable artefact (tokenizer, language model, evaluators).

An artefact is a directory::

    DIR/config.json         {"type": <tag>, "format_version": 1, "tdmm_lm_version": ..,
                             "config": {...}}  (the model's config dataclass, as a dict)
    DIR/model.safetensors   the weights (never a pickle)
    DIR/stats.safetensors   normalisation statistics and other arrays (optional)
    DIR/...                 anything else the artefact needs (e.g. a text tokenizer JSON)

Directories are written atomically: everything goes to a sibling temporary directory which
then replaces ``DIR``, so a killed save never leaves a half-written artefact.
:class:`PretrainedMixin` gives ``save_pretrained`` / ``from_pretrained`` to a torch module
with a ``config`` dataclass; ``from_pretrained`` returns the model in eval mode.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import uuid
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import numpy as np

from tdmm_lm.errors import InvalidInputError

__all__ = ["ARTIFACT_FORMAT_VERSION", "PretrainedMixin", "load_artifact", "save_artifact"]

ARTIFACT_FORMAT_VERSION = 1
CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"
STATS_NAME = "stats.safetensors"

T = TypeVar("T", bound="PretrainedMixin")


def save_artifact(
    directory: str | Path,
    *,
    type_tag: str,
    config: Any,
    weights: dict[str, Any],
    stats: dict[str, np.ndarray] | None = None,
    extra_files: dict[str, str | bytes] | None = None,
) -> Path:
    """Write an artefact directory atomically.

    Args:
        directory: Target directory (replaced if it exists).
        type_tag: What the artefact is ("motion_tokenizer", "tdmm_lm", …); checked on load.
        config: A dataclass instance or a JSON-serialisable dict.
        weights: name -> torch tensor (saved with safetensors).
        stats: name -> NumPy array (normalisation statistics), optional.
        extra_files: file name -> text or bytes, optional.

    Returns:
        The directory.
    """
    from safetensors.numpy import save_file as save_numpy
    from safetensors.torch import save_file as save_torch

    from tdmm_lm import __version__

    target = Path(directory)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.tmp")
    staging.mkdir()
    try:
        cfg = dataclasses.asdict(config) if dataclasses.is_dataclass(config) else dict(config)
        header = {
            "type": type_tag,
            "format_version": ARTIFACT_FORMAT_VERSION,
            "tdmm_lm_version": __version__,
            "config": cfg,
        }
        (staging / CONFIG_NAME).write_text(json.dumps(header, indent=2, default=str))
        contiguous = {k: v.detach().contiguous().cpu() for k, v in weights.items()}
        save_torch(contiguous, str(staging / WEIGHTS_NAME))
        if stats:
            save_numpy(
                {k: np.ascontiguousarray(v) for k, v in stats.items()}, str(staging / STATS_NAME)
            )
        for name, content in (extra_files or {}).items():
            mode = "wb" if isinstance(content, bytes) else "w"
            with open(staging / name, mode) as f:
                f.write(content)
        if target.exists():
            retired = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.old")
            os.replace(target, retired)
            os.replace(staging, target)
            shutil.rmtree(retired, ignore_errors=True)
        else:
            os.replace(staging, target)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return target


def load_artifact(
    directory: str | Path, type_tag: str
) -> tuple[dict[str, Any], dict[str, Any], dict[str, np.ndarray]]:
    """Read an artefact directory written by :func:`save_artifact`.

    Returns:
        (config dict, weights as torch tensors, stats as NumPy arrays).

    Raises:
        InvalidInputError: naming the directory, when it is missing, of another type, of an
            unknown format version, or unreadable.
    """
    from safetensors import SafetensorError
    from safetensors.numpy import load_file as load_numpy
    from safetensors.torch import load_file as load_torch

    path = Path(directory)
    config_path = path / CONFIG_NAME
    if not config_path.is_file():
        raise InvalidInputError(f"{path}: not a tdmm-lm artefact (no {CONFIG_NAME})")
    try:
        header = json.loads(config_path.read_text())
    except json.JSONDecodeError as e:
        raise InvalidInputError(f"{config_path}: unreadable ({e})") from e
    if header.get("type") != type_tag:
        raise InvalidInputError(f"{path} holds a {header.get('type')!r}, not a {type_tag!r}")
    if header.get("format_version") != ARTIFACT_FORMAT_VERSION:
        raise InvalidInputError(
            f"{path}: artefact format {header.get('format_version')}, this tdmm-lm reads "
            f"{ARTIFACT_FORMAT_VERSION}; retrain it with this version"
        )
    try:
        weights = load_torch(str(path / WEIGHTS_NAME))
        stats_path = path / STATS_NAME
        stats = load_numpy(str(stats_path)) if stats_path.exists() else {}
    except (OSError, SafetensorError) as e:
        raise InvalidInputError(f"{path}: cannot read the weights ({e})") from e
    return header["config"], weights, stats


class PretrainedMixin:
    """``save_pretrained`` / ``from_pretrained`` for a torch module with a config dataclass.

    A subclass sets :attr:`type_tag` and :attr:`config_class`, keeps its config in
    ``self.config``, and may override :meth:`artifact_stats` / :meth:`load_artifact_stats`
    for arrays that are not parameters (normalisation statistics).
    """

    type_tag: ClassVar[str]
    config_class: ClassVar[type]

    def artifact_stats(self) -> dict[str, np.ndarray]:
        """Arrays saved beside the weights (none by default)."""
        return {}

    def load_artifact_stats(self, stats: dict[str, np.ndarray]) -> None:
        """Restore what :meth:`artifact_stats` saved (nothing by default)."""

    def save_pretrained(self, directory: str | Path) -> Path:
        """Write this model as an artefact directory."""
        return save_artifact(
            directory,
            type_tag=self.type_tag,
            config=self.config,  # type: ignore[attr-defined]
            weights=self.state_dict(),  # type: ignore[attr-defined]
            stats=self.artifact_stats(),
        )

    @classmethod
    def from_pretrained(cls: type[T], directory: str | Path) -> T:
        """Load a model saved with :meth:`save_pretrained`, in eval mode."""
        config_dict, weights, stats = load_artifact(directory, cls.type_tag)
        model = cls(cls.config_class(**config_dict))  # type: ignore[call-arg]
        model.load_state_dict(weights)  # type: ignore[attr-defined]
        model.load_artifact_stats(stats)
        model.eval()  # type: ignore[attr-defined]
        return model
