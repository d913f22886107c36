"""The `procpre` command line: thin click commands over the library."""

from __future__ import annotations

import json
import shlex
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from procpre import __version__
from procpre.config import COMPILE_MODES
from procpre.tasks import TASKS, Task, TaskError, get_task, task_class
from procpre.tasks.base import params_table
from procpre.tasks.registry import parse_task_id


def _fail(message: str) -> None:
    raise click.ClickException(message)


def _require_device(device: str | None) -> None:
    """`--device cuda` without a visible GPU is an error, not a silent CPU run."""
    import torch

    if device == "cuda" and not torch.cuda.is_available():
        _fail(f"--device cuda: no CUDA GPU is visible to torch {torch.__version__}; use --device cpu")


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
        bases = {name: parse_task_id(name) for name in names}  # published ids: condattendstream_30
        for base, _ in bases.values():
            task_class(base)
        params = parse_params([bases[n][0] for n in names], pairs)
        return [get_task(name, **params[bases[name][0]]) for name in names]
    except TaskError as err:
        _fail(str(err))
    raise AssertionError("unreachable")


DEFAULT_BENCH_TASKS = (
    "identity",
    "reverse",
    "sort",
    "set",
    "union",
    "delete",
    "stack",
    "dyck",
    "dyck_shuffle",
    "eca",
    "ww",
)

PARAM_OPTION = click.option(
    "--param",
    "-p",
    "params",
    multiple=True,
    metavar="NAME=VALUE",
    help="Task parameter (TASK.NAME=VALUE for one task).",
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
    click.echo(
        f"{'task':<14}{'length':>7}{'raw samples/s':>16}{'raw tokens/s':>16}{'stream samples/s':>18}{'stream/raw':>12}"
    )
    for r in rows:
        click.echo(
            f"{r['task']:<14}{r['length']:>7}{r['raw_samples_per_s']:>16,.0f}{r['raw_tokens_per_s']:>16,.0f}"
            f"{r['stream_samples_per_s']:>18,.0f}{r['stream_over_raw']:>12.2f}"
        )
    click.echo("reproduce: procpre data bench " + " ".join(names) + "".join(f" --param {p}" for p in params))


@main.group("bench")
def bench_group() -> None:
    """Throughput benchmarks (data path: `procpre data bench`)."""


@bench_group.command("train")
@click.option("--model-size", "sizes", multiple=True, default=("2_4_16", "4_4_256"), show_default=True)
@click.option("--task", "task_name", default="set", show_default=True)
@PARAM_OPTION
@click.option("--batch-size", default=64, show_default=True)
@click.option("--steps", default=20, show_default=True)
@click.option("--device", default="cpu", type=click.Choice(["cpu", "cuda"]), show_default=True)
@click.option(
    "--mixed-precision",
    default=None,
    type=click.Choice(["no", "bf16", "fp16"]),
    help="Default: no on CPU, bf16 on CUDA.",
)
@click.option(
    "--compile",
    "compile_mode",
    is_flag=False,
    flag_value="default",
    default="no",
    show_default=True,
    type=click.Choice(COMPILE_MODES),
    help="torch.compile the step; a bare --compile means mode 'default'.",
)
@click.option("--peak-tflops", type=float, default=None, help="Peak FLOP/s of the card for MFU (default by name).")
@click.option("--json", "as_json", is_flag=True)
def bench_train_command(
    sizes, task_name, params, batch_size, steps, device, mixed_precision, compile_mode, peak_tflops, as_json
) -> None:
    """ms/step and tokens/s of the real training step, data generation included."""
    from procpre.bench import bench_train, machine
    from procpre.config import ConfigError

    (task,) = build_tasks([task_name], params)
    _require_device(device)
    precision = mixed_precision or ("bf16" if device == "cuda" else "no")
    try:
        rows = [
            bench_train(
                size,
                task,
                batch_size,
                steps,
                device=device,
                mixed_precision=precision,
                compile_mode=compile_mode,
                peak_tflops=peak_tflops,
            )
            for size in sizes
        ]
    except ConfigError as err:
        _fail(str(err))
    if as_json:
        click.echo(json.dumps({"machine": machine(), "results": rows}, indent=2))
        return
    click.echo(f"{'model':<12}{'device':<10}{'ms/step':>10}{'tokens/s':>14}{'MFU':>8}")
    for r in rows:
        mfu = f"{100 * r['mfu']:.1f}%" if "mfu" in r else "-"
        click.echo(
            f"{r['model_size']:<12}{r['device']:<10}{r['ms_per_step']:>10.1f}{r['tokens_per_s']:>14,.0f}{mfu:>8}"
        )
    click.echo(f"task {task.name} (length {task.length}), batch {batch_size}, {steps} timed steps after warm-up")


@main.command("pretrain", context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
@click.option("--config", "config_path", type=click.Path(dir_okay=False), help="YAML recipe (release keys work).")
@click.option("--resume", is_flag=True, help="Continue from the latest checkpoint in save_dir.")
@click.option("--push-to-hub", "repo_id", default=None, help="Push the final model (main) and checkpoints (branches).")
@click.option("--report-to", default=None, help="Comma-separated: tensorboard, trackio, wandb.")
@click.pass_context
def pretrain(
    ctx: click.Context, config_path: str | None, resume: bool, repo_id: str | None, report_to: str | None
) -> None:
    """Pretrain a GPT-2 on a procedural task. Extra `--key value` pairs override the recipe.

    Same code under `accelerate launch scripts/pretrain.py --config ...` on any number of processes.
    """
    from procpre.config import ConfigError, load_config, parse_overrides
    from procpre.train import train

    try:
        overrides = parse_overrides(list(ctx.args))
        if resume:
            overrides["resume"] = True
        if repo_id:
            overrides["push_to_hub"] = repo_id
        if report_to:
            overrides["report_to"] = report_to
        config = load_config(config_path, overrides)
    except (ConfigError, TaskError) as err:
        _fail(str(err))
    from procpre.hub import PushError

    try:
        result = train(config)
    except ConfigError as err:  # e.g. --resume under settings other than the checkpoint's
        _fail(str(err))
    except PushError as err:
        _fail(
            f"{err}. The run is saved in {config.save_dir}; "
            f"push it with `procpre push {config.save_dir} {config.push_to_hub}`"
        )
    if result.stopped == "interrupted":
        click.echo(f"interrupted: checkpoint saved at {result.checkpoint}; continue with --resume")
        raise SystemExit(130)


@main.command("push")
@click.argument("checkpoint", type=click.Path(exists=True, file_okay=False))
@click.argument("repo_id")
@click.option("--revision", default=None, help="Branch to push to (default main).")
@click.option("--private", is_flag=True)
def push(checkpoint: str, repo_id: str, revision: str | None, private: bool) -> None:
    """Upload a checkpoint folder (or a whole run folder: latest to main, others to step-N branches)."""
    from pathlib import Path

    from procpre.checkpoint import list_checkpoints
    from procpre.hub import PushError, push_checkpoint, push_run

    try:
        if list_checkpoints(checkpoint):
            url = push_run(checkpoint, repo_id, private=private)
        else:
            if not (Path(checkpoint) / "config.json").exists():
                _fail(f"{checkpoint} holds neither a model (config.json) nor checkpoint-<step> folders")
            url = push_checkpoint(checkpoint, repo_id, revision=revision, private=private)
    except PushError as err:
        _fail(f"{err}. The local files are untouched; run the same command again to retry.")
    click.echo(f"pushed: {url}")


@main.group("downstream")
def downstream_group() -> None:
    """Train downstream models, from scratch or from transferred procedural checkpoints."""


def _mix_option(values: tuple[str, ...]) -> dict[str, str]:
    mix = {}
    for item in values:
        component, sep, path = item.partition("=")
        if not sep:
            _fail(f"--mix expects COMPONENT=CHECKPOINT (e.g. attn=runs/set/checkpoint-2500), got {item!r}")
        mix[component] = path
    return mix


def _echo_test(result: Any) -> None:
    """A downstream run's test scores, their breakdown by the task's error groups, and where the model is."""
    click.echo("test: " + ", ".join(f"{k} {v:.4f}" for k, v in result.test.items()))
    for name, groups in result.breakdown.get("groups", {}).items():
        click.echo(f"  exact match by {name}: " + ", ".join(f"{g['group']} {g['exact_match']:.4f}" for g in groups))
    click.echo(f"model: {result.train.checkpoint}")


@downstream_group.command("algorithmic", context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
@click.option("--task", "task_name", default=None, help="Downstream task id, e.g. condattendstream_30.")
@click.option("--config", "config_path", type=click.Path(dir_okay=False), help="YAML recipe (release keys work).")
@click.option("--pretrained", default=None, help="Checkpoint folder, Hub repo id or release .pth to transfer from.")
@click.option(
    "--transfer",
    "components",
    default=None,
    help="Components: attn,ffn,ln,embed (tokens + positions), pos (positions alone) or everything.",
)
@click.option("--embedding-init", default=None, type=click.Choice(["average", "retain", "partial_matching"]))
@click.option("--freeze", default=None, help="Components to freeze.")
@click.option(
    "--mix", multiple=True, metavar="COMPONENT=CHECKPOINT", help="Weight mixing, e.g. --mix attn=A --mix ffn=B"
)
@click.option("--resume", is_flag=True)
@click.option("--push-to-hub", "repo_id", default=None)
@click.pass_context
def downstream_algorithmic(
    ctx, task_name, config_path, pretrained, components, embedding_init, freeze, mix, resume, repo_id
) -> None:
    """Train on a downstream algorithmic task and score its fixed test set. Extra `--key value` override the recipe."""
    from procpre.config import ConfigError, load_config, parse_overrides
    from procpre.downstream import run_downstream
    from procpre.transfer import TransferError

    try:
        overrides = parse_overrides(list(ctx.args))
        given = {
            "task": task_name,
            "pretrained": pretrained,
            "transfer": components,
            "embedding_init": embedding_init,
            "freeze": freeze,
            "push_to_hub": repo_id,
            "resume": True if resume else None,
        }
        overrides.update({k: v for k, v in given.items() if v is not None})
        config = load_config(config_path, overrides)
        result = run_downstream(config, mix=_mix_option(mix) or None)
    except (ConfigError, TaskError, TransferError) as err:
        _fail(str(err))
    if result.transfer is not None:
        click.echo(f"transfer: {result.transfer.summary()}")
    _echo_test(result)


@downstream_group.command("lm", context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
@click.option(
    "--corpus", required=True, help="c4, codeparrot, dm-math, or a local .txt/.jsonl/.parquet file or folder."
)
@click.option("--data-dir", default=None, help="dm-math: the extracted mathematics_dataset-v1.0 folder.")
@click.option("--tokenizer", default=None, help="Hub name or folder, byte, bpe:N or char (default: the paper's).")
@click.option("--seq-length", default=1024, show_default=True)
@click.option("--max-train-tokens", default=10_000_000, show_default=True)
@click.option("--max-eval-tokens", default=1_000_000, show_default=True)
@click.option("--config", "config_path", type=click.Path(dir_okay=False), help="YAML recipe for the training.")
@click.option("--pretrained", default=None, help="Checkpoint folder, Hub repo id or release .pth to transfer from.")
@click.option("--transfer", "components", default=None, help="Semantic recipe: attn,ffn,ln (embeddings fresh).")
@click.option("--resume", is_flag=True)
@click.pass_context
def downstream_lm(
    ctx,
    corpus,
    data_dir,
    tokenizer,
    seq_length,
    max_train_tokens,
    max_eval_tokens,
    config_path,
    pretrained,
    components,
    resume,
) -> None:
    """Language modelling on a real corpus: prepare (tokenise, pack) it, train, report perplexity via `evaluate`."""
    from procpre.config import ConfigError, load_config, parse_overrides
    from procpre.corpora import CorpusError, prepare_corpus
    from procpre.downstream import run_downstream
    from procpre.transfer import TransferError

    try:
        overrides = parse_overrides(list(ctx.args))
        save_dir = Path(overrides.get("save_dir", "runs/lm"))
        prepared = save_dir / "data"
        prepare_corpus(corpus, prepared, tokenizer, seq_length, max_train_tokens, max_eval_tokens, data_dir)
        given = {"pretrained": pretrained, "transfer": components, "resume": True if resume else None}
        overrides.update({k: v for k, v in given.items() if v is not None})
        overrides.update(task="corpus", data_dir=str(prepared), save_dir=str(save_dir))
        config = load_config(config_path, overrides)
        result = run_downstream(config)
    except (ConfigError, TaskError, TransferError, CorpusError) as err:
        _fail(str(err))
    _echo_test(result)


PUSH_PREFIX_HELP = "Push every model: PREFIX-TASK-ARM-seedN downstream, PREFIX-pretrain-NAME pretrained."


@contextmanager
def _comparison_errors(out_dir: str | Path) -> Iterator[None]:
    """What `compare` and `reproduce` say when a run stops: interrupted, bad recipe, or a failed push."""
    from procpre.compare import ComparisonInterrupted
    from procpre.config import ConfigError
    from procpre.hub import PushError
    from procpre.transfer import TransferError

    try:
        yield
    except ComparisonInterrupted as err:
        click.echo(f"interrupted: {err}")
        raise SystemExit(130) from None
    except (ConfigError, TaskError, TransferError) as err:
        _fail(str(err))
    except PushError as err:
        _fail(
            f"{err}. Every run is saved under {out_dir}; run the same command again to retry the push "
            "(finished runs are reused, not retrained)"
        )


JOBS_OPTION = click.option(
    "--jobs",
    default=1,
    show_default=True,
    type=click.IntRange(min=1),
    help="Run independent trainings (arms, seeds, pretrainings) at once in this many processes; "
    "for small models on a GPU or a many-core CPU.",
)


@main.command("compare")
@click.argument("comparisons", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False))
@click.option(
    "--seeds", default=None, type=click.IntRange(min=1), help="Use the first N seeds 0..N-1 instead of the file's."
)
@click.option("--push-to-hub", "repo_prefix", default=None, help=PUSH_PREFIX_HELP)
@click.option(
    "--pretrain-dir",
    default=None,
    type=click.Path(file_okay=False),
    help="Where named pretrainings live (default OUT/pretrain); share one between comparisons to reuse them.",
)
@click.option(
    "--arms",
    default=None,
    help="Run only these arms (comma-separated names from the file); the report covers them alone.",
)
@JOBS_OPTION
def compare(
    comparisons: tuple[str, ...],
    out_dir: str,
    seeds: int | None,
    repo_prefix: str | None,
    pretrain_dir: str | None,
    arms: str | None,
    jobs: int,
) -> None:
    """Run a baseline and pretrained arms over seeds; write report.md, report.json and PNG plots.

    Several files run as one job, each reported in OUT/<file name>, sharing the pretrainings and the --jobs pool.
    """
    from procpre.compare import load_comparison, run_comparisons, select_arms

    out = Path(out_dir)
    folders = [out] if len(comparisons) == 1 else [out / Path(name).stem for name in comparisons]
    if len(set(folders)) != len(folders):
        _fail("two comparison files share a file name; rename one (each is reported in OUT/<file name>)")
    with _comparison_errors(out_dir):
        specs = [load_comparison(name) for name in comparisons]
        if arms is not None:
            wanted = [name.strip() for name in arms.split(",") if name.strip()]
            specs = [select_arms(spec, wanted) for spec in specs]
        for spec in specs:
            if seeds:
                spec.seeds = list(range(seeds))
        run_comparisons(list(zip(specs, folders)), out, pretrain_dir, jobs, repo_prefix)
    for folder in folders:
        if len(folders) == 1:
            click.echo((folder / "report.md").read_text())
        click.echo(f"report: {folder / 'report.md'} (plots and report.json beside it)")


@main.command("pool")
@click.argument("reports", nargs=-1, required=True, type=click.Path(exists=True))
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False))
@click.option("--arms", default=None, help="Pool only these arms (comma-separated), in this order.")
@click.option("--baseline", default=None, help="The arm gains are measured against (default: scratch, if pooled).")
def pool(reports: tuple[str, ...], out_dir: str, arms: str | None, baseline: str | None) -> None:
    """Pool the seeds of several `compare` reports (report.json or its folder) of one downstream setting.

    A `reproduce` report gives its comparison of the setting the other reports share; an earlier
    pool (pooled.json or its folder) gives its runs, so a pool grows as new seeds arrive.
    """
    from procpre.pool import POOLED_MD, pool_reports

    names = [a.strip() for a in arms.split(",") if a.strip()] if arms else None
    with _comparison_errors(out_dir):
        pool_reports([Path(r) for r in reports], Path(out_dir), arms=names, baseline=baseline)
    click.echo((Path(out_dir) / POOLED_MD).read_text())
    click.echo(f"pooled report: {Path(out_dir) / POOLED_MD} (pooled.json and final.png beside it)")


@main.command("reproduce")
@click.argument("finding")
@click.option("--scale", default="smoke", type=click.Choice(["full", "smoke"]), show_default=True)
@click.option(
    "--seeds", default=1, type=click.IntRange(min=1), show_default=True, help="Seeds 0..N-1 for every downstream arm."
)
@click.option(
    "--out", "out_dir", default=None, type=click.Path(file_okay=False), help="Default runs/reproduce-FINDING-SCALE"
)
@click.option(
    "--device", default=None, type=click.Choice(["cpu", "cuda"]), help="Force a device (default: accelerate's)."
)
@click.option("--push-to-hub", "repo_prefix", default=None, help=PUSH_PREFIX_HELP)
@click.option(
    "--torch-compile",
    default="no",
    show_default=True,
    type=click.Choice(COMPILE_MODES),
    help="Compile every training stage (GPU: reduce-overhead replays CUDA graphs).",
)
@JOBS_OPTION
def reproduce_command(
    finding: str,
    scale: str,
    seeds: int,
    out_dir: str | None,
    device: str | None,
    repo_prefix: str | None,
    torch_compile: str,
    jobs: int,
) -> None:
    """Reproduce a finding of the paper (1 haystack, 2 addition, 3 sorting, 4 multiplication, 5 mixing, 6 control)."""
    import os

    from procpre.reproduce import reproduce

    _require_device(device)
    if device == "cpu":
        os.environ["ACCELERATE_USE_CPU"] = "true"
    out = Path(out_dir or f"runs/reproduce-{finding}-{scale}")
    with _comparison_errors(out):
        report = reproduce(finding, scale, out, seeds, push_to_hub=repo_prefix, torch_compile=torch_compile, jobs=jobs)
    click.echo(report.read_text())
    click.echo(f"report: {report}")


@main.command("demo")
@click.option("--out", "out_dir", default="runs/demo", show_default=True, type=click.Path(file_okay=False))
@click.option("--max-steps", default=None, type=int, help="Shrink every stage to this many steps.")
def demo(out_dir: str, max_steps: int | None) -> None:
    """The main job on a small embedded default: data, pretraining, transfer, downstream arms, report."""
    from procpre.pipeline import run_demo

    run_demo(out_dir, max_steps)
    report = Path(out_dir) / "report.md"
    click.echo(report.read_text())
    click.echo(f"report: {report}; models: {Path(out_dir) / 'runs'}; pretrained: {Path(out_dir) / 'pretrain'}")
    click.echo("load a model with: AutoModelForCausalLM.from_pretrained(<its checkpoint-<step> folder>)")


if __name__ == "__main__":
    main()
