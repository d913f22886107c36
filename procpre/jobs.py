"""Run independent trainings at once, each in its own process.

Small models leave a GPU (or a many-core CPU) mostly idle: one training is bound by
its host thread (data, kernel launches), so N of them side by side take about the
time of the longest chain, not the sum. Processes are spawned, not forked, so each
gets its own CUDA context; each gets an equal share of the CPU threads.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable, Hashable, Iterator
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
    pool = ProcessPoolExecutor(workers, mp_context=context, initializer=_start_worker, initargs=(threads, os.getpid()))
    with pool, _workers_stop_on_signals():
        try:
            while waiting or running:
                # only as many submitted as there are workers: the executor queues extra calls where a stop
                # (Ctrl-C, SIGTERM) cannot cancel them, and a worker that saved and stopped would start one
                for job in [j for j in waiting if set(j.needs) <= done][: workers - len(running)]:
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


@contextlib.contextmanager
def _workers_stop_on_signals() -> Iterator[None]:
    """SIGINT or SIGTERM to this process alone stops every training as Ctrl-C to the whole group does: each saves.

    A scheduler, a container runtime or `kill` signals only this process; its workers must be told. A second
    signal must not interrupt the wait for their checkpoints.
    """

    stopping = False

    def stop(signum: int, frame: Any) -> None:
        nonlocal stopping
        for worker in multiprocessing.active_children():
            worker.terminate()  # SIGTERM: a training saves a checkpoint and stops
        if not stopping:
            stopping = True
            raise KeyboardInterrupt

    if threading.current_thread() is not threading.main_thread():  # only the main thread may set handlers
        yield
        return
    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


_PARENT: int | None = None  # in a worker: the pid of the process that runs the pool


def _start_worker(threads: int, parent: int) -> None:
    import torch

    global _PARENT
    _PARENT = parent
    torch.set_num_threads(threads)
    threading.Thread(target=_stop_with_parent, daemon=True).start()


def _orphaned() -> bool:
    return _PARENT is not None and os.getppid() != _PARENT


def _stop_with_parent(grace_s: float = 600.0) -> None:
    """A worker whose parent died (killed hard) stops its training with a checkpoint, then exits: no orphans."""
    while not _orphaned():
        time.sleep(1.0)
    os.kill(os.getpid(), signal.SIGTERM)  # training: saves, stops, and `_timed` exits; idle: exits now
    time.sleep(grace_s)  # a job that ignores the signal
    os._exit(1)


def _timed(call: Callable[..., Any], args: tuple[Any, ...]) -> float | None:
    started = time.perf_counter()
    try:
        worked = call(*args)
    finally:
        if _orphaned():  # nobody waits for the result
            os._exit(1)
    return None if worked is False else time.perf_counter() - started
