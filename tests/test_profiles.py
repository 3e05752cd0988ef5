"""Bad parameters are rejected before any compute, with name, value and valid range."""

from __future__ import annotations

import math

import pytest
from plasticity import data
from plasticity.book import runner
from plasticity.book.widgets import Slider
from plasticity.cli import main
from plasticity.engine import lazarus_runs
from plasticity.engine.profiles import PROFILES, get_profile
from plasticity.foundations.checks import ParameterError, check_choice, check_number
from plasticity.lazarus import BaseTraining


def test_messages_name_parameter_value_and_range():
    with pytest.raises(ParameterError) as info:
        check_number("alpha", -0.1, low=0)
    assert str(info.value) == "alpha=-0.1 is out of range; valid range is [0, inf)"
    with pytest.raises(ParameterError, match=r"prune_amount=1 .*\[0, 1\)"):
        check_number("prune_amount", 1, low=0, high=1, high_inclusive=False)
    with pytest.raises(ParameterError, match="not finite"):
        check_number("lr", math.nan, low=0)
    with pytest.raises(ParameterError, match="not an integer"):
        check_number("epochs", 2.0, low=1, integer=True)
    with pytest.raises(ParameterError, match="not a number"):
        check_number("alpha", True, low=0)
    assert check_number("alpha", 0.35, low=0) == 0.35


def test_unknown_choice_lists_the_options():
    with pytest.raises(ParameterError, match="profile='fast' .* 'full', 'paper', 'quick', 'smoke'"):
        check_choice("profile", "fast", sorted(PROFILES))
    with pytest.raises(ParameterError, match="profile='fast'"):
        get_profile("fast")


def test_profiles_are_data():
    assert get_profile("smoke").synthetic and not get_profile("quick").synthetic
    for name in ("quick", "paper"):
        base = get_profile(name).base
        assert (base.epochs, base.batch_size, base.lr, base.momentum) == (5, 64, 0.01, 0.9)
    assert len(get_profile("paper").seeds) == 5


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"epochs": 0}, "epochs"),
        ({"lr": 0.0}, "lr"),
        ({"momentum": 1.0}, "momentum"),
        ({"batch_size": -64}, "batch_size"),
    ],
)
def test_bad_training_settings_raise(kwargs, name):
    with pytest.raises(ParameterError, match=f"^{name}="):
        BaseTraining(**kwargs)


def test_bad_seed_raises_before_any_training(monkeypatch):
    def no_training(*args, **kwargs):
        raise AssertionError("training started")

    monkeypatch.setattr(lazarus_runs, "train_classifier", no_training)
    ds = data.synthetic_dataset("cifar10", 64, 16)
    with pytest.raises(ParameterError, match=r"seed=-1 .*\[0, inf\)"):
        lazarus_runs.base_model(ds, BaseTraining(epochs=1), seed=-1)


def test_book_rejects_bad_arguments_before_running_anything(monkeypatch, capsys, tmp_path):
    def no_execution(*args, **kwargs):
        raise AssertionError("a chapter was executed")

    monkeypatch.setattr(runner, "execute", no_execution)
    assert main(["book", "run", "--profile", "smoke", "--only", "99_nothing"]) == 1
    assert "only='99_nothing' names no chapter" in capsys.readouterr().err
    missing = tmp_path / "missing.tar.xz"
    assert main(["book", "run", "--profile", "smoke", "--data-archive", str(missing)]) == 1
    assert "data_archive=" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["book", "run", "--profile", "fast"])


def test_slider_value_must_lie_in_its_range():
    with pytest.raises(ParameterError, match=r"alpha=0.9 .*\[0, 0.5\]"):
        Slider("alpha", 0.0, 0.5, 0.05, 0.9)
