"""The run profiles by name, for code that must not import the compute stack: the
command line's choices (so ``--help`` answers at once) and the static site, which is
built with no torch installed. The profiles themselves are
:data:`plasticity.engine.profiles.PROFILES`; a test keeps the two in step."""

from __future__ import annotations

#: Every profile, in order of cost.
PROFILE_NAMES: tuple[str, ...] = ("smoke", "quick", "full", "paper")

#: The profiles that run on synthetic data (tests and CI).
SYNTHETIC_PROFILES: frozenset[str] = frozenset({"smoke"})


def is_synthetic(name: str | None) -> bool:
    """Whether the profile ``name`` runs on synthetic data (False for an unknown name)."""
    return name in SYNTHETIC_PROFILES


def is_real(name: str | None) -> bool:
    """Whether ``name`` is a profile that runs on real data."""
    return name in PROFILE_NAMES and name not in SYNTHETIC_PROFILES
