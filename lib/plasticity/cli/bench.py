"""The ``bench`` commands: benchmarks that print numbers (each validates its options
before it loads data or starts a clock).
"""

from __future__ import annotations

import sys

# Only light modules at import time, so that --help answers at once; the commands
# import torch-based modules when they run.


def bench_data(args):
    """CIFAR-10 for a benchmark (or its synthetic look-alike), and a header line."""
    import torch

    from .. import data

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


def bench_train(args) -> int:
    from ..engine import bench

    ds = bench_data(args)
    print(f"batch 64, {args.steps} timed steps")
    rows = bench.train_throughput(ds, steps=args.steps)
    for row in rows:
        print(
            f"{row['loop']:45s} {row['images_per_s']:9.1f} images/s  "
            f"({row['images']} images in {row['seconds']:.2f} s)"
        )
    print(f"speed-up: {rows[0]['images_per_s'] / rows[1]['images_per_s']:.2f}x")
    return 0


def bench_vshape(args) -> int:
    from ..engine import bench

    ds = bench_data(args)
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


def bench_peak(args) -> int:
    from ..engine import bench
    from ..foundations.checks import check_number

    check_number("repeats", args.repeats, low=1, integer=True)
    check_number("steps", args.steps, low=1, integer=True)
    from ..foundations.compute import check_device

    device = check_device(args.device)
    ds = bench_data(args)
    peaks = bench.machine_peak(args.repeats, device=device)
    print(f"device {device}")
    for row in peaks:
        print(
            f"peak  {row['kernel']:30s} {row['gflops']:9.1f} GFLOP/s "
            f"(min {row['min']:.1f}, max {row['max']:.1f})"
        )
    # the book computes in float32: its share is of the measured float32 peak
    peak = max(row["gflops"] for row in peaks if row["fp32"])
    for row in bench.phase_rates(ds, steps=args.steps, repeats=args.repeats, device=device):
        print(
            f"phase {row['phase']:30s} {row['images_per_s']:9.0f} img/s {row['gflops']:7.1f} "
            f"GFLOP/s  {100 * row['gflops'] / peak:5.1f} % of the fp32 peak  "
            f"{row['ms_per_step']:7.2f} ms/step"
        )
    for row in bench.sovereign_step_rates(device=device, repeats=args.repeats):
        label = {"none": "without the spectral term"}.get(
            row["method"], f"spectral {row['method']}"
        )
        print(
            f"sovereign APEX step, {label:26s} {row['ms_per_step']:7.2f} ms/step "
            f"(min {row['min']:.2f}, max {row['max']:.2f})"
        )
    return 0


def bench_spectral(args) -> int:
    from ..engine.bench import SPECTRAL_SHAPES, spectral_rates
    from ..foundations.checks import check_number

    rows = spectral_rates(args.device, check_number("repeats", args.repeats, low=1, integer=True))
    print(f"L_opt forward + backward per matrix, median of {args.repeats} ({rows[0]['device']})")
    for row in rows:
        print(f"{row['matrix']:12s} {row['shape']:>8s} {row['method']:5s} {row['ms']:9.2f} ms")
    by = {(r["matrix"], r["method"]): r["ms"] for r in rows}
    step = {m: sum(by[(n, m)] for n in SPECTRAL_SHAPES) for m in ("svd", "gram", "host")}
    print(
        f"per APEX step: svd {step['svd']:.2f} ms, gram {step['gram']:.2f} ms "
        f"({step['svd'] / step['gram']:.1f}x), host {step['host']:.2f} ms "
        f"({step['svd'] / step['host']:.1f}x; synchronous here, overlapped in a stacked step)"
    )
    return 0


def _stack_bench_device(args, largest: int):
    """Check a stack benchmark's K values, steps and repeats; return its device."""
    from ..foundations.checks import check_number
    from ..foundations.compute import check_device

    for k in args.k:
        check_number("k", k, low=1, high=largest, integer=True)
    check_number("steps", args.steps, low=1, integer=True)
    check_number("repeats", args.repeats, low=1, integer=True)
    return check_device(args.device)


def bench_chains(args) -> int:
    from ..engine import bench

    device = _stack_bench_device(args, bench.rates.MAX_CHAINS)
    rows = bench.sovereign_stack_rates(
        tuple(args.k), tuple(args.method), str(device), args.steps, args.repeats, args.compile
    )
    compiled = f", torch.compile mode {args.compile}" if args.compile else ""
    print(
        f"NeuroSovereign APEX, K chains stacked, batch 64 each, median of {args.repeats} "
        f"x {args.steps} steps ({rows[0]['device']}{compiled})"
    )
    for r in rows:
        print(
            f"spectral {r['method']:4s} K = {r['k']:3d}: {r['ms_per_step']:8.2f} ms/step, "
            f"{r['ms_per_chain_step']:7.3f} ms per chain-step "
            f"(min {r['min']:.2f}, max {r['max']:.2f})"
        )
    return 0


def bench_grid(args) -> int:
    from ..engine import bench

    device = _stack_bench_device(args, bench.rates.MAX_GRID_K)
    ds = bench_data(args)
    print(
        f"{args.steps} repair steps per repair, alpha 0.35, training images; "
        f"median of {args.repeats} alternating repeats"
        + (f"; batched forward torch.compile mode {args.compile}" if args.compile else "")
    )
    print(f"{'K':>3s} {'alone ms/step':>14s} {'batched ms/step':>16s} {'speed-up':>9s}  range")
    print(f"device {device}")
    for r in bench.grid_rates(
        ds,
        tuple(args.k),
        steps=args.steps,
        repeats=args.repeats,
        device=device,
        compile=args.compile,
    ):
        low, high = r["speedup_range"]
        print(
            f"{r['k']:3d} {r['alone_ms']:14.1f} {r['batched_ms']:16.1f} "
            f"{r['speedup']:8.2f}x  {low:.2f}-{high:.2f}"
        )
    return 0


def bench_protocol(args) -> int:
    from ..engine import bench
    from ..foundations.checks import check_number

    for name in ("repeats", "train_steps", "repair_steps"):
        check_number(name, getattr(args, name), low=1, integer=True)
    from ..foundations.compute import check_device

    device = check_device(args.device)
    ds = bench_data(args)
    out = bench.protocol_ratio(
        ds,
        repeats=args.repeats,
        train_steps=args.train_steps,
        repair_steps=args.repair_steps,
        device=device,
    )
    print(f"device {out['device']}")
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


def bench_workers(args) -> int:
    from ..engine import bench
    from ..foundations.checks import check_number

    for name in ("workers", "repairs", "steps", "repeats"):
        check_number(name, getattr(args, name), low=1, integer=True)
    ds = bench_data(args)
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


def bench_profile(args) -> int:
    from ..engine import bench
    from ..foundations.checks import check_number

    check_number("steps", args.steps, low=1, integer=True)
    check_number("top", args.top, low=1, integer=True)
    ds = bench_data(args)
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


def bench_cost(args) -> int:
    from .. import data
    from ..book import plan
    from ..engine import cost
    from ..engine.profiles import get_profile
    from ..foundations.checks import check_number

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
    from ..foundations.compute import check_device

    device = check_device(args.device) if args.device else None
    runs = plan.plan(prof, args.only, data_dir=args.data_dir)
    costs = cost.measure_cpu(c10, c100, prof)
    gpu = {"tflops": args.gpu_tflops, "step_ms": args.gpu_step_ms}
    measured = (
        cost.measure(c10, c100, prof, device=device, chains=args.chains)
        if device is not None and device.type != "cpu"
        else None
    )
    table = cost.cost_table(runs, costs, gpu_costs=measured, **gpu)
    how = (
        f"GPU measured here on {device} (the probe estimated)"
        if measured
        else f"GPU estimated at {args.gpu_tflops:g} TFLOP/s sustained, at least "
        f"{args.gpu_step_ms:g} ms per step"
    )
    print(
        f"profile {prof.name}: {len(runs)} runs; CPU measured here "
        f"({torch_threads()} threads{', synthetic data' if synthetic else ''}); {how}"
    )
    shown = table.round({"cpu_hours": 2, "gpu_hours": 2, "longest_gpu_hours": 2})
    print(shown.to_string(index=False))
    cpu_h, gpu_h = table["cpu_hours"].sum(), table["gpu_hours"].sum()
    print(f"total: {cpu_h:.1f} CPU-hours, {gpu_h:.1f} GPU-hours")
    for g in gpus:
        hours = cost.wall_hours(runs, costs, g, gpu_costs=measured, **gpu)
        print(f"wall time on {g} GPU(s): {hours:.1f} h")
    return 0


def torch_threads() -> int:
    import torch

    return torch.get_num_threads()


def bench_cli(args) -> int:
    import statistics
    import subprocess
    import time

    from ..foundations.checks import check_number

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


def bench_data_options(parser) -> None:
    """The data options every benchmark on CIFAR-10 takes (read by ``bench_data``)."""
    parser.add_argument("--data-dir")
    parser.add_argument("--data-archive", action="append", metavar="PATH")
    parser.add_argument("--synthetic", action="store_true", help="use synthetic data")
