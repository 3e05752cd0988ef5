"""The ``book``, ``cache``, ``data``, ``site`` and ``sweep`` commands: validate, call the
library, print.
"""

from __future__ import annotations

import json
import os
import sys

# Only light modules at import time, so that --help answers at once; the commands
# import torch-based modules when they run.
from ..foundations.checks import ParameterError


def book_compare(args) -> int:
    import pandas as pd

    from ..science import headlines

    tables = []
    for name in ("first", "second"):
        path = getattr(args, name)
        try:
            tables.append(pd.read_csv(path))
        except (OSError, ValueError) as exc:
            print(
                f"error: {name}={path!r} is not a readable headline table ({exc})", file=sys.stderr
            )
            return 2
    try:
        table, counts = headlines.compare(*tables)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    moved = table[table["move"] != "same"]
    if not moved.empty:
        print(moved[["key", "first", "second", "move"]].to_string(index=False))
    print(", ".join(f"{v} {k}" for k, v in counts.items()))
    # a verdict that flips between the two decided verdicts is the failure this checks
    return 1 if counts["flipped"] else 0


def book_list(args) -> int:
    from ..book import runner

    for chapter in runner.chapters():
        print(f"{chapter.stem:32s} {chapter.title}")
    return 0


def book_publish(args) -> int:
    from ..book import publish, runner
    from ..foundations import paths

    try:
        stems = [c.stem for c in runner.select(runner.chapters(), args.only)] if args.only else None
        done = publish.publish(paths.project_root(), stems)
    except (ParameterError, publish.PublishError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if not done:
        print("nothing to publish: no chapter is executed in executed/ (make book)")
    return 0


def book_outputs(args) -> int:
    from ..book import publish
    from ..foundations import paths

    done = publish.lab_notebooks(paths.project_root(), force=args.force)
    if not done:
        print("no notebook took published outputs (none published, or each has its own)")
    return 0


def cache_ls(args) -> int:
    from ..engine import cache

    rows = cache.list_entries(args.cache_dir)
    if not rows:
        print("cache is empty")
        return 0
    for row in rows:
        if not row["complete"]:
            state = "incomplete"
        else:
            state = "ok" if row["verified"] else "corrupt (recomputed on next use)"
            if row["verified"] and row["results_only"]:
                state = "ok, results only (imported)"
        print(
            f"{row['kind']:20s} {row['key']}  {row['bytes'] / 1e6:8.2f} MB  "
            f"{row['created_utc'] or '-':25s} {row['version'] or '-':20s} {state}"
        )
    print(f"{len(rows)} entr{'y' if len(rows) == 1 else 'ies'}")
    return 0


def cache_clear(args) -> int:
    from ..engine import cache

    removed, left = cache.clear(args.cache_dir, kind=args.kind)
    for folder in removed:
        print(f"removed {folder}")
    for folder in left:
        print(f"left {folder} (not a cache entry)")
    print(
        f"removed {len(removed)} entr{'y' if len(removed) == 1 else 'ies'}"
        + (f"; left {len(left)} folder(s) that are not cache entries" if left else "")
    )
    return 0


def results_export(args) -> int:
    from .. import data
    from ..book import plan
    from ..book.chapter import Chapter
    from ..engine import results

    try:
        results.check_out(args.out)  # before the data are read
        # the profile's data sets as its chapters load them (as `book plan` does)
        ch = Chapter("00_data", args.profile, data_dir=args.data_dir, headless=True)
        datasets = [ch.dataset(k) for k in data.DATASETS]
        runs = None
        if not args.all_runs:  # the profile's own runs, not whatever else the cache holds
            listed = plan.plan(args.profile, data_dir=args.data_dir, cache_dir=args.cache_dir)
            runs = {(r.kind, r.key) for r in listed}
            missing = [r for r in listed if not r.cached]
            if missing:
                chapters = sorted({c for r in missing for c in r.chapters})
                print(
                    f"warning: {len(missing)} of the {args.profile} profile's {len(listed)} "
                    f"runs are not in the cache; chapter(s) {', '.join(chapters)} cannot "
                    "replay from this pack",
                    file=sys.stderr,
                )
        summary = results.export_pack(
            args.out, datasets, cache_dir=args.cache_dir, kinds=args.kind, runs=runs
        )
    except (ParameterError, results.PackError, data.DataUnavailableError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(
        f"{summary['entries']} results ({summary['json_bytes'] / 1e6:.1f} MB of JSON) -> "
        f"{args.out} ({summary['pack_bytes'] / 1e6:.2f} MB)"
    )
    return 0


def results_import(args) -> int:
    from ..engine import cache, results

    try:
        summary = results.import_pack(args.archive, cache_dir=args.cache_dir)
    except (ParameterError, results.PackError, cache.CacheError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(
        f"imported {summary['imported']} results (kept {summary['kept']} entries already "
        f"here); data sets recorded: {', '.join(summary['datasets'])}"
    )
    return 0


def data_import(args) -> int:
    from .. import data

    for path in args.archives:
        ds = data.import_archive(path, args.data_dir)
        print(json.dumps(ds.describe()))
    return 0


def data_info(args) -> int:
    from .. import data

    for name in data.DATASETS:
        try:
            ds = data.load_dataset(name, args.data_dir, download=False)
        except data.DataUnavailableError as exc:
            print(f"{name}: not available\n{exc}\n")
            continue
        print(json.dumps(ds.describe()))
    return 0


def sweep(args) -> int:
    from ..book import runner, sweep
    from ..foundations import paths
    from ..foundations.checks import check_choice

    check_choice("engine", args.engine, sweep.ENGINES)
    # a local sweep computes here: its device must be present; a cluster job's need not
    runner.use_device(args.device, present=args.engine == "local")
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
        from ..book import plan

        missing = [
            r
            for r in plan.plan(args.profile, only, data_dir=args.data_dir, cache_dir=cache_dir)
            if not r.cached
        ]
        print("\ncost of the missing runs (GPU hours: an estimate, see plasticity.book.sweep):")
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


def site_build(args) -> int:
    from ..book import site

    return site.main_build(args)


def book_plan(args) -> int:
    import os

    from .. import data
    from ..book import execute, plan, runner
    from ..foundations.checks import check_number

    runner.use_device(args.device)
    if args.data_archive:
        existing = data.archives_from_env()
        os.environ[data.ARCHIVE_ENV] = os.pathsep.join([*args.data_archive, *existing])
    only = [o.split("_")[0].zfill(2) if o[:2].isdigit() else o for o in args.only or []]
    if args.batch is None:  # the engine's choice for this device
        from ..engine.stacked import default_batch
        from ..foundations.compute import default_device

        args.batch = 1 if args.workers > 1 else default_batch(default_device())
    check_number("batch", args.batch, low=1, integer=True)
    check_number("workers", args.workers, low=1, high=64, integer=True)
    if args.threads is not None:
        check_number("threads", args.threads, low=1, high=256, integer=True)
    if args.compile is not None and args.batch == 1:
        raise ParameterError(
            f"compile={args.compile!r} compiles stacked runs; valid with batch > 1 "
            f"(here batch={args.batch})"
        )
    if args.batch > 1 and args.workers > 1:
        raise ParameterError(
            f"batch={args.batch} and workers={args.workers}: choose one; valid range is "
            "batch > 1 with workers = 1, or workers > 1 with batch = 1"
        )
    listed = plan.plan(args.profile, only, data_dir=args.data_dir)
    table = plan.estimate(listed)
    missing = table[~table["cached"].astype(bool)]
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
    cached = table[table["cached"].astype(bool)]
    if len(cached):
        recorded = float(cached["recorded_seconds"].fillna(0).sum())
        print(
            f"the {len(cached)} cached runs recorded {recorded / 60:.1f} min of compute when "
            f"they were computed; the rates price them at {cached['rate_seconds'].sum() / 60:.1f}"
            " min",
            file=sys.stderr,
        )
    if args.execute and args.workers > 1:
        seconds = execute.execute_parallel(
            args.profile,
            only,
            workers=args.workers,
            threads=args.threads,
            data_dir=args.data_dir,
            log=lambda m: print(m, file=sys.stderr, flush=True),
        )
        print(f"computed {len(missing)} runs in {seconds / 60:.1f} min", file=sys.stderr)
    elif args.execute:
        seconds = execute.execute(
            listed,
            log=lambda m: print(m, file=sys.stderr, flush=True),
            batch=args.batch,
            compile=args.compile,
        )
        print(f"computed {len(missing)} runs in {seconds / 60:.1f} min", file=sys.stderr)
    return 0


def book_run(args) -> int:
    from ..book import runner

    return runner.main_run(args)
