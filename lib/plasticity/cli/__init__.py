"""Command line: ``python -m plasticity {book,site,cache,data,bench} ...``."""

from __future__ import annotations

import argparse
import sys

from ..foundations.checks import ParameterError

# Only light modules at import time, so that --help answers at once; the commands
# import torch-based modules when they run.
from ..foundations.profile_names import PROFILE_NAMES as PROFILES
from .bench import (
    bench_chains,
    bench_cli,
    bench_cost,
    bench_data_options,
    bench_grid,
    bench_peak,
    bench_profile,
    bench_protocol,
    bench_spectral,
    bench_train,
    bench_vshape,
    bench_workers,
)
from .commands import (
    book_compare,
    book_list,
    book_outputs,
    book_plan,
    book_publish,
    book_run,
    cache_clear,
    cache_ls,
    data_import,
    data_info,
    results_export,
    results_import,
    site_build,
    sweep,
)


def compile_option(parser: argparse.ArgumentParser, help: str) -> None:
    """``--compile MODE``: a ``torch.compile`` mode for stacked computations."""
    from ..foundations.checks import COMPILE_MODES

    parser.add_argument(
        "--compile", default=None, choices=[m for m in COMPILE_MODES if m], help=help
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m plasticity", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p_book = sub.add_parser("book", help="run or list the book's chapters")
    book_sub = p_book.add_subparsers(dest="action", required=True)
    p_run = book_sub.add_parser("run", help="execute every chapter (or --only some) with papermill")
    p_run.add_argument("--profile", default="quick", choices=sorted(PROFILES))
    p_run.add_argument(
        "--only",
        action="append",
        metavar="CHAPTER",
        help="a chapter's file stem, number or name; repeatable",
    )
    p_run.add_argument(
        "--data-archive",
        action="append",
        metavar="PATH",
        help="image-folder archive of CIFAR-10 or CIFAR-100; repeatable",
    )
    p_run.add_argument("--data-dir", help="data folder (default: data/)")
    p_run.add_argument(
        "--figures-dir", help="where figures and tables go (default: build/<profile>/figures)"
    )
    p_run.add_argument(
        "--output-dir", help="executed notebooks (default: build/<profile>/executed)"
    )
    p_run.add_argument("--timeout", type=int, help="per-cell timeout in seconds")
    p_run.add_argument("--no-progress", action="store_true", help="no per-cell progress bar")
    p_run.add_argument(
        "--device",
        help="cpu, cuda, cuda:1, ... for every model and batch "
        "(default: $PLASTICITY_DEVICE, else CUDA when available)",
    )
    p_run.add_argument(
        "--replay",
        action="store_true",
        help="read every run from the cache (e.g. an imported results pack) and compute "
        "none; no data or weights needed",
    )
    p_run.add_argument(
        "--publish",
        action="store_true",
        help="write the published book (figures/, executed/, book/); without it a run "
        "writes to build/<profile>/ and says what differs from the published book",
    )
    p_run.set_defaults(func=book_run)
    book_sub.add_parser("list", help="list the chapters").set_defaults(func=book_list)
    p_pub = book_sub.add_parser(
        "publish",
        help="executed/ -> book/: each real-data chapter as a small committed notebook "
        "(figures referenced from figures/) and a Markdown page GitHub renders",
    )
    p_pub.add_argument(
        "--only", action="append", metavar="CHAPTER", help="a chapter's stem or number"
    )
    p_pub.set_defaults(func=book_publish)
    p_out = book_sub.add_parser(
        "outputs",
        help="give notebooks/*.ipynb the published outputs of book/ (for JupyterLab; "
        "a notebook with outputs of its own is kept unless --force)",
    )
    p_out.add_argument("--force", action="store_true")
    p_out.set_defaults(func=book_outputs)
    p_cmp = book_sub.add_parser(
        "compare", help="two headline tables row by row: which verdicts moved between runs"
    )
    p_cmp.add_argument("first", help="a headlines.csv (e.g. of a first run)")
    p_cmp.add_argument("second", help="another headlines.csv of the same rules")
    p_cmp.set_defaults(func=book_compare)
    p_plan = book_sub.add_parser(
        "plan", help="list the distinct runs a profile needs, what is cached, and a time estimate"
    )
    p_plan.add_argument("--profile", default="quick", choices=sorted(PROFILES))
    p_plan.add_argument(
        "--only",
        action="append",
        metavar="CHAPTER",
        help="a chapter number or file stem; repeatable",
    )
    p_plan.add_argument("--data-dir", help="data folder (default: data/)")
    p_plan.add_argument("--data-archive", action="append", metavar="PATH")
    p_plan.add_argument(
        "--device",
        help="cpu, cuda, cuda:1, ... (default: $PLASTICITY_DEVICE, else CUDA when available)",
    )
    p_plan.add_argument("--json", action="store_true", help="print the plan as JSON")
    p_plan.add_argument(
        "--execute",
        action="store_true",
        help="compute every missing run (base models first), then exit",
    )
    p_plan.add_argument(
        "--batch",
        type=int,
        default=None,
        metavar="K",
        help="with --execute: stack up to K missing repairs that share a schedule into one "
        "computation (default: by device, 32 on a GPU, 1 on a CPU where stacking loses; "
        "`bench grid` measures it)",
    )
    compile_option(
        p_plan,
        "with --execute and stacking: torch.compile the stacks' forward pass (repairs "
        "and NeuroSovereign chains) in this mode (default: eager; `bench grid --compile` "
        "and `bench chains --compile` measure it)",
    )
    p_plan.add_argument(
        "--workers",
        type=int,
        default=1,
        metavar="N",
        help="with --execute: N processes, each taking the next missing run (default 1; "
        "`bench workers` measures whether it pays)",
    )
    p_plan.add_argument(
        "--threads",
        type=int,
        default=None,
        metavar="T",
        help="with --workers: torch threads per process (default: this machine's divided "
        "among the workers)",
    )
    p_plan.set_defaults(func=book_plan)

    p_sweep = sub.add_parser(
        "sweep", help="compute the missing runs as cluster jobs (submitit), into the cache"
    )
    p_sweep.add_argument("--profile", default="quick", choices=sorted(PROFILES))
    p_sweep.add_argument("--only", nargs="+", metavar="NN", help="chapters (default: all)")
    p_sweep.add_argument("--engine", default="local", help="local (this machine) or slurm")
    p_sweep.add_argument("--dry-run", action="store_true", help="print the job list and exit")
    p_sweep.add_argument("--workers", type=int, default=2, help="jobs at once (array limit)")
    p_sweep.add_argument("--partition", help="SLURM partition")
    p_sweep.add_argument("--account", help="SLURM account")
    p_sweep.add_argument("--gpus", type=int, default=0, help="GPUs per job")
    p_sweep.add_argument("--cpus", type=int, default=4, help="CPUs per job")
    p_sweep.add_argument("--mem-gb", type=int, default=16, help="memory per job")
    p_sweep.add_argument(
        "--time",
        action="append",
        default=[],
        metavar="KIND=MIN",
        help="minutes per job of a kind: base, repair or evolution (repeatable)",
    )
    p_sweep.add_argument("--device", help="torch device inside each job (e.g. cuda)")
    p_sweep.add_argument("--logs", help="job logs (default: <cache dir>/sweep-logs)")
    p_sweep.add_argument("--data-dir", help="data folder (default: data/)")
    p_sweep.add_argument("--cache-dir", help="shared cache (default: $PLASTICITY_CACHE_DIR)")
    p_sweep.set_defaults(func=sweep)

    p_site = sub.add_parser("site", help="the executed book as a static site (offline)")
    site_sub = p_site.add_subparsers(dest="action", required=True)
    p_build = site_sub.add_parser("build", help="myst.yml's pages to static HTML in _build/html")
    p_build.add_argument("--root", help="folder with myst.yml and executed/ (default: the book)")
    p_build.add_argument("--out", help="output folder (default: <root>/_build/html)")
    p_build.add_argument(
        "--preview",
        action="store_true",
        help="show chapters not executed here as previews (text, code, saved figures)",
    )
    p_build.set_defaults(func=site_build)

    p_cache = sub.add_parser("cache", help="inspect or clear the train-or-load cache")
    p_cache.add_argument("--cache-dir", help="cache folder (default: data/cache)")
    cache_sub = p_cache.add_subparsers(dest="action", required=True)
    cache_sub.add_parser("ls", help="list cached artefacts").set_defaults(func=cache_ls)
    p_clear = cache_sub.add_parser("clear", help="delete cached artefacts")
    p_clear.add_argument("--kind", help="only this kind (e.g. lazarus-base)")
    p_clear.set_defaults(func=cache_clear)

    p_res = sub.add_parser(
        "results", help="results packs: the cache's results without weights, to replay chapters"
    )
    p_res.add_argument("--cache-dir", help="cache folder (default: data/cache)")
    res_sub = p_res.add_subparsers(dest="action", required=True)
    p_export = res_sub.add_parser(
        "export",
        help="the profile's runs' results from the cache and the data sets' records, as .tar.xz",
    )
    p_export.add_argument("out", metavar="PACK.tar.xz")
    p_export.add_argument("--profile", default="quick", choices=sorted(PROFILES))
    p_export.add_argument("--data-dir", help="data folder (default: data/)")
    p_export.add_argument("--kind", action="append", help="only this kind; repeatable")
    p_export.add_argument(
        "--all-runs",
        action="store_true",
        help="every usable result of the cache, not only the profile's runs",
    )
    p_export.set_defaults(func=results_export)
    p_rimport = res_sub.add_parser(
        "import", help="a results pack into the cache (results only; entries held are kept)"
    )
    p_rimport.add_argument("archive", metavar="PACK.tar.xz")
    p_rimport.set_defaults(func=results_import)

    p_data = sub.add_parser("data", help="import or inspect data sets")
    p_data.add_argument("--data-dir", help="data folder (default: data/)")
    data_sub = p_data.add_subparsers(dest="action", required=True)
    p_import = data_sub.add_parser("import", help="decode image-folder archives into data/arrays")
    p_import.add_argument("archives", nargs="+", metavar="PATH")
    p_import.set_defaults(func=data_import)
    data_sub.add_parser("info", help="which data sets are available").set_defaults(func=data_info)

    p_bench = sub.add_parser("bench", help="benchmarks that print numbers")
    bench_sub = p_bench.add_subparsers(dest="action", required=True)
    p_train = bench_sub.add_parser("train", help="training throughput: ours vs DataLoader")
    p_train.add_argument("--steps", type=int, default=300)
    bench_data_options(p_train)
    p_train.set_defaults(func=bench_train)
    p_vs = bench_sub.add_parser("vshape", help="the seed's V-shape protocol, ours vs naive repair")
    p_vs.add_argument("--epochs", type=int, default=5)
    p_vs.add_argument("--steps", type=int, default=1000)
    bench_data_options(p_vs)
    p_vs.set_defaults(func=bench_vshape)
    p_peak = bench_sub.add_parser(
        "peak", help="this machine's peak GFLOP/s and each phase's share of it"
    )
    p_peak.add_argument("--repeats", type=int, default=5)
    p_peak.add_argument("--steps", type=int, default=50)
    p_peak.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N (default: cpu)")
    bench_data_options(p_peak)
    p_peak.set_defaults(func=bench_peak)
    p_spec = bench_sub.add_parser(
        "spectral", help="NeuroSovereign's spectral term: svdvals vs the Gram route, per matrix"
    )
    p_spec.add_argument("--repeats", type=int, default=20)
    p_spec.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N (default: cpu)")
    p_spec.set_defaults(func=bench_spectral)
    p_chains = bench_sub.add_parser(
        "chains", help="NeuroSovereign: K chains stacked into one step, ms per chain-step"
    )
    p_chains.add_argument("--k", type=int, nargs="+", default=[1, 8, 16, 32], metavar="K")
    p_chains.add_argument(
        "--method", nargs="+", default=["svd", "gram", "host"], choices=["svd", "gram", "host"]
    )
    compile_option(p_chains, "torch.compile the stack's forward pass in this mode (default: eager)")
    p_chains.add_argument("--steps", type=int, default=10)
    p_chains.add_argument("--repeats", type=int, default=3)
    p_chains.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N (default: cpu)")
    p_chains.set_defaults(func=bench_chains)
    p_grid = bench_sub.add_parser(
        "grid", help="K repairs one at a time vs batched into one computation"
    )
    p_grid.add_argument("--k", type=int, nargs="+", default=[1, 2, 4, 8], metavar="K")
    compile_option(p_grid, "torch.compile the batched forward pass in this mode (default: eager)")
    p_grid.add_argument("--steps", type=int, default=30)
    p_grid.add_argument("--repeats", type=int, default=3)
    p_grid.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N (default: cpu)")
    bench_data_options(p_grid)
    p_grid.set_defaults(func=bench_grid)
    p_proto = bench_sub.add_parser(
        "protocol",
        help="the seed's V-shape protocol: its published script vs the book, phase by phase",
    )
    p_proto.add_argument("--repeats", type=int, default=3)
    p_proto.add_argument("--train-steps", type=int, default=100)
    p_proto.add_argument("--repair-steps", type=int, default=50)
    p_proto.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N (default: cpu)")
    bench_data_options(p_proto)
    p_proto.set_defaults(func=bench_protocol)
    p_work = bench_sub.add_parser(
        "workers", help="repairs in one process vs spread over several (book plan --workers)"
    )
    p_work.add_argument("--workers", type=int, default=2)
    p_work.add_argument("--threads", type=int, default=None)
    p_work.add_argument("--repairs", type=int, default=4)
    p_work.add_argument("--steps", type=int, default=60)
    p_work.add_argument("--repeats", type=int, default=3)
    bench_data_options(p_work)
    p_work.set_defaults(func=bench_workers)
    p_prof = bench_sub.add_parser(
        "profile", help="top operators of the naive and the book's repair step (torch.profiler)"
    )
    p_prof.add_argument("--steps", type=int, default=20)
    p_prof.add_argument("--top", type=int, default=10)
    bench_data_options(p_prof)
    p_prof.set_defaults(func=bench_profile)
    p_cost = bench_sub.add_parser(
        "cost", help="a profile's CPU time (measured here) and GPU time (estimated)"
    )
    p_cost.add_argument("--profile", default="paper", choices=sorted(PROFILES))
    p_cost.add_argument("--only", action="append", metavar="NN", help="chapters (repeatable)")
    p_cost.add_argument("--gpu-tflops", type=float, default=8.0, help="assumed sustained TFLOP/s")
    p_cost.add_argument(
        "--gpu-step-ms", type=float, default=4.0, help="assumed floor per optimizer step (ms)"
    )
    p_cost.add_argument("--gpus", default="1,4,8", help="GPU counts for the wall time")
    p_cost.add_argument(
        "--chains",
        type=int,
        default=None,
        metavar="K",
        help="with a GPU --device: NeuroSovereign chains stacked when an evolution is "
        "timed (default 16, as the engine stacks them; 1: one chain alone)",
    )
    p_cost.add_argument(
        "--device", help="measure the GPU time on this device (cuda) instead of estimating it"
    )
    bench_data_options(p_cost)
    p_cost.set_defaults(func=bench_cost)
    p_cli = bench_sub.add_parser("cli", help="start-up time of `python -m plasticity --help`")
    p_cli.add_argument("--repeats", type=int, default=5)
    p_cli.set_defaults(func=bench_cli)
    return parser


def _known_errors() -> tuple[type[BaseException], ...]:
    """The errors a command reports in one line: bad input, missing data, an unusable
    cache or manifest. The data and cache modules are only consulted when the command
    imported them (a command that reads the book, such as the site build, imports no
    compute stack, and so cannot raise their errors)."""
    from ..foundations.manifest import ManifestError

    known: list[type[BaseException]] = [ParameterError, ValueError, ManifestError]
    for module, name in (
        ("plasticity.data.arrays", "DataUnavailableError"),
        ("plasticity.engine.cache", "CacheError"),
    ):
        if module in sys.modules:
            known.append(getattr(sys.modules[module], name))
    return tuple(known)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except Exception as exc:
        if not isinstance(exc, _known_errors()):
            raise
        print(f"error: {exc}", file=sys.stderr)
        return 2
