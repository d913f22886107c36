"""Independent trainings at once (`procpre.jobs`, `--jobs`): overlap, order, errors, and equal results."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from jobs_helpers import fail, stamp, stoppable
from test_compare import TINY, _comparison

from procpre.checkpoint import latest_checkpoint, read_run_meta
from procpre.cli import main
from procpre.compare import parse_comparison, run_comparison
from procpre.jobs import Job, run_jobs


def _interval(path: Path) -> tuple[float, float]:
    start, end = map(float, path.read_text().split())
    return start, end


def test_independent_jobs_overlap_and_a_dependent_job_waits(tmp_path: Path) -> None:
    a, b, c = (tmp_path / name for name in "abc")
    seconds = run_jobs(
        [
            Job("a", stamp, (a, 1.0)),
            Job("b", stamp, (b, 1.0)),
            Job("c", stamp, (c, 0.1), needs=("a", "b")),
        ],
        workers=2,
    )
    (a0, a1), (b0, b1), (c0, _) = _interval(a), _interval(b), _interval(c)
    assert a0 < b1 and b0 < a1  # a and b ran at the same time
    assert c0 >= max(a1, b1)  # c only after both
    assert set(seconds) == {"a", "b", "c"} and seconds["a"] >= 1.0


def test_a_failing_job_raises_its_error_and_bad_graphs_are_refused(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="boom"):
        run_jobs([Job("x", fail, ("boom",)), Job("y", stamp, (tmp_path / "y", 0.1), needs=("x",))], workers=2)
    assert not (tmp_path / "y").exists()  # what needed the failed job never ran
    with pytest.raises(ValueError, match="needs unknown job"):
        run_jobs([Job("x", stamp, (tmp_path / "x", 0.0), needs=("nope",))], workers=2)


@pytest.mark.parametrize("first", ["SIGTERM", "SIGINT"])
def test_a_signal_to_the_pool_alone_stops_running_jobs_starts_no_waiting_one(tmp_path: Path, first: str) -> None:
    """Three 60 s jobs on two workers; once they run, a signal to this process alone (a scheduler, `kill`, not
    Ctrl-C to the whole group): both save and stop, the third never starts (an executor that had it queued
    would hand it to the first worker that stopped), and a SIGTERM while the pool waits for them does not hang it."""
    import os
    import signal
    import threading
    import time

    paths = [tmp_path / f"job{i}" for i in range(3)]

    def terminate_once_running() -> None:
        deadline = time.time() + 60
        while not all(p.with_suffix(".started").exists() for p in paths[:2]) and time.time() < deadline:
            time.sleep(0.05)
        os.kill(os.getpid(), getattr(signal, first))
        time.sleep(0.2)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=terminate_once_running, daemon=True).start()
    started = time.time()
    with pytest.raises(KeyboardInterrupt):
        run_jobs([Job(i, stoppable, (p, 60.0)) for i, p in enumerate(paths)], workers=2)
    assert time.time() - started < 45
    assert [p.read_text() for p in paths[:2]] == ["stopped", "stopped"]
    assert not paths[2].with_suffix(".started").exists()


def test_a_comparison_on_two_processes_matches_one_process(tmp_path: Path) -> None:
    spec = _comparison(tmp_path)
    spec["seeds"] = [0]
    # a worker has cores/2 torch threads, this process all of them, and CPU float sums change with the count:
    # pinned, every training is the same wherever it runs
    spec["downstream"]["torch_threads"] = 1
    for arm in spec["arms"]:
        if "pretrain" in arm:
            arm["pretrain"]["torch_threads"] = 1
    one = run_comparison(parse_comparison(spec), tmp_path / "one")
    two = run_comparison(parse_comparison(spec), tmp_path / "two", jobs=2)
    assert set(two["summary"]) == set(one["summary"])
    for arm, info in one["summary"].items():
        assert two["summary"][arm]["metrics"] == info["metrics"], arm
    stages = json.loads((tmp_path / "two" / "report.json").read_text())["timings"]
    assert {(t["stage"], t["arm"]) for t in stages} >= {("pretrain", "sort"), ("downstream", "scratch")}
    assert all(t["seconds"] > 0 and not t.get("reused") for t in stages)  # each stage's own wall time
    # run again on 2 processes: nothing trains, and each stage reports the time its run recorded, not ~0 s
    again = run_comparison(parse_comparison(spec), tmp_path / "two", jobs=2)
    assert all(t.get("reused") for t in again["timings"]), again["timings"]
    for t in again["timings"]:
        run = tmp_path / "two" / (f"pretrain/{t['arm']}" if t["stage"] == "pretrain" else f"runs/{t['arm']}/seed-0")
        assert t["seconds"] == read_run_meta(latest_checkpoint(run))["train_seconds"] > 0, t


def test_jobs_option_is_validated() -> None:
    result = CliRunner().invoke(main, ["reproduce", "1", "--jobs", "0"])
    assert result.exit_code == 2 and "--jobs" in result.output


def test_a_downstream_run_is_the_same_whatever_ran_before_it(tmp_path: Path) -> None:
    """The fresh model's initialisation follows the run's seed, not the process's random state."""
    import torch
    from safetensors.torch import load_file

    from procpre.config import load_config
    from procpre.downstream import run_downstream

    def final_weights(name: str) -> dict[str, torch.Tensor]:
        config = load_config(
            None, {"task": "forwardaddition_2", **TINY, "max_steps": 2, "save_dir": str(tmp_path / name)}
        )
        return load_file(run_downstream(config).train.checkpoint / "model.safetensors")

    first = final_weights("a")
    torch.rand(7)  # the process's generator moves on
    second = final_weights("b")
    assert all(torch.equal(first[k], second[k]) for k in first)


@pytest.mark.parametrize("stop", ["ctrl-c", "sigterm", "sigkill"])
def test_a_stopped_run_leaves_checkpoints_no_processes_and_resumes(tmp_path: Path, stop: str) -> None:
    """Ctrl-C reaches every process of the group; SIGTERM (a scheduler, `kill`) and SIGKILL reach the main one
    only: it tells its workers, or they notice it is gone. Each training saves where it stopped."""
    import os
    import signal
    import subprocess
    import sys
    import time

    import yaml

    spec = _comparison(tmp_path)
    spec["seeds"] = [0]
    spec["arms"] = spec["arms"][:2]
    long = {"max_steps": 1200, "eval_every_steps": 600, "save_every_steps": 5000}
    spec["downstream"].update(long)
    spec["arms"][1]["pretrain"].update(long)
    (tmp_path / "cmp.yaml").write_text(yaml.safe_dump(spec))
    out = tmp_path / "out"
    args = [
        sys.executable,
        "-m",
        "procpre.cli",
        "compare",
        str(tmp_path / "cmp.yaml"),
        "--out",
        str(out),
        "--jobs",
        "2",
    ]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    logs = [out / "runs" / "scratch" / "seed-0" / "metrics.jsonl", out / "pretrain" / "sort" / "metrics.jsonl"]
    try:
        deadline = time.time() + 120
        while not all(p.exists() for p in logs) and time.time() < deadline and proc.poll() is None:
            time.sleep(0.1)
        assert all(p.exists() for p in logs), "both trainings should have started"
        if stop == "ctrl-c":
            os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in a terminal does: every process of the group
        else:
            os.kill(proc.pid, signal.SIGTERM if stop == "sigterm" else signal.SIGKILL)
        output, _ = proc.communicate(timeout=120)
        deadline = time.time() + 60
        while _group_alive(proc.pid) and time.time() < deadline:  # the workers of a killed main stop on their own
            time.sleep(0.2)
        assert not _group_alive(proc.pid), "a worker outlived the run"
    finally:
        if _group_alive(proc.pid):
            os.killpg(proc.pid, signal.SIGKILL)
    if stop != "sigkill":
        assert proc.returncode == 130, output[-3000:]
        assert "run the same command again to resume" in output and "Traceback" not in output
    assert all(list(p.parent.glob("checkpoint-*")) for p in logs)  # both saved where they stopped

    resumed = subprocess.run(args, capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stdout[-3000:] + resumed.stderr[-3000:]
    assert "resumed from" in resumed.stdout and (out / "report.md").exists()


def _group_alive(group: int) -> bool:
    import os

    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        return False
    return True
