"""This machine's peak and the book's share of it: FLOPs of the StabilityCNN, matmul and
conv rates, each phase's rate, K repairs stacked against one at a time, the profiler's
top operators (``bench peak``, ``bench grid``, ``bench profile``).
"""

from __future__ import annotations

import time

import torch
from torch import nn

from ...data import Batches, ImageDataset
from ...foundations.compute import set_seed
from ...lazarus import StabilityCNN
from .published import naive_repair
from .throughput import book_train_steps

# ------------------------------------------------------------------ the machine's limit


def stability_cnn_flops() -> dict[str, float]:
    """FLOPs per image of the StabilityCNN (2 per multiply-add): ``forward``, and
    ``train`` = forward + backward (weight gradients of every layer, input gradients
    of every layer but the first, whose input needs none)."""
    model = StabilityCNN()
    conv1 = 32 * 32 * model.conv1.out_channels * 3 * 9
    conv2 = 16 * 16 * model.conv2.out_channels * model.conv1.out_channels * 9
    fc1, fc2 = model.fc1.in_features * model.fc1.out_features, model.fc2.in_features * 10
    forward = conv1 + conv2 + fc1 + fc2
    backward = forward + (conv2 + fc1 + fc2)
    return {"forward": 2.0 * forward, "train": 2.0 * (forward + backward)}


def synchronize(device: torch.device | str | None) -> None:
    """Wait for the device (a GPU) to finish its queued work; nothing on a CPU."""
    if device is not None and torch.device(device).type == "cuda":
        torch.cuda.synchronize(device)


def _median_rate(
    fn, work: float, repeats: int, device: torch.device | None = None
) -> tuple[float, float, float]:
    """(median, min, max) of ``work / seconds`` over ``repeats`` timed calls (on a GPU
    synchronised before and after each, so the time is the kernels', not the launch's)."""
    import statistics

    device = device or torch.device("cpu")
    fn()  # warm-up: allocations, oneDNN primitive creation, cuBLAS/cuDNN heuristics
    synchronize(device)
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        synchronize(device)
        rates.append(work / (time.perf_counter() - start))
    return statistics.median(rates), min(rates), max(rates)


def machine_peak(repeats: int = 5, device: str = "cpu") -> list[dict]:
    """This machine's throughput on the kernels the book runs: an sgemm (1024^3 on a
    CPU, 4096^3 on a GPU, where 1024 leaves most of it idle) and the StabilityCNN's
    32->64 3x3 convolution (batch 128, channels-last), in float32; on a GPU also the
    matmul in TF32 and in bfloat16 (the rates tensor cores give)."""
    from ...foundations.compute import check_device

    dev = check_device(device)
    n = 4096 if dev.type == "cuda" else 1024
    a, b = torch.randn(n, n, device=dev), torch.randn(n, n, device=dev)
    x = torch.randn(128, 32, 16, 16, device=dev).contiguous(memory_format=torch.channels_last)
    conv = nn.Conv2d(32, 64, 3, padding=1).to(dev).eval()
    kernels = [
        (f"sgemm fp32 {n}^3", lambda: a @ b, 2.0 * n**3, False),
        ("conv 32->64 3x3, 128x16x16", lambda: conv(x), 2.0 * 128 * 16 * 16 * 64 * 32 * 9, False),
    ]
    if dev.type == "cuda":
        a16, b16 = a.bfloat16(), b.bfloat16()
        kernels += [
            (f"matmul tf32 {n}^3", lambda: a @ b, 2.0 * n**3, True),
            (f"matmul bf16 {n}^3", lambda: a16 @ b16, 2.0 * n**3, False),
        ]
    rows = []
    for name, fn, flops, tf32 in kernels:
        previous = torch.backends.cuda.matmul.allow_tf32
        torch.backends.cuda.matmul.allow_tf32 = tf32
        try:
            with torch.no_grad():
                median, low, high = _median_rate(
                    lambda fn=fn: [fn() for _ in range(5)], 5 * flops, repeats, dev
                )
        finally:
            torch.backends.cuda.matmul.allow_tf32 = previous
        rows.append(
            {
                "kernel": name,
                "gflops": median / 1e9,
                "min": low / 1e9,
                "max": high / 1e9,
                "device": str(dev),
                "fp32": "fp32" in name or "conv" in name,
            }
        )
    return rows


def phase_work(
    dataset: ImageDataset, train_steps: int = 50, repair_steps: int = 50, device: str = "cpu"
) -> dict[str, object]:
    """The book's three phases as calls on real shapes, for timing: ``train`` runs
    ``train_steps`` SGD steps of batch 64, ``repair`` the book's repair for
    ``repair_steps`` steps (clean + noisy, 128 images, fused Adam, teacher logits
    precomputed), ``evaluate`` a fused pass over up to 2048 test images."""
    from ... import lazarus
    from ...data import Normalizer, to_tensor
    from ...foundations.compute import check_device

    dev = check_device(device)
    normalize = Normalizer()
    set_seed(0)
    model = StabilityCNN().to(dev)
    stream = Batches(dataset.train_x, dataset.train_y, 64, seed=0, device=dev).stream()
    sgd = torch.optim.SGD(model.parameters(), lr=0.01)

    def train() -> None:
        book_train_steps(model, stream, sgd, train_steps)

    student = StabilityCNN().to(dev)
    images = to_tensor(dataset.train_x[:2048]).to(dev)
    config = lazarus.RepairConfig(steps=repair_steps, eval_at=())
    teacher_logits = lazarus.logits_table(model, images, normalize)

    def repair() -> None:
        lazarus.repair(student, model, config, images=images, teacher_logits=teacher_logits)

    test = to_tensor(dataset.test_x[:2048]).to(dev)

    def evaluate() -> None:
        lazarus.logits_table(model, test, normalize)

    return {"train": train, "repair": repair, "evaluate": evaluate, "test_images": len(test)}


def phase_rates(
    dataset: ImageDataset, steps: int = 50, repeats: int = 3, device: str = "cpu"
) -> list[dict]:
    """Images/s, GFLOP/s and ms per step of the book's three phases on real shapes
    (:func:`phase_work`): base training, the repair step and the test-set pass."""
    from ...foundations.compute import check_device

    dev = check_device(device)
    flops = stability_cnn_flops()
    work = phase_work(dataset, steps, steps, device=dev)
    train, repair, evaluate = work["train"], work["repair"], work["evaluate"]
    rows = []
    for phase, fn, images_per_call, per_image, calls in (
        ("train (SGD, batch 64)", train, 64 * steps, flops["train"], steps),
        ("repair step (2 x 64 images)", repair, 128 * steps, flops["train"], steps),
        ("test-set pass (fused)", evaluate, work["test_images"], flops["forward"], 1),
    ):
        median, low, high = _median_rate(fn, images_per_call, repeats, dev)
        rows.append(
            {
                "phase": phase,
                "images_per_s": median,
                "gflops": median * per_image / 1e9,
                "ms_per_step": 1000 * images_per_call / median / calls,
                "spread": (low, high),
                "device": str(dev),
            }
        )
    return rows


def sovereign_step_rates(
    methods: tuple[str, ...] = ("none", "svd", "gram", "host"),
    device: str = "cpu",
    steps: int = 10,
    repeats: int = 3,
) -> list[dict]:
    """Milliseconds per NeuroSovereign APEX training step (batch 64: forward, fine and
    coarse losses, the spectral term on fc1 and the token MLP, backward, clip, AdamW,
    masks) with the spectral term computed by each of ``methods`` (``none``: without
    it, the floor the term adds to; ``host``: decomposed on the CPU, synchronously, as
    one chain alone computes it), on random images of CIFAR's shape."""
    import torch.nn.functional as F

    from ...foundations.checks import check_choice, check_number
    from ...foundations.compute import check_device
    from ...sovereign import SovereignConfig, build_net
    from ...sovereign.model import TaxonomicMLP
    from ...sovereign.spectra import spectral_loss, spectral_weights

    dev = check_device(device)
    check_number("steps", steps, low=1, integer=True)
    check_number("repeats", repeats, low=1, integer=True)
    for m in methods:
        check_choice("method", m, ("none", "svd", "gram", "host"))
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(64, 3, 32, 32, generator=gen).to(dev)
    y = torch.randint(0, 100, (64,), generator=gen).to(dev)
    yc = torch.randint(0, 20, (64,), generator=gen).to(dev)
    rows = []
    for method in methods:
        set_seed(0)
        config = SovereignConfig(spectral_method="svd" if method == "none" else method)
        net = build_net("apex", config).to(dev)
        opt = torch.optim.AdamW([p for p in net.parameters() if p.requires_grad], lr=1e-3)

        def step(net=net, opt=opt, method=method, config=config) -> None:
            fine, coarse = net(x)
            loss = F.cross_entropy(fine, y) + 0.15 * F.cross_entropy(coarse, yc)
            if method != "none":
                loss = loss + config.spectral_weight * sum(
                    spectral_loss(w, config.spectral_method)[0]
                    for w in spectral_weights(net).values()
                )
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(net.parameters(), config.clip)
            opt.step()
            with torch.no_grad():
                for name in TaxonomicMLP.LAYERS:
                    getattr(net.mlp, name).weight.mul_(getattr(net.mlp, f"mask_{name}"))

        def run(step=step) -> None:
            for _ in range(steps):
                step()

        median, slowest, fastest = _median_rate(run, steps, repeats, dev)  # steps per second
        rows.append(
            {
                "method": method,
                "ms_per_step": 1000 / median,
                "min": 1000 / fastest,
                "max": 1000 / slowest,
                "device": str(dev),
            }
        )
    return rows


#: The largest NeuroSovereign stack ``bench chains`` times.
MAX_CHAINS = 64


def sovereign_stack_rates(
    ks: tuple[int, ...] = (1, 8, 16, 32),
    methods: tuple[str, ...] = ("svd", "gram", "host"),
    device: str = "cpu",
    steps: int = 10,
    repeats: int = 3,
    compile: str | None = None,
) -> list[dict]:
    """Milliseconds per NeuroSovereign APEX training step of K chains stacked
    (:class:`plasticity.sovereign.many.ChainStack`: one vectorised forward, backward
    and AdamW step for K chains, batch 64 each, spectral term by each of ``methods``),
    and per chain-step (the step's time / K), on random images of CIFAR's shape;
    ``compile``: a ``torch.compile`` mode for the stack (compiled in the warm-up)."""
    from ...foundations.checks import check_choice, check_number
    from ...foundations.compute import check_device
    from ...sovereign import SovereignConfig, build_net
    from ...sovereign.many import ChainStack

    dev = check_device(device)
    for k in ks:
        check_number("k", k, low=1, high=MAX_CHAINS, integer=True)
    check_number("steps", steps, low=1, integer=True)
    check_number("repeats", repeats, low=1, integer=True)
    for m in methods:
        check_choice("method", m, ("svd", "gram", "host"))
    rows = []
    for method in methods:
        config = SovereignConfig(spectral_method=method)
        for k in ks:
            set_seed(0)
            gen = torch.Generator().manual_seed(0)
            x = torch.rand(k, 64, 3, 32, 32, generator=gen).to(dev)
            y = torch.randint(0, 100, (k, 64), generator=gen).to(dev)
            to_coarse = torch.randint(0, 20, (k, 100), generator=gen).to(dev)
            lam = torch.full((k,), config.lambda_base, device=dev)
            l1 = torch.full((k,), config.l1, device=dev)
            nets = [build_net("apex", config).to(dev) for _ in range(k)]
            stack = ChainStack(nets, config, 1, compile)

            def run(stack=stack, x=x, y=y, lam=lam, l1=l1, to_coarse=to_coarse) -> None:
                for _ in range(steps):
                    stack.step(x, y, lam, l1, to_coarse)

            median, slowest, fastest = _median_rate(run, steps, repeats, dev)
            rows.append(
                {
                    "method": method,
                    "k": k,
                    "ms_per_step": 1000 / median,
                    "ms_per_chain_step": 1000 / median / k,
                    "compile": compile,
                    "min": 1000 / fastest,
                    "max": 1000 / slowest,
                    "device": str(dev),
                }
            )
    return rows


#: The largest stack ``bench grid`` times (a GPU's stacks reach 128).
MAX_GRID_K = 128


def grid_rates(
    dataset: ImageDataset,
    ks: tuple[int, ...] = (1, 2, 4, 8),
    steps: int = 30,
    repeats: int = 3,
    device: str = "cpu",
    compile: str | None = None,
) -> list[dict]:
    """Per-repair step time of K repairs one at a time and as one batched computation
    (:func:`plasticity.lazarus.many.repair_many`), side by side in one process: for each K,
    ``repeats`` alternating timings of both, K students of the book's repair (alpha
    0.35, training images, teacher logits precomputed, ``steps`` steps). Returns the
    median milliseconds per repair step of each and the median of the per-repeat
    ratios (one at a time / batched: above 1, batching pays). ``compile``: a
    ``torch.compile`` mode for the batched forward pass (compiled in the warm-up)."""
    import copy
    import statistics

    from ... import lazarus
    from ...data import Normalizer, to_tensor
    from ...foundations.checks import check_number
    from ...foundations.compute import check_device
    from ...lazarus import damage, repair_many

    dev = check_device(device)
    check_number("steps", steps, low=1, integer=True)
    check_number("repeats", repeats, low=1, integer=True)
    for k in ks:
        check_number("k", k, low=1, high=MAX_GRID_K, integer=True)
    set_seed(0)
    teacher = StabilityCNN().to(dev).eval()
    images = to_tensor(dataset.train_x[:2048]).to(dev)
    logits = lazarus.logits_table(teacher, images, Normalizer())
    config = lazarus.RepairConfig(steps=steps, eval_at=())
    rows = []
    for k in ks:
        students = [damage.noisy_copy(teacher, 0.35, seed=s) for s in range(k)]

        def one_at_a_time(students=students) -> None:
            for i, s in enumerate(students):
                lazarus.repair(
                    copy.deepcopy(s), teacher, config, images=images, teacher_logits=logits, seed=i
                )

        def batched(students=students, k=k) -> None:
            repair_many(
                [copy.deepcopy(s) for s in students],
                teacher,
                config,
                seeds=list(range(k)),
                images=images,
                teacher_logits=logits,
                compile=compile,
            )

        one_at_a_time(), batched()  # warm-up
        synchronize(dev)
        alone, together = [], []
        for _ in range(repeats):
            for fn, times in ((one_at_a_time, alone), (batched, together)):
                start = time.perf_counter()
                fn()
                synchronize(dev)
                times.append(1000 * (time.perf_counter() - start) / (k * steps))
        rows.append(
            {
                "k": k,
                "alone_ms": statistics.median(alone),
                "batched_ms": statistics.median(together),
                "speedup": statistics.median(a / b for a, b in zip(alone, together, strict=True)),
                "speedup_range": (
                    min(a / b for a, b in zip(alone, together, strict=True)),
                    max(a / b for a, b in zip(alone, together, strict=True)),
                ),
            }
        )
    return rows


def profile_repair(dataset: ImageDataset, steps: int = 20, top: int = 10) -> dict[str, list[dict]]:
    """The ``top`` operators by self CPU time (``torch.profiler``) of ``steps`` repair
    steps, for the naive published step (:func:`naive_repair`: teacher recomputed, two
    student passes, per-tensor Adam) and for the book's (:func:`plasticity.lazarus.repair`:
    teacher logits precomputed, one pass of 2 x 64 channels-last images, fused Adam),
    from the same damaged weights and images, after one warm-up call of each."""
    import copy

    from torch.profiler import ProfilerActivity, profile

    from ... import lazarus
    from ...data import Normalizer, to_tensor
    from ...foundations.checks import check_number
    from ...lazarus import damage

    check_number("steps", steps, low=1, integer=True)
    check_number("top", top, low=1, integer=True)
    set_seed(0)
    teacher = StabilityCNN().eval()
    images = to_tensor(dataset.train_x[:2048])
    logits = lazarus.logits_table(teacher, images, Normalizer())
    config = lazarus.RepairConfig(steps=steps, eval_at=())
    student = damage.noisy_copy(teacher, 0.35, seed=1)
    calls = {
        "naive": lambda: naive_repair(copy.deepcopy(student), teacher, images, config),
        "book": lambda: lazarus.repair(
            copy.deepcopy(student), teacher, config, images=images, teacher_logits=logits
        ),
    }
    tables = {}
    for name, fn in calls.items():
        fn()
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            fn()
        events = sorted(prof.key_averages(), key=lambda e: e.self_cpu_time_total, reverse=True)
        total = sum(e.self_cpu_time_total for e in events)
        tables[name] = [
            {
                "operator": e.key,
                "calls": e.count,
                "self_ms_per_step": e.self_cpu_time_total / 1000 / steps,
                "share_pct": 100 * e.self_cpu_time_total / total,
            }
            for e in events[:top]
        ] + [
            {
                "operator": "all operators",
                "calls": None,
                "self_ms_per_step": total / 1000 / steps,
                "share_pct": 100.0,
            }
        ]
    return tables


#: The matrices NeuroSovereign's spectral loss acts on every step: fc1 and the token MLP.
SPECTRAL_SHAPES = {"fc1": (256, 384), "token_mlp.0": (64, 128), "token_mlp.2": (128, 64)}


def spectral_rates(device: str = "cpu", repeats: int = 20) -> list[dict]:
    """Milliseconds of one forward and backward pass of L_opt per matrix and route
    (``svd``: torch's svdvals; ``gram``: the Gram route), medians of ``repeats``, on
    ``device`` (synchronised around each timing on a GPU)."""
    from ...foundations.compute import check_device
    from ...sovereign.spectra import SPECTRAL_METHODS, spectral_loss

    dev = check_device(device)
    gen = torch.Generator().manual_seed(0)
    rows = []
    for name, shape in SPECTRAL_SHAPES.items():
        w = (torch.randn(*shape, generator=gen) / shape[1] ** 0.5).to(dev).requires_grad_(True)
        for method in SPECTRAL_METHODS:

            def step(method=method, w=w) -> None:
                spectral_loss(w, method)[0].backward()

            step()  # warm-up (kernel selection, workspace)
            times = []
            for _ in range(repeats):
                synchronize(dev)
                start = time.perf_counter()
                step()
                synchronize(dev)
                times.append(time.perf_counter() - start)
            times.sort()
            rows.append(
                {
                    "matrix": name,
                    "shape": f"{shape[0]}x{shape[1]}",
                    "method": method,
                    "ms": 1e3 * times[len(times) // 2],
                    "device": str(dev),
                }
            )
    return rows
