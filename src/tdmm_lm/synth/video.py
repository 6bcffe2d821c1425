"""Video-based generators: motion that passes through a video and the tracker.

* ``puppet``: a procedural performer's motion is rendered in the renderer's photo style,
  filmed under varied conditions (scale, rotation, position, background, lighting, noise,
  compression), and recovered with the tracker. Its samples carry the tracker's fingerprint,
  as the paper's corpus carried its video generators' and tracker's.
* ``t2v``: an external text-to-video model, run through :class:`CommandVideoGenerator` (a
  user command template such as ``python gen.py --prompt {prompt} --out {out}``); its videos
  are tracked the same way. Every job is appended to ``videos/t2v_jobs.jsonl``.

Both return sequences of exactly ``round(spec.duration_s * fps)`` frames, with
``meta["video"]`` (the video file, relative to the corpus when it lives there) and
``meta["quality"]`` (the tracker's mean per-frame confidence). A job that yields no usable
motion raises :class:`GenerationError`; the corpus builder records it and moves on.
"""

from __future__ import annotations

import json
import logging
import shlex
import subprocess
import tempfile
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from tdmm_lm.errors import TdmmError
from tdmm_lm.face.sequence import DEFAULT_FPS, FaceSequence
from tdmm_lm.prompts.schema import PromptSpec
from tdmm_lm.synth.base import MotionGenerator, get_generator, spec_rng

__all__ = [
    "CommandVideoGenerator",
    "GenerationError",
    "PuppetConfig",
    "PuppetGenerator",
    "T2VConfig",
    "T2VGenerator",
    "VideoGenerator",
]

log = logging.getLogger(__name__)

PUPPET_SEED_SALT = 0x9E11  # keeps the filming conditions independent of the performance
T2V_JOBS_NAME = "t2v_jobs.jsonl"
MIN_TRACKED_FRACTION = 0.5  # below this a video's motion is mostly interpolation: reject
COMMAND_PLACEHOLDERS = ("prompt", "out", "seconds", "fps", "seed")


class GenerationError(TdmmError):
    """A generator could not produce motion for one spec (the build skips and records it)."""


def _fit_to_length(seq: FaceSequence, n_frames: int) -> np.ndarray:
    """(n_frames, D) parameters: trimmed, or padded by holding the last frame."""
    params = seq.params[:n_frames]
    if len(params) < n_frames:
        pad = np.repeat(params[-1:], n_frames - len(params), axis=0)
        params = np.concatenate([params, pad])
    return params


def _track(
    video: Path, spec: PromptSpec, fps: float, name: str, known_identity: bool = False
) -> tuple[FaceSequence, Any]:
    """Track ``video`` into a sequence of the spec's length, or raise GenerationError.

    ``known_identity``: the video shows the built-in face itself (the puppet route), so the
    tracker's per-video neutral estimate is skipped; estimating it from a clip that smiles
    throughout would read the smile as the actor's neutral face.
    """
    from tdmm_lm.track import FitConfig, TrackConfig, fit_video

    config = TrackConfig(fps=fps, fit=FitConfig(calibrate_identity=not known_identity))
    try:
        tracked, report = fit_video(video, config)
    except TdmmError as e:
        raise GenerationError(f"{name}: {spec.id}: tracking failed: {e}") from e
    if report.tracked_fraction < MIN_TRACKED_FRACTION:
        raise GenerationError(
            f"{name}: {spec.id}: face tracked in only {report.tracked_fraction:.0%} of frames"
        )
    n_frames = max(1, round(spec.duration_s * fps))
    meta = {
        "generator": name,
        "spec_id": spec.id,
        "seed": spec.seed,
        "prompt": spec.prompt,
        "quality": float(report.confidence["mean"]),
        "tracked_fraction": float(report.tracked_fraction),
    }
    return FaceSequence(_fit_to_length(tracked, n_frames), "arkit", fps, meta), report


def _keep_video(video: Path, video_dir: str | None, spec_id: str, name: str) -> str | None:
    """Move a finished video into ``video_dir`` (if any); return the path to record."""
    if video_dir is None:
        return None
    target = Path(video_dir) / name / f"{spec_id}{video.suffix}"
    target.parent.mkdir(parents=True, exist_ok=True)
    video.replace(target)
    return str(Path(name) / target.name)


# ---------------------------------------------------------------------------------------------
# puppet


@dataclass(frozen=True)
class PuppetConfig:
    """Filming conditions of the puppet route.

    Attributes:
        performer: The procedural generator whose motion is filmed.
        size: Video frame size in pixels.
        scale: (min, max) zoom of the camera.
        rotation_deg: Largest in-plane camera roll.
        shift: Largest camera offset, as a fraction of the frame.
        background_mix: (min, max) opacity of a random coloured background over the photo's.
        light_gain: (min, max) brightness of the light ramp across the frame.
        noise_std: (min, max) sensor noise, in 8-bit levels.
        quality: (min, max) ffmpeg/imageio quality of the encoded video (10 = best).
        video_dir: Where to keep the videos (the corpus's ``videos/``); discarded if None.
    """

    performer: str = "keyframe"
    size: int = 384
    scale: tuple[float, float] = (0.85, 1.1)
    rotation_deg: float = 8.0
    shift: float = 0.06
    background_mix: tuple[float, float] = (0.0, 0.8)
    light_gain: tuple[float, float] = (0.75, 1.2)
    noise_std: tuple[float, float] = (0.0, 5.0)
    quality: tuple[float, float] = (4.0, 8.0)
    video_dir: str | None = None

    def __post_init__(self) -> None:
        if self.performer in ("puppet", "t2v"):
            raise ValueError(f"the puppet's performer must be procedural, got {self.performer}")
        if not 128 <= self.size <= 1024:
            raise ValueError(f"size must be within 128..1024 px, got {self.size}")


@dataclass(frozen=True)
class _Filming:
    """One clip's draw of the filming conditions."""

    affine: np.ndarray  # (2, 3) camera transform
    background: np.ndarray  # (H, W, 3) float32 colour field
    background_mix: float
    light: np.ndarray  # (H, W, 1) float32 brightness ramp
    noise_std: float
    quality: float


class PuppetGenerator(MotionGenerator):
    """Render a performer's motion as a photo-style video and track it back."""

    name = "puppet"
    config_class = PuppetConfig

    def __init__(self, config: PuppetConfig | None = None) -> None:
        super().__init__(config)
        self.performer = get_generator(self.config.performer)
        self._renderer: Any = None

    def _draw_filming(self, rng: np.random.Generator) -> _Filming:
        c, size = self.config, self.config.size
        scale = rng.uniform(*c.scale)
        angle = rng.uniform(-c.rotation_deg, c.rotation_deg)
        affine = cv2.getRotationMatrix2D((size / 2, size / 2), angle, scale)
        affine[:, 2] += rng.uniform(-c.shift, c.shift, 2) * size
        coarse = rng.uniform(0, 255, (3, 3, 3)).astype(np.float32)
        background = cv2.resize(coarse, (size, size), interpolation=cv2.INTER_CUBIC)
        direction = rng.normal(size=2)
        direction /= np.linalg.norm(direction) + 1e-9
        ys, xs = np.mgrid[0:size, 0:size].astype(np.float32) / size - 0.5
        lo, hi = sorted(rng.uniform(*c.light_gain, 2))
        light = lo + (hi - lo) * (0.5 + direction[0] * xs + direction[1] * ys)
        return _Filming(
            affine=affine,
            background=np.clip(background, 0, 255),
            background_mix=float(rng.uniform(*c.background_mix)),
            light=light[..., None].astype(np.float32),
            noise_std=float(rng.uniform(*c.noise_std)),
            quality=float(rng.uniform(*c.quality)),
        )

    def _face_mask(self) -> np.ndarray:
        """(H, W, 1) soft mask of the warped face region (1 inside the blending ring)."""
        ring = self._renderer.ring_out.astype(np.int32)
        mask = np.zeros((self.config.size, self.config.size), np.float32)
        cv2.fillPoly(mask, [ring], 1.0)
        return cv2.GaussianBlur(mask, (0, 0), self.config.size / 60)[..., None]

    def _film(
        self, frame: np.ndarray, filming: _Filming, mask: np.ndarray, rng: np.random.Generator
    ) -> np.ndarray:
        out = frame.astype(np.float32)
        out = mask * out + (1 - mask) * (
            (1 - filming.background_mix) * out + filming.background_mix * filming.background
        )
        out *= filming.light
        size = self.config.size
        out = cv2.warpAffine(out, filming.affine, (size, size), borderMode=cv2.BORDER_REFLECT)
        if filming.noise_std > 0:
            out += rng.normal(0, filming.noise_std, out.shape).astype(np.float32)
        return np.clip(out, 0, 255).astype(np.uint8)

    def generate(self, spec: PromptSpec, fps: float = DEFAULT_FPS) -> FaceSequence:
        """Perform, film and track ``spec``."""
        import imageio.v2 as imageio

        from tdmm_lm.face import FaceModel
        from tdmm_lm.render import PhotoRenderer

        if self._renderer is None:
            self._renderer = PhotoRenderer(FaceModel(), self.config.size)
        performed = self.performer.generate(spec, fps)
        rng = spec_rng(spec, PUPPET_SEED_SALT)
        filming = self._draw_filming(rng)
        mask = self._face_mask()
        with tempfile.TemporaryDirectory() as tmp:
            video = Path(tmp) / f"{spec.id}.mp4"
            with imageio.get_writer(
                video, fps=fps, quality=filming.quality, macro_block_size=1
            ) as writer:
                for frame in self._renderer.frames(performed.params):
                    writer.append_data(self._film(frame, filming, mask, rng))
            seq, _ = _track(video, spec, fps, self.name, known_identity=True)
            seq.meta["performer"] = self.performer.name
            seq.meta["video"] = _keep_video(video, self.config.video_dir, spec.id, self.name)
        return seq


# ---------------------------------------------------------------------------------------------
# external text-to-video


class VideoGenerator(ABC):
    """A text-to-video model: prompt in, video file out.

    Implementations write an mp4 (or any format FFmpeg reads) of about ``seconds`` seconds
    showing one face performing ``prompt``, at ``out``. They should be deterministic given
    ``seed`` where the model allows it.
    """

    @abstractmethod
    def generate_video(self, prompt: str, out: Path, seconds: float, fps: float, seed: int) -> Path:
        """Write the video for ``prompt`` to ``out`` and return its path."""


class CommandVideoGenerator(VideoGenerator):
    """Runs a user command template per prompt.

    The template's placeholders ``{prompt}``, ``{out}``, ``{seconds}``, ``{fps}`` and
    ``{seed}`` are filled in (shell-quoted) and the command runs without a shell.

    Args:
        template: E.g. ``"python gen.py --prompt {prompt} --out {out} --seconds {seconds}"``.
        timeout_s: Longest time one job may take.
    """

    def __init__(self, template: str, timeout_s: float = 600.0) -> None:
        missing = [p for p in ("prompt", "out") if "{" + p + "}" not in template]
        if missing:
            raise ValueError(f"the t2v command needs the placeholders {missing}: {template!r}")
        self.template = template
        self.timeout_s = timeout_s

    def command(self, prompt: str, out: Path, seconds: float, fps: float, seed: int) -> list[str]:
        """The argument list for one job."""
        values = {
            "prompt": prompt,
            "out": str(out),
            "seconds": f"{seconds:g}",
            "fps": f"{fps:g}",
            "seed": str(seed),
        }
        quoted = {k: shlex.quote(v) for k, v in values.items()}
        return shlex.split(self.template.format(**quoted))

    def generate_video(self, prompt: str, out: Path, seconds: float, fps: float, seed: int) -> Path:
        """Run the command; raise :class:`GenerationError` if it fails or writes nothing."""
        argv = self.command(prompt, out, seconds, fps, seed)
        try:
            done = subprocess.run(
                argv, capture_output=True, text=True, timeout=self.timeout_s, check=False
            )
        except (OSError, subprocess.TimeoutExpired) as e:
            raise GenerationError(f"t2v command {argv[0]!r} failed: {e}") from e
        if done.returncode != 0:
            tail = " ".join(done.stderr.strip().splitlines()[-1:])
            raise GenerationError(f"t2v command exited with {done.returncode}: {tail}")
        if not out.is_file() or out.stat().st_size == 0:
            raise GenerationError(f"t2v command wrote no video at {out}")
        return out


@dataclass(frozen=True)
class T2VConfig:
    """The external text-to-video adapter.

    Attributes:
        command: The command template (see :class:`CommandVideoGenerator`).
        timeout_s: Longest time one job may take.
        video_dir: Where to keep the videos and the job manifest (the corpus's ``videos/``).
    """

    command: str = ""
    timeout_s: float = 600.0
    video_dir: str | None = None

    def __post_init__(self) -> None:
        if not self.command:
            raise ValueError("the t2v generator needs a command template (--t2v-cmd)")


class T2VGenerator(MotionGenerator):
    """Motion from an external text-to-video model, through the tracker."""

    name = "t2v"
    config_class = T2VConfig

    def __init__(self, config: T2VConfig | None = None) -> None:
        super().__init__(config)
        self.video_model = CommandVideoGenerator(self.config.command, self.config.timeout_s)

    def _log_job(self, record: dict[str, Any]) -> None:
        if self.config.video_dir is None:
            return
        path = Path(self.config.video_dir) / T2V_JOBS_NAME
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a") as f:  # one short line per job: appends do not interleave
            f.write(json.dumps(record) + "\n")

    def generate(self, spec: PromptSpec, fps: float = DEFAULT_FPS) -> FaceSequence:
        """Ask the external model for a video of ``spec.prompt`` and track it."""
        started = time.time()
        record: dict[str, Any] = {
            "spec_id": spec.id,
            "prompt": spec.prompt,
            "seconds": spec.duration_s,
            "seed": spec.seed,
        }
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / f"{spec.id}.mp4"
            record["command"] = self.video_model.command(
                spec.prompt, out, spec.duration_s, fps, spec.seed
            )
            try:
                self.video_model.generate_video(spec.prompt, out, spec.duration_s, fps, spec.seed)
                seq, report = _track(out, spec, fps, self.name)
            except GenerationError as e:
                record.update(status="failed", error=str(e), wall_s=time.time() - started)
                self._log_job(record)
                raise
            seq.meta["video"] = _keep_video(out, self.config.video_dir, spec.id, self.name)
        record.update(
            status="ok",
            video=seq.meta["video"],
            wall_s=time.time() - started,
            tracked_fraction=report.tracked_fraction,
            quality=seq.meta["quality"],
        )
        self._log_job(record)
        return seq
