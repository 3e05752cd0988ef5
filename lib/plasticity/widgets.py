"""Sliders around a plain plotting function; a single static call when headless.

The plotting function takes keyword arguments and returns a matplotlib figure.
:func:`explore` shows that figure once, statically, when the notebook runs headless
(papermill, the book runner, CI), so every executed page has its figure; in a live
JupyterLab session it adds ipywidgets sliders that call the same function.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

from .profiles import check_number

HEADLESS_ENV = "PLASTICITY_HEADLESS"


@dataclass(frozen=True)
class Slider:
    """A numeric control: ``name`` is the keyword the plotting function receives."""

    name: str
    min: float
    max: float
    step: float
    value: float
    description: str | None = None

    def __post_init__(self) -> None:
        if not self.min < self.max:
            raise ValueError(f"slider {self.name}: min={self.min} must be below max={self.max}")
        check_number(self.name, self.value, low=self.min, high=self.max)
        check_number(f"{self.name} step", self.step, low=0, low_inclusive=False)

    def widget(self):
        import ipywidgets as w

        integer = all(isinstance(v, int) for v in (self.min, self.max, self.step, self.value))
        cls = w.IntSlider if integer else w.FloatSlider
        return cls(
            min=self.min,
            max=self.max,
            step=self.step,
            value=self.value,
            description=self.description or self.name,
            continuous_update=False,
        )


#: The chapters' slider parameters: one range each, read by the parameters check at
#: the top of the chapter and by its slider, so both accept the same values.
PARAMETERS: dict[str, tuple[float, float, float]] = {
    "alpha": (0.05, 0.5, 0.05),
    "prune_amount": (0.1, 0.95, 0.05),
    "shock_threshold": (0.0, 20.0, 1.0),
}


def check_parameter(name: str, value: float) -> float:
    """``value`` if it lies in the declared range of parameter ``name``, else a
    ParameterError naming both; run it before any compute or file is written."""
    from .profiles import ParameterError

    if name not in PARAMETERS:
        raise ParameterError(f"no declared range for parameter {name!r}; known: {list(PARAMETERS)}")
    low, high, _ = PARAMETERS[name]
    return check_number(name, value, low=low, high=high)


def slider(name: str, value: float, description: str | None = None) -> Slider:
    """The slider of parameter ``name`` over its declared range, starting at ``value``."""
    check_parameter(name, value)
    low, high, step = PARAMETERS[name]
    return Slider(name, low, high, step, value, description)


#: Set by jupyter_server (JupyterLab, Notebook 7) and VS Code for kernels they start;
#: papermill and nbclient do not set it.
FRONTEND_ENV = "JPY_SESSION_NAME"


def is_headless(headless: bool | None = None) -> bool:
    """Explicit flag if given, else ``$PLASTICITY_HEADLESS`` (set by the book runner),
    else detected: headless unless a notebook front end started this kernel, so plain
    papermill writes the same figure files as the book runner."""
    if headless is not None:
        return bool(headless)
    env = os.environ.get(HEADLESS_ENV)
    if env is not None and env != "":
        return env not in ("0", "false", "False")
    return not os.environ.get(FRONTEND_ENV)


def _show(fig) -> None:
    import matplotlib.pyplot as plt
    from IPython.display import display

    display(fig)
    plt.close(fig)


def explore(
    fn: Callable[..., object], *sliders: Slider, headless: bool | None = None, **fixed
) -> object | None:
    """Show ``fn(**slider values, **fixed)``; interactive sliders unless headless.

    Returns the figure in headless mode (so callers can save it), else the widget.
    """
    values = {s.name: s.value for s in sliders}
    if is_headless(headless):
        fig = fn(**values, **fixed)
        _show(fig)
        return fig
    import ipywidgets as w

    controls = {s.name: s.widget() for s in sliders}
    controls.update({k: w.fixed(v) for k, v in fixed.items()})
    return w.interact(lambda **kw: _show(fn(**kw)), **controls)
