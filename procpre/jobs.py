"""Run independent trainings at once, each in its own process.

Small models leave a GPU (or a many-core CPU) mostly idle: one training is bound by
its host thread (data, kernel launches), so N of them side by side take about the
time of the longest chain, not the sum. Processes are spawned, not forked, so each
gets its own CUDA context; each gets an equal share of the CPU threads.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from collections.abc import Callable, Hashable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Job:
    """`call(*args)` (a module-level function, so it can be sent to a process), after the jobs in `needs`."""

    key: Hashable
    call: Callable[..., Any]
    args: tuple[Any, ...] = ()
    needs: tuple[Hashable, ...] = ()


def run_jobs(jobs: list[Job], workers: int) -> dict[Hashable, float]:
    """Run `jobs` on up to `workers` processes, each as soon as what it needs is done; wall seconds per key.

    A job whose call returns False found its work already done: it has no wall time of its own (no key).
    The first failure (a worker's exception, re-raised here) cancels what has not started.
    """
    keys = {job.key for job in jobs}
    for job in jobs:
        missing = set(job.needs) - keys
        if missing:
            raise ValueError(f"job {job.key!r} needs unknown job(s) {sorted(map(str, missing))}")
    threads = max(1, (os.cpu_count() or 1) // workers)
    waiting, done, seconds = list(jobs), set(), {}
    running: dict[Future, Job] = {}
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(workers, mp_context=context, initializer=_share_cpu, initargs=(threads,)) as pool:
        try:
            while waiting or running:
                for job in [j for j in waiting if set(j.needs) <= done]:
                    waiting.remove(job)
                    running[pool.submit(_timed, job.call, job.args)] = job
                if not running:
                    raise ValueError(f"jobs wait on each other: {[j.key for j in waiting]}")
                finished, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in finished:
                    job = running.pop(future)
                    elapsed = future.result()
                    if elapsed is not None:
                        seconds[job.key] = elapsed
                    done.add(job.key)
        except BaseException:
            pool.shutdown(wait=True, cancel_futures=True)
            raise
    return seconds


def _share_cpu(threads: int) -> None:
    import torch

    torch.set_num_threads(threads)


def _timed(call: Callable[..., Any], args: tuple[Any, ...]) -> float | None:
    started = time.perf_counter()
    worked = call(*args)
    return None if worked is False else time.perf_counter() - started
