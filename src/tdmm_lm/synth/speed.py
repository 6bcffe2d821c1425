"""Throughput of the procedural generators: hours of motion per wall-clock minute.

Run ``python -m tdmm_lm.synth.speed [--workers 2] [--clips 1000]``. It generates sampled
prompts (no Parquet writing) one process per worker, each limited to one BLAS thread: with
two workers on two cores, OpenBLAS's own threads would oversubscribe the machine and cost
about a third of the throughput of the spring generator.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import time
from typing import Any

__all__ = ["measure_throughput"]

#: Spec seed of the measurement, so runs compare like with like.
SPEED_SEED = 5
_BLAS_THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def _work(args: tuple[str, int, int]) -> tuple[float, float]:
    """Generate ``n`` sampled clips from ``start``; return (seconds of motion, busy seconds)."""
    from tdmm_lm.prompts.sampler import sample_prompts
    from tdmm_lm.synth import get_generator

    name, start, n = args
    specs = sample_prompts(n, SPEED_SEED, start=start)
    generator = get_generator(name)
    generator.generate(specs[0])  # warm caches (recipes, FFT plans) outside the clock
    begin = time.perf_counter()
    motion = sum(generator.generate(spec).seconds for spec in specs)
    return motion, time.perf_counter() - begin


def measure_throughput(name: str, clips: int = 1000, workers: int = 1) -> dict[str, Any]:
    """Time one generator on sampled prompts.

    Args:
        name: A registered generator.
        clips: Clips per worker.
        workers: Parallel processes (each with one BLAS thread).

    Returns:
        ``{"generator", "workers", "clips", "ms_per_clip", "hours_per_min"}``; ``ms_per_clip``
        is per worker, ``hours_per_min`` is the total over workers.
    """
    jobs = [(name, k * clips, clips) for k in range(workers)]
    saved = {key: os.environ.get(key) for key in _BLAS_THREAD_VARIABLES}
    os.environ.update({key: "1" for key in _BLAS_THREAD_VARIABLES})  # read by spawned workers
    try:
        with mp.get_context("spawn").Pool(workers) as pool:
            results = pool.map(_work, jobs)
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    motion = sum(m for m, _ in results)
    busy = max(b for _, b in results)
    return {
        "generator": name,
        "workers": workers,
        "clips": clips * workers,
        "ms_per_clip": 1e3 * busy / clips,
        "hours_per_min": motion / 3600.0 / (busy / 60.0),
    }


def main() -> None:
    """Print the throughput of every procedural generator as JSON lines."""
    from tdmm_lm.synth import GENERATORS
    from tdmm_lm.synth.base import ProceduralGenerator

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--clips", type=int, default=1000, help="clips per worker")
    args = parser.parse_args()
    for name, cls in sorted(GENERATORS.items()):
        if issubclass(cls, ProceduralGenerator):
            print(json.dumps(measure_throughput(name, args.clips, args.workers)))


if __name__ == "__main__":
    main()
