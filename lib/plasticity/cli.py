"""Command line: ``python -m plasticity {book,site,cache,data,bench} ...``."""

from __future__ import annotations

import argparse
import json
import os
import sys

# Only light modules at import time, so that --help answers at once; the commands
# import torch-based modules when they run.
from .engine.profiles import PROFILES
from .foundations.checks import ParameterError


def _book_list(args) -> int:
    from .book import runner

    for chapter in runner.chapters():
        print(f"{chapter.stem:32s} {chapter.title}")
    return 0


def _cache_ls(args) -> int:
    from .engine import cache

    rows = cache.list_entries(args.cache_dir)
    if not rows:
        print("cache is empty")
        return 0
    for row in rows:
        if not row["complete"]:
            state = "incomplete"
        else:
            state = "ok" if row["verified"] else "corrupt (recomputed on next use)"
        print(
            f"{row['kind']:20s} {row['key']}  {row['bytes'] / 1e6:8.2f} MB  "
            f"{row['created_utc'] or '-':25s} {row['version'] or '-':20s} {state}"
        )
    print(f"{len(rows)} entr{'y' if len(rows) == 1 else 'ies'}")
    return 0


def _cache_clear(args) -> int:
    from .engine import cache

    removed = cache.clear(args.cache_dir, kind=args.kind)
    print(f"removed {removed} entr{'y' if removed == 1 else 'ies'}")
    return 0


def _data_import(args) -> int:
    from . import data

    for path in args.archives:
        ds = data.import_archive(path, args.data_dir)
        print(json.dumps(ds.describe()))
    return 0


def _data_info(args) -> int:
    from . import data

    for name in data.DATASETS:
        try:
            ds = data.load_dataset(name, args.data_dir, download=False)
        except data.DataUnavailableError as exc:
            print(f"{name}: not available\n{exc}\n")
            continue
        print(json.dumps(ds.describe()))
    return 0


def _bench_data(args):
    """CIFAR-10 for a benchmark (or its synthetic look-alike), and a header line."""
    import torch

    from . import data

    if args.synthetic:
        ds = data.synthetic_dataset("cifar10", n_train=5000, n_test=1000)
    else:
        ds = data.load_dataset(
            "cifar10", args.data_dir, archives=args.data_archive or [], download=False
        )
    fingerprint = ds.describe()["fingerprint"]
    threads = torch.get_num_threads()
    print(f"data: {ds.title} ({fingerprint}), torch {torch.__version__}, {threads} threads")
    return ds


def _bench_train(args) -> int:
    from .engine import bench

    ds = _bench_data(args)
    print(f"batch 64, {args.steps} timed steps")
    rows = bench.train_throughput(ds, steps=args.steps)
    for row in rows:
        print(
            f"{row['loop']:45s} {row['images_per_s']:9.1f} images/s  "
            f"({row['images']} images in {row['seconds']:.2f} s)"
        )
    print(f"speed-up: {rows[0]['images_per_s'] / rows[1]['images_per_s']:.2f}x")
    return 0


def _bench_vshape(args) -> int:
    from .engine import bench

    ds = _bench_data(args)
    print(f"{args.epochs} epochs, alpha 0.35, {args.steps} repair steps")
    rows = bench.vshape_protocol(ds, epochs=args.epochs, steps=args.steps)
    print(f"{'phase':40s} {'steps':>6s} {'seconds':>8s} {'steps/s':>8s} {'accuracy':>9s}")
    for r in rows:
        print(
            f"{r['phase']:40s} {r['steps']:6d} {r['seconds']:8.1f} {r['steps_per_s']:8.2f} "
            f"{r['accuracy']:8.2f}%"
        )
    ours = next(r for r in rows if r["phase"] == "repair, ours (loop only)")
    naive = next(r for r in rows if r["phase"] == "repair, naive")
    print(f"repair speed-up, ours vs naive: {ours['steps_per_s'] / naive['steps_per_s']:.2f}x")
    return 0


def _bench_peak(args) -> int:
    from .engine import bench
    from .foundations.checks import check_number

    check_number("repeats", args.repeats, low=1, integer=True)
    check_number("steps", args.steps, low=1, integer=True)
    ds = _bench_data(args)
    peaks = bench.machine_peak(args.repeats)
    for row in peaks:
        print(
            f"peak  {row['kernel']:30s} {row['gflops']:7.1f} GFLOP/s "
            f"(min {row['min']:.1f}, max {row['max']:.1f})"
        )
    peak = max(row["gflops"] for row in peaks)
    for row in bench.phase_rates(ds, steps=args.steps, repeats=args.repeats):
        print(
            f"phase {row['phase']:30s} {row['images_per_s']:9.0f} img/s {row['gflops']:7.1f} "
            f"GFLOP/s  {100 * row['gflops'] / peak:5.1f} % of peak"
        )
    return 0


def _bench_grid(args) -> int:
    from .engine import bench
    from .foundations.checks import check_number

    for k in args.k:
        check_number("k", k, low=1, high=64, integer=True)
    check_number("steps", args.steps, low=1, integer=True)
    check_number("repeats", args.repeats, low=1, integer=True)
    ds = _bench_data(args)
    print(
        f"{args.steps} repair steps per repair, alpha 0.35, training images; "
        f"median of {args.repeats} alternating repeats"
    )
    print(f"{'K':>3s} {'alone ms/step':>14s} {'batched ms/step':>16s} {'speed-up':>9s}  range")
    for r in bench.grid_rates(ds, tuple(args.k), steps=args.steps, repeats=args.repeats):
        low, high = r["speedup_range"]
        print(
            f"{r['k']:3d} {r['alone_ms']:14.1f} {r['batched_ms']:16.1f} "
            f"{r['speedup']:8.2f}x  {low:.2f}-{high:.2f}"
        )
    return 0


def _bench_protocol(args) -> int:
    from .engine import bench
    from .foundations.checks import check_number

    for name in ("repeats", "train_steps", "repair_steps"):
        check_number(name, getattr(args, name), low=1, integer=True)
    ds = _bench_data(args)
    out = bench.protocol_ratio(
        ds, repeats=args.repeats, train_steps=args.train_steps, repair_steps=args.repair_steps
    )
    work = out["work"]
    print(
        f"the seed's V-shape protocol: {work['train steps']} training steps, "
        f"{work['repair steps']} repair steps, the evaluations; projected from slices of "
        f"{args.train_steps} training and {args.repair_steps} repair steps, "
        f"median of {args.repeats} alternating repeats"
    )
    print(f"{'phase':12s} {'published script':>17s} {'the book':>10s} {'ratio':>7s}")
    pub, book = out["median"]["published"], out["median"]["book"]
    for phase in ("train", "repair", "evaluation", "total"):
        ratio = pub[phase] / book[phase]
        print(f"{phase:12s} {pub[phase]:15.1f} s {book[phase]:8.1f} s {ratio:6.2f}x")
    low, high = out["ratio_range"]
    print(
        f"seed-protocol ratio (published / book): {out['ratio']:.2f}x (range {low:.2f}-{high:.2f})"
    )
    return 0


def _bench_workers(args) -> int:
    from .engine import bench
    from .foundations.checks import check_number

    for name in ("workers", "repairs", "steps", "repeats"):
        check_number(name, getattr(args, name), low=1, integer=True)
    ds = _bench_data(args)
    r = bench.worker_rates(
        ds,
        workers=args.workers,
        repairs=args.repairs,
        steps=args.steps,
        repeats=args.repeats,
        threads=args.threads,
    )
    low, high = r["speedup_range"]
    print(
        f"{args.repairs} repairs of {args.steps} steps; median of {args.repeats} alternating "
        "repeats"
    )
    print(
        f"one process, {r['one_process_threads']} threads: "
        f"{r['one_process_steps_per_s']:.2f} repair steps/s"
    )
    print(
        f"{r['workers']} processes, {r['threads']} threads each: "
        f"{r['workers_steps_per_s']:.2f} repair steps/s"
    )
    print(f"speed-up: {r['speedup']:.2f}x (range {low:.2f}-{high:.2f})")
    return 0


def _bench_profile(args) -> int:
    from .engine import bench
    from .foundations.checks import check_number

    check_number("steps", args.steps, low=1, integer=True)
    check_number("top", args.top, low=1, integer=True)
    ds = _bench_data(args)
    for name, rows in bench.profile_repair(ds, steps=args.steps, top=args.top).items():
        print(
            f"\n{name} repair step, {args.steps} steps: top {args.top} operators by self CPU time"
        )
        print(f"{'operator':40s} {'calls':>6s} {'ms/step':>8s} {'share':>6s}")
        for r in rows:
            calls = "" if r["calls"] is None else str(r["calls"])
            print(
                f"{r['operator'][:40]:40s} {calls:>6s} {r['self_ms_per_step']:8.2f} "
                f"{r['share_pct']:5.1f}%"
            )
    return 0


def _bench_cost(args) -> int:
    from . import data
    from .book import plan
    from .engine import cost
    from .engine.profiles import get_profile
    from .foundations.checks import check_number

    check_number("gpu_tflops", args.gpu_tflops, low=0, low_inclusive=False)
    check_number("gpu_step_ms", args.gpu_step_ms, low=0)
    gpus = [int(g) for g in args.gpus.split(",")]
    for g in gpus:
        check_number("gpus", g, low=1, integer=True)
    prof = get_profile(args.profile)
    synthetic = args.synthetic or prof.synthetic
    if synthetic:
        c10 = data.synthetic_dataset("cifar10", n_train=5000, n_test=1000)
        c100 = data.synthetic_dataset("cifar100", n_train=10000, n_test=1000)
    else:
        c10, c100 = (
            data.load_dataset(n, args.data_dir, archives=args.data_archive or [], download=False)
            for n in ("cifar10", "cifar100")
        )
    runs = plan.plan(prof, args.only, data_dir=args.data_dir)
    costs = cost.measure_cpu(c10, c100, prof)
    gpu = {"tflops": args.gpu_tflops, "step_ms": args.gpu_step_ms}
    table = cost.cost_table(runs, costs, **gpu)
    print(
        f"profile {prof.name}: {len(runs)} runs; CPU measured here "
        f"({torch_threads()} threads{', synthetic data' if synthetic else ''}); GPU estimated "
        f"at {args.gpu_tflops:g} TFLOP/s sustained, at least {args.gpu_step_ms:g} ms per step"
    )
    shown = table.round({"cpu_hours": 2, "gpu_hours": 2, "longest_gpu_hours": 2})
    print(shown.to_string(index=False))
    cpu_h, gpu_h = table["cpu_hours"].sum(), table["gpu_hours"].sum()
    print(f"total: {cpu_h:.1f} CPU-hours, {gpu_h:.1f} GPU-hours")
    for g in gpus:
        print(f"wall time on {g} GPU(s): {cost.wall_hours(runs, costs, g, **gpu):.1f} h")
    return 0


def torch_threads() -> int:
    import torch

    return torch.get_num_threads()


def _bench_cli(args) -> int:
    import statistics
    import subprocess
    import time

    from .foundations.checks import check_number

    check_number("repeats", args.repeats, low=1, integer=True)
    times = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "plasticity", "--help"], check=True, capture_output=True
        )
        times.append(time.perf_counter() - start)
    print(
        f"python -m plasticity --help: median {statistics.median(times):.2f} s, "
        f"min {min(times):.2f} s, max {max(times):.2f} s over {args.repeats} runs"
    )
    return 0


def _sweep(args) -> int:
    from .book import runner, sweep
    from .foundations import paths
    from .foundations.checks import check_choice

    check_choice("engine", args.engine, sweep.ENGINES)
    runner.use_device(args.device)
    resources = sweep.Resources(
        partition=args.partition,
        account=args.account,
        gpus=args.gpus,
        cpus=args.cpus,
        mem_gb=args.mem_gb,
        minutes=sweep.parse_minutes(args.time),
        workers=args.workers,
    )
    only = [o.split("_")[0].zfill(2) if o[:2].isdigit() else o for o in args.only or []]
    cache_dir = str(paths.cache_dir(args.cache_dir))
    jobs = sweep.jobs_for(
        args.profile, only, data_dir=args.data_dir, cache_dir=cache_dir, device=args.device
    )
    if not jobs:
        print(f"sweep: every run of profile {args.profile} is cached in {cache_dir}")
        return 0
    print(sweep.describe(jobs, resources, args.engine))
    if args.dry_run:
        from .book import plan

        missing = [
            r
            for r in plan.plan(args.profile, only, data_dir=args.data_dir, cache_dir=cache_dir)
            if not r.cached
        ]
        print("\ncost of the missing runs (GPU hours: an estimate, see plasticity.sweep):")
        print(sweep.cost_table(missing, cache_dir).round(2).to_string(index=False))
        return 0
    logs = args.logs or os.path.join(cache_dir, "sweep-logs")
    outcome = sweep.sweep(jobs, engine=args.engine, resources=resources, log_dir=logs)
    if outcome.failed:
        print(f"sweep: {len(outcome.failed)} run(s) failed; logs:", file=sys.stderr)
        for job, where in outcome.failed:
            print(f"  {job.label}: {where}", file=sys.stderr)
        print("run the same command again to compute only what is missing", file=sys.stderr)
        return 1
    if outcome.queued:
        print(
            f"sweep: queued; logs in {logs}. When the jobs are done: "
            f"make book PROFILE={args.profile}"
        )
    else:
        print(f"sweep: done; now: make book PROFILE={args.profile}")
    return 0


def _site_build(args) -> int:
    from .book import site

    return site.main_build(args)


def _book_plan(args) -> int:
    import os

    from . import data
    from .book import plan, runner
    from .foundations.checks import check_number

    runner.use_device(args.device)
    if args.data_archive:
        existing = data.archives_from_env()
        os.environ[data.ARCHIVE_ENV] = os.pathsep.join([*args.data_archive, *existing])
    only = [o.split("_")[0].zfill(2) if o[:2].isdigit() else o for o in args.only or []]
    check_number("batch", args.batch, low=1, integer=True)
    check_number("workers", args.workers, low=1, high=64, integer=True)
    if args.threads is not None:
        check_number("threads", args.threads, low=1, high=256, integer=True)
    if args.batch > 1 and args.workers > 1:
        raise ParameterError(
            f"batch={args.batch} and workers={args.workers}: choose one; valid range is "
            "batch > 1 with workers = 1, or workers > 1 with batch = 1"
        )
    listed = plan.plan(args.profile, only, data_dir=args.data_dir)
    table = plan.estimate(listed)
    missing = table[~table["cached"]]
    if args.json:
        print(table.to_json(orient="records", indent=1))
    else:
        for _, r in table.iterrows():
            state = "cached" if r["cached"] else f"~{r['est_seconds']:.0f} s"
            print(f"{r['kind']:<16} {r['chapters']:<12} {state:>9}  {r['run']}")
    total = float(missing["est_seconds"].sum())
    print(
        f"{len(table)} distinct runs, {len(table) - len(missing)} cached, {len(missing)} to "
        f"compute: about {total / 60:.0f} min on this machine's measured rates",
        file=sys.stderr,
    )
    cached = table[table["cached"]]
    if len(cached):
        recorded = float(cached["recorded_seconds"].fillna(0).sum())
        print(
            f"the {len(cached)} cached runs recorded {recorded / 60:.1f} min of compute when "
            f"they were computed; the rates price them at {cached['rate_seconds'].sum() / 60:.1f}"
            " min",
            file=sys.stderr,
        )
    if args.execute and args.workers > 1:
        seconds = plan.execute_parallel(
            args.profile,
            only,
            workers=args.workers,
            threads=args.threads,
            data_dir=args.data_dir,
            log=lambda m: print(m, file=sys.stderr, flush=True),
        )
        print(f"computed {len(missing)} runs in {seconds / 60:.1f} min", file=sys.stderr)
    elif args.execute:
        seconds = plan.execute(
            listed, log=lambda m: print(m, file=sys.stderr, flush=True), batch=args.batch
        )
        print(f"computed {len(missing)} runs in {seconds / 60:.1f} min", file=sys.stderr)
    return 0


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
    p_run.add_argument("--figures-dir", help="where figures and tables go (default: figures/)")
    p_run.add_argument("--output-dir", help="executed notebooks (default: executed/)")
    p_run.add_argument("--timeout", type=int, help="per-cell timeout in seconds")
    p_run.add_argument("--no-progress", action="store_true", help="no per-cell progress bar")
    p_run.add_argument(
        "--device",
        help="cpu, cuda, cuda:1, ... for every model and batch "
        "(default: $PLASTICITY_DEVICE, else CUDA when available)",
    )
    p_run.set_defaults(func=_book_run)
    book_sub.add_parser("list", help="list the chapters").set_defaults(func=_book_list)
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
        default=1,
        metavar="K",
        help="with --execute: run up to K missing repairs of one config as one batched "
        "computation (default 1: one at a time; `bench grid` measures whether it pays)",
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
    p_plan.set_defaults(func=_book_plan)

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
    p_sweep.set_defaults(func=_sweep)

    p_site = sub.add_parser("site", help="the executed book as a static site (offline)")
    site_sub = p_site.add_subparsers(dest="action", required=True)
    p_build = site_sub.add_parser("build", help="myst.yml's pages to static HTML in _build/html")
    p_build.add_argument("--root", help="folder with myst.yml and executed/ (default: the book)")
    p_build.add_argument("--out", help="output folder (default: <root>/_build/html)")
    p_build.set_defaults(func=_site_build)

    p_cache = sub.add_parser("cache", help="inspect or clear the train-or-load cache")
    p_cache.add_argument("--cache-dir", help="cache folder (default: data/cache)")
    cache_sub = p_cache.add_subparsers(dest="action", required=True)
    cache_sub.add_parser("ls", help="list cached artefacts").set_defaults(func=_cache_ls)
    p_clear = cache_sub.add_parser("clear", help="delete cached artefacts")
    p_clear.add_argument("--kind", help="only this kind (e.g. lazarus-base)")
    p_clear.set_defaults(func=_cache_clear)

    p_data = sub.add_parser("data", help="import or inspect data sets")
    p_data.add_argument("--data-dir", help="data folder (default: data/)")
    data_sub = p_data.add_subparsers(dest="action", required=True)
    p_import = data_sub.add_parser("import", help="decode image-folder archives into data/arrays")
    p_import.add_argument("archives", nargs="+", metavar="PATH")
    p_import.set_defaults(func=_data_import)
    data_sub.add_parser("info", help="which data sets are available").set_defaults(func=_data_info)

    p_bench = sub.add_parser("bench", help="benchmarks that print numbers")
    bench_sub = p_bench.add_subparsers(dest="action", required=True)
    p_train = bench_sub.add_parser("train", help="training throughput: ours vs DataLoader")
    p_train.add_argument("--steps", type=int, default=300)
    _bench_data_options(p_train)
    p_train.set_defaults(func=_bench_train)
    p_vs = bench_sub.add_parser("vshape", help="the seed's V-shape protocol, ours vs naive repair")
    p_vs.add_argument("--epochs", type=int, default=5)
    p_vs.add_argument("--steps", type=int, default=1000)
    _bench_data_options(p_vs)
    p_vs.set_defaults(func=_bench_vshape)
    p_peak = bench_sub.add_parser(
        "peak", help="this machine's peak GFLOP/s and each phase's share of it"
    )
    p_peak.add_argument("--repeats", type=int, default=5)
    p_peak.add_argument("--steps", type=int, default=50)
    _bench_data_options(p_peak)
    p_peak.set_defaults(func=_bench_peak)
    p_grid = bench_sub.add_parser(
        "grid", help="K repairs one at a time vs batched into one computation"
    )
    p_grid.add_argument("--k", type=int, nargs="+", default=[1, 2, 4, 8], metavar="K")
    p_grid.add_argument("--steps", type=int, default=30)
    p_grid.add_argument("--repeats", type=int, default=3)
    _bench_data_options(p_grid)
    p_grid.set_defaults(func=_bench_grid)
    p_proto = bench_sub.add_parser(
        "protocol",
        help="the seed's V-shape protocol: its published script vs the book, phase by phase",
    )
    p_proto.add_argument("--repeats", type=int, default=3)
    p_proto.add_argument("--train-steps", type=int, default=100)
    p_proto.add_argument("--repair-steps", type=int, default=50)
    _bench_data_options(p_proto)
    p_proto.set_defaults(func=_bench_protocol)
    p_work = bench_sub.add_parser(
        "workers", help="repairs in one process vs spread over several (book plan --workers)"
    )
    p_work.add_argument("--workers", type=int, default=2)
    p_work.add_argument("--threads", type=int, default=None)
    p_work.add_argument("--repairs", type=int, default=4)
    p_work.add_argument("--steps", type=int, default=60)
    p_work.add_argument("--repeats", type=int, default=3)
    _bench_data_options(p_work)
    p_work.set_defaults(func=_bench_workers)
    p_prof = bench_sub.add_parser(
        "profile", help="top operators of the naive and the book's repair step (torch.profiler)"
    )
    p_prof.add_argument("--steps", type=int, default=20)
    p_prof.add_argument("--top", type=int, default=10)
    _bench_data_options(p_prof)
    p_prof.set_defaults(func=_bench_profile)
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
    _bench_data_options(p_cost)
    p_cost.set_defaults(func=_bench_cost)
    p_cli = bench_sub.add_parser("cli", help="start-up time of `python -m plasticity --help`")
    p_cli.add_argument("--repeats", type=int, default=5)
    p_cli.set_defaults(func=_bench_cli)
    return parser


def _bench_data_options(parser) -> None:
    """The data options every benchmark on CIFAR-10 takes (read by ``_bench_data``)."""
    parser.add_argument("--data-dir")
    parser.add_argument("--data-archive", action="append", metavar="PATH")
    parser.add_argument("--synthetic", action="store_true", help="use synthetic data")


def _book_run(args) -> int:
    from .book import runner

    return runner.main_run(args)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from . import data

    try:
        return args.func(args)
    except (ParameterError, data.DataUnavailableError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
