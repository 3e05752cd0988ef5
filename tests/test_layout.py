"""The package's layout is its architecture: arrows point down only, no circles, no
private name crosses a module boundary, and the run keys do not depend on the layout."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

LIB = Path(__file__).resolve().parents[1] / "lib" / "plasticity"

#: Bottom to top. A module may import its own layer (within its package) and below.
LAYERS = {
    "foundations": 0,
    "data": 1,
    "lazarus": 2,
    "sovereign": 2,
    "engine": 3,
    "science": 4,
    "book": 5,
    "cli": 6,
    "__main__": 6,
    "__init__": 6,
}


def _module_name(path: Path) -> str:
    rel = path.relative_to(LIB).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1] or ["__init__"]
    return ".".join(parts)


def _imports(path: Path) -> list[tuple[str, list[str], int]]:
    """(imported plasticity module, imported names, line) for every import, lazy ones too."""
    module = _module_name(path)
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    out = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - (node.level - 1)]
                target = ".".join([*base, *([node.module] if node.module else [])])
            elif (node.module or "").startswith("plasticity"):
                target = node.module[len("plasticity") :].lstrip(".")
            else:
                continue
            names = [a.name for a in node.names]
            if not node.module:  # from . import x: x is a module
                for name in names:
                    out.append((f"{target}.{name}".lstrip("."), [], node.lineno))
            else:
                out.append((target, names, node.lineno))
        elif isinstance(node, ast.Import):
            for a in node.names:
                if a.name.startswith("plasticity."):
                    out.append((a.name[len("plasticity.") :], [], node.lineno))
    return out


def _graph() -> dict[str, list[tuple[str, list[str], int]]]:
    return {_module_name(p): _imports(p) for p in sorted(LIB.rglob("*.py"))}


def _layer(module: str) -> tuple[str, int]:
    top = module.split(".")[0]
    if top in ("__main__", "__init__"):  # the package's entry points sit with the CLI
        top = "cli"
    assert top in LAYERS, f"{module}: a new top-level name must be given a layer in LAYERS"
    return top, LAYERS[top]


def test_every_import_points_down_or_sideways_within_its_package():
    wrong = []
    for module, imports in _graph().items():
        top, level = _layer(module)
        for target, _, line in imports:
            t_top, t_level = _layer(target) if target else ("__init__", 6)
            if t_level > level or (t_level == level and t_top != top):
                wrong.append(f"{module}:{line} imports {target}")
    assert not wrong, "imports that point up or across:\n" + "\n".join(wrong)


def test_the_systems_know_nothing_of_engine_science_or_book():
    for module, imports in _graph().items():
        if module.split(".")[0] in ("lazarus", "sovereign"):
            for target, _, line in imports:
                assert target.split(".")[0] not in ("engine", "science", "book", "cli"), (
                    f"{module}:{line} imports {target}"
                )


def test_no_circle_between_modules():
    graph = _graph()
    modules = set(graph)

    def resolve(target: str) -> str | None:
        # "lazarus.damage" is a module; "lazarus" the package's __init__
        return target if target in modules else None

    edges = {
        m: {r for t, _, _ in imps if (r := resolve(t)) and r != m} for m, imps in graph.items()
    }
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(m: str) -> None:
        state[m] = 1
        path.append(m)
        for n in sorted(edges[m]):
            if state.get(n) == 1:
                cycle = path[path.index(n) :] + [n]
                pytest.fail("import circle: " + " -> ".join(cycle))
            if not state.get(n):
                visit(n)
        path.pop()
        state[m] = 2

    for m in sorted(edges):
        if not state.get(m):
            visit(m)


def test_no_private_name_crosses_a_module():
    crossing = [
        f"{module}:{line} imports {name} from {target}"
        for module, imports in _graph().items()
        for target, names, line in imports
        for name in names
        if name.startswith("_") and name != "__version__"
    ]
    assert not crossing, "\n".join(crossing)


def test_the_layer_rules_catch_an_upward_import(tmp_path):
    """The checker itself: an import from a system into the book is reported."""
    bad = LIB / "lazarus" / "_layout_probe.py"
    bad.write_text("from ..book import plots\n")
    try:
        with pytest.raises(AssertionError, match="lazarus._layout_probe"):
            test_every_import_points_down_or_sideways_within_its_package()
    finally:
        bad.unlink()


KEYS = Path(__file__).parent / "data" / "plan_keys.json"


def _plan_keys(profile: str, archives: list[Path] | None = None) -> list[list[str]]:
    from plasticity.book import plan
    from plasticity.data import ensure_imported

    for archive in archives or []:
        ensure_imported(archive)
    return sorted([r.kind, r.key] for r in plan.plan(profile))


def _new_evidence(profile) -> dict[str, int]:
    """Runs added with the new evidence, by kind: the traditional repairs of chapter 6,
    v3 computed again beside them (80 % pruning on the first five seeds, the V-shape's
    noise on the first three), the seed's own recipe and the damage costs of each base model."""
    from plasticity.science import experiments

    scale = profile.lazarus
    bases = len(experiments.seeds_needed(profile)) if scale.base_per_seed else 1
    return {
        "lazarus-repair": len(experiments.TRADITIONAL_METHODS)
        * len(scale.seeds[: experiments.TRADITIONAL_SEEDS]),
        "lazarus-rerun": len(scale.seeds[: experiments.TRADITIONAL_SEEDS])
        + len(scale.seeds[: experiments.BASIN_NOISE_SEEDS]),
        "lazarus-seed-recipe": len(scale.reference_seeds),
        "lazarus-damage-costs": bases,
    }


def test_the_smoke_plan_keys_every_run_as_before_the_layout_changed():
    """Cache keys name what a run computes, not where its code lives: the smoke plan's
    118 runs keep the keys ``book plan --json`` listed on the flat layout. The only
    runs added since are the arm with random superclasses (APEX and BLIND per seed), the
    repairs at a matched damage level (one per target and verdict seed) and the new
    evidence (:func:`_new_evidence`)."""
    from plasticity.engine.profiles import get_profile

    smoke = get_profile("smoke")
    pinned = json.loads(KEYS.read_text())["smoke"]
    now = _plan_keys("smoke")
    assert [k for k in pinned if k not in now] == []
    added = [k for k in now if k not in pinned]
    kinds = [kind for kind, _ in added]
    assert kinds.count("sovereign-run") == 2 * len(smoke.sovereign_seeds)
    matched = len(smoke.lazarus.matched_prune) * len(smoke.lazarus.seeds)
    new = _new_evidence(smoke)
    assert kinds.count("lazarus-repair") == matched + new.pop("lazarus-repair")
    for kind, count in new.items():
        assert kinds.count(kind) == count, kind
    assert len(added) == 2 * len(smoke.sovereign_seeds) + matched + sum(
        _new_evidence(smoke).values()
    )


def test_the_quick_plan_keys_every_run_as_before_the_layout_changed(real_archives):
    pinned = json.loads(KEYS.read_text())["quick"]
    archives = [real_archives / "cifar10-jpeg.tar.xz", real_archives / "cifar100-jpeg.tar.xz"]
    from plasticity.engine.profiles import get_profile

    now = _plan_keys("quick", archives)
    assert [k for k in pinned if k not in now] == []
    kinds = [kind for kind, key in now if [kind, key] not in pinned]
    assert {k: kinds.count(k) for k in set(kinds)} == _new_evidence(get_profile("quick"))


def test_the_reading_path_and_the_command_line_import_no_compute_stack():
    """`make site` installs no torch, and `--help` answers at once: the command line and
    the site build import nothing of torch, torchvision or scipy."""
    import subprocess
    import sys

    code = (
        "import sys; import plasticity.cli, plasticity.book.site, plasticity.book.publish; "
        "heavy = [m for m in ('torch', 'torchvision', 'scipy', 'matplotlib') if m in sys.modules]; "
        "print(','.join(heavy))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert out == ""


def test_the_light_profile_names_match_the_profiles():
    from plasticity.engine.profiles import PROFILES
    from plasticity.foundations import checks, compute, profile_names

    assert set(profile_names.PROFILE_NAMES) == set(PROFILES)
    assert profile_names.SYNTHETIC_PROFILES == {n for n, p in PROFILES.items() if p.synthetic}
    assert checks.COMPILE_MODES is compute.COMPILE_MODES
