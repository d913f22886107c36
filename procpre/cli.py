"""The `procpre` command line: thin click commands over the library."""

from __future__ import annotations

import json
import shlex
import sys
from typing import Any

import click

from procpre import __version__
from procpre.tasks import TASKS, Task, TaskError, get_task, task_class
from procpre.tasks.base import params_table


def _fail(message: str) -> None:
    raise click.ClickException(message)


def parse_params(task_names: list[str], pairs: tuple[str, ...]) -> dict[str, dict[str, Any]]:
    """`NAME=VALUE` applies to every task that has NAME; `TASK.NAME=VALUE` to one task."""
    per_task: dict[str, dict[str, Any]] = {name: {} for name in task_names}
    for pair in pairs:
        if "=" not in pair:
            _fail(f"--param expects NAME=VALUE or TASK.NAME=VALUE, got {pair!r}")
        key, value = pair.split("=", 1)
        scope, _, name = key.rpartition(".")
        targets = [scope] if scope else task_names
        if scope and scope not in per_task:
            _fail(f"--param {pair!r} names task {scope!r}, which is not among {', '.join(task_names)}")
        accepted = [t for t in targets if name in {p.name for p in task_class(t).PARAMS}]
        if not accepted:
            _fail(f"--param {name!r} is not a parameter of {', '.join(targets)} (see `procpre tasks`)")
        for t in accepted:
            per_task[t][name] = value
    return per_task


def build_tasks(names: tuple[str, ...] | list[str], pairs: tuple[str, ...]) -> list[Task]:
    try:
        for name in names:
            task_class(name)
        params = parse_params(list(names), pairs)
        return [get_task(name, **params[name]) for name in names]
    except TaskError as err:
        _fail(str(err))
    raise AssertionError("unreachable")


DEFAULT_BENCH_TASKS = ("identity", "reverse", "sort", "set", "union", "delete", "stack", "dyck", "dyck_shuffle", "eca", "ww")

PARAM_OPTION = click.option(
    "--param", "-p", "params", multiple=True, metavar="NAME=VALUE", help="Task parameter (TASK.NAME=VALUE for one task)."
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="procpre")
def main() -> None:
    """Procedural pretraining on the Hugging Face stack: data, pretraining, transfer, benchmarks."""


@main.command("tasks")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def tasks_command(as_json: bool) -> None:
    """List every task with its parameters, defaults and allowed ranges."""
    from procpre import tasks as _  # noqa: F401

    listing = {
        name: {"kind": cls.kind, "description": cls.description, "params": params_table(cls)}
        for name, cls in sorted(TASKS.items())
    }
    if as_json:
        click.echo(json.dumps(listing, indent=2))
        return
    for name, info in listing.items():
        click.secho(f"{name}", bold=True, nl=False)
        click.echo(f"  ({info['kind']}) {info['description']}")
        for p in info["params"]:
            click.echo(f"    {p['name']:<12} default {p['default']!s:<8} {p['range']:<28} {p['help']}")


@main.group()
def data() -> None:
    """Generate, preview, export and benchmark procedural datasets."""


@data.command("preview")
@click.argument("task")
@PARAM_OPTION
@click.option("-n", "num", default=3, show_default=True, help="How many samples.")
@click.option("--seed", default=0, show_default=True)
@click.option("--split", default="train", type=click.Choice(["train", "validation", "test"]), show_default=True)
def preview(task: str, params: tuple[str, ...], num: int, seed: int, split: str) -> None:
    """Print samples decoded for a human; scored tokens (the targets) are shown in [brackets]."""
    from procpre.data import generate

    (built,) = build_tasks([task], params)
    block = generate(built, seed, split, 0, num)
    click.echo(f"{built!r}  length {built.length}, vocabulary {built.vocab_size}")
    for i in range(len(block)):
        ok = built.verify(block.input_ids[i : i + 1])[0]
        text = built.decode(block.input_ids[i], block.loss_mask[i])
        click.echo(f"#{i} [{block.task[i]}] {'valid' if ok else 'INVALID'}")
        click.echo(f"  {text}")


@data.command("export")
@click.argument("tasks", nargs=-1, required=True)
@click.option("--num-samples", "-n", type=int, required=True, help="Training samples per task.")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False), help="Output folder.")
@click.option("--seed", default=0, show_default=True)
@PARAM_OPTION
@click.option("--validation", default=0, show_default=True, help="Validation samples per task.")
@click.option("--test", default=0, show_default=True, help="Test samples per task.")
@click.option("--push-to-hub", "repo_id", default=None, help="Also publish to this Hub dataset repo.")
@click.option("--private", is_flag=True, help="Create the Hub repo as private.")
def export(
    tasks: tuple[str, ...],
    num_samples: int,
    out_dir: str,
    seed: int,
    params: tuple[str, ...],
    validation: int,
    test: int,
    repo_id: str | None,
    private: bool,
) -> None:
    """Write parquet shards and a dataset card; `load_dataset(OUT, TASK)` then works offline."""
    from procpre.export import export_dataset

    built = build_tasks(tasks, params)
    command = "procpre data export " + shlex.join(sys.argv[3:] if sys.argv[1:3] == ["data", "export"] else list(tasks))
    try:
        result = export_dataset(built, out_dir, num_samples, seed, validation, test, command=command)
    except TaskError as err:
        _fail(str(err))
    for name in result.written:
        click.echo(f"wrote {name} -> {result.out_dir / name}")
    for name in result.unchanged:
        click.echo(f"{name}: already exported with the same parameters, left as is")
    click.echo(f'load with: datasets.load_dataset("{result.out_dir}", "{built[0].name}")')
    if repo_id:
        from procpre.hub import push_folder

        url = push_folder(result.out_dir, repo_id, repo_type="dataset", private=private)
        click.echo(f'pushed to {url}; load with: datasets.load_dataset("{repo_id}", "{built[0].name}")')


@data.command("bench")
@click.argument("tasks", nargs=-1)
@PARAM_OPTION
@click.option("--seconds", default=2.0, show_default=True, help="Time per measurement.")
@click.option("--json", "as_json", is_flag=True)
def bench(tasks: tuple[str, ...], params: tuple[str, ...], seconds: float, as_json: bool) -> None:
    """Samples/s and tokens/s per task: raw generator vs. the datasets streaming path."""
    from procpre.bench import bench_data, machine

    names = list(tasks) or list(DEFAULT_BENCH_TASKS)
    rows = bench_data(build_tasks(names, params), seconds)
    info = machine()
    if as_json:
        click.echo(json.dumps({"machine": info, "results": rows}, indent=2))
        return
    click.echo(f"one process on a {info['cpu_count']}-core {info['machine']} machine, {seconds:g} s per cell")
    click.echo(f"{'task':<14}{'length':>7}{'raw samples/s':>16}{'raw tokens/s':>16}{'stream samples/s':>18}{'stream/raw':>12}")
    for r in rows:
        click.echo(
            f"{r['task']:<14}{r['length']:>7}{r['raw_samples_per_s']:>16,.0f}{r['raw_tokens_per_s']:>16,.0f}"
            f"{r['stream_samples_per_s']:>18,.0f}{r['stream_over_raw']:>12.2f}"
        )
    click.echo("reproduce: procpre data bench " + " ".join(names) + "".join(f" --param {p}" for p in params))


if __name__ == "__main__":
    main()
