"""Sliders around a plain plotting function; a single static call when headless.

The plotting function takes keyword arguments and returns a matplotlib figure.
:func:`explore` shows that figure once, statically, when the notebook runs headless
(papermill, the book runner, CI), so every executed page has its figure; in a live
JupyterLab session it adds ipywidgets sliders that call the same function.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ..foundations.checks import check_number
from ..foundations.progress import is_headless


@dataclass(frozen=True)
class Slider:
    """A numeric control: ``name`` is the keyword the plotting function receives."""

    name: str
    min: float
    max: float
    step: float
    value: float
    description: str | None = None
    #: The values the chapter has computed: the static page offers exactly these (one
    #: precomputed frame each, never anything in between), and so does the live slider.
    grid: tuple[float, ...] | None = None

    def __post_init__(self) -> None:
        if not self.min < self.max:
            raise ValueError(f"slider {self.name}: min={self.min} must be below max={self.max}")
        check_number(self.name, self.value, low=self.min, high=self.max)
        check_number(f"{self.name} step", self.step, low=0, low_inclusive=False)
        if self.grid is not None:
            if not self.grid or len(self.grid) > MAX_FRAMES:
                raise ValueError(
                    f"slider {self.name}: a grid holds 1 to {MAX_FRAMES} values, not "
                    f"{len(self.grid)}"
                )
            for v in self.grid:
                check_number(f"{self.name} grid value", v, low=self.min, high=self.max)
            if not any(abs(v - self.value) < 1e-12 for v in self.grid):
                raise ValueError(
                    f"slider {self.name}: value {self.value:g} is not on its grid "
                    f"{sorted(self.grid)}"
                )

    @property
    def values(self) -> list[float]:
        """The grid in order, or just the value."""
        return sorted(set(self.grid)) if self.grid else [self.value]

    def widget(self):
        import ipywidgets as w

        if self.grid:
            return w.SelectionSlider(
                options=[(f"{v:g}", v) for v in self.values],
                value=next(v for v in self.values if abs(v - self.value) < 1e-12),
                description=self.description or self.name,
                continuous_update=False,
                style={"description_width": "initial"},
                layout=w.Layout(width="420px"),
            )
        integer = all(isinstance(v, int) for v in (self.min, self.max, self.step, self.value))
        cls = w.IntSlider if integer else w.FloatSlider
        return cls(
            min=self.min,
            max=self.max,
            step=self.step,
            value=self.value,
            description=self.description or self.name,
            continuous_update=False,
            # the whole label, never cut off, and room for the track
            style={"description_width": "initial"},
            layout=w.Layout(width="420px"),
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
    from ..foundations.checks import ParameterError

    if name not in PARAMETERS:
        raise ParameterError(f"no declared range for parameter {name!r}; known: {list(PARAMETERS)}")
    low, high, _ = PARAMETERS[name]
    return check_number(name, value, low=low, high=high)


def slider(
    name: str,
    value: float,
    description: str | None = None,
    grid: tuple[float, ...] | list[float] | None = None,
) -> Slider:
    """The slider of parameter ``name`` over its declared range, starting at ``value``;
    with ``grid``, restricted to those (precomputed) values plus ``value``."""
    check_parameter(name, value)
    low, high, step = PARAMETERS[name]
    if grid is not None:
        grid = tuple(sorted({float(v) for v in grid} | {float(value)}))
    return Slider(name, low, high, step, value, description, grid)


#: Frames of one static slider at most: each is a PNG inside the page.
MAX_FRAMES = 12

#: Resolution of the frames (the saved figure keeps the book's own).
STATIC_DPI = 80


def static_slider_html(name: str, frames: list[tuple[float, bytes]], value: float) -> str:
    """A slider for a static page: every frame is a PNG (data URI); the one for
    ``value`` is visible without JavaScript, and the site's ``slider.js`` lets a range
    input (keyboard: arrow keys) swap in the others. Only the grid's values exist."""
    import base64
    import html

    if not frames or len(frames) > MAX_FRAMES:
        raise ValueError(f"a static slider holds 1 to {MAX_FRAMES} frames, not {len(frames)}")
    values = [v for v, _ in frames]
    current = min(range(len(values)), key=lambda i: abs(values[i] - value))
    label = html.escape(name)
    images = "".join(
        f'<img src="data:image/png;base64,{base64.b64encode(png).decode()}" '
        f'data-value="{v:g}" alt="figure at {label} = {v:g}"'
        + ("" if i == current else " hidden")
        + ">"
        for i, (v, png) in enumerate(frames)
    )
    grid = ", ".join(f"{v:g}" for v in values)
    return (
        f'<figure class="static-slider" data-name="{label}" data-frames="{len(frames)}">'
        f"{images}"
        f'<label class="static-slider-control">{label} '
        f'<input type="range" min="0" max="{len(frames) - 1}" step="1" value="{current}" '
        f'aria-label="{label}" aria-valuetext="{values[current]:g}" '
        f'data-values="{grid}">'
        f" <output>{values[current]:g}</output></label>"
        f"<figcaption>precomputed at {label} in {{{grid}}}; values in between are not "
        f"shown</figcaption></figure>"
    )


def _show(fig) -> None:
    import matplotlib.pyplot as plt
    from IPython.display import display

    display(fig)
    plt.close(fig)


def _static_frames(fn, grid_slider: Slider, values: dict, fixed: dict):
    """Draw ``fn`` at every grid value and show them as one output: the static
    slider (``text/html``) with the default frame as its ``image/png`` fallback, for
    viewers that show no HTML. Returns the figure at the slider's own value (the one a
    chapter saves)."""
    import base64
    import io

    import matplotlib.pyplot as plt
    from IPython.display import display

    frames, default, default_png = [], None, b""
    for v in grid_slider.values:
        fig = fn(**{**values, grid_slider.name: v}, **fixed)
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=STATIC_DPI)
        frames.append((v, buffer.getvalue()))
        if abs(v - grid_slider.value) < 1e-12:
            default, default_png = fig, buffer.getvalue()
        else:
            plt.close(fig)
    bundle = {
        "text/html": static_slider_html(grid_slider.name, frames, grid_slider.value),
        "image/png": base64.b64encode(default_png).decode(),
        "text/plain": f"<figure at {grid_slider.name} = {grid_slider.value:g}; "
        f"{len(frames)} precomputed frames>",
    }
    display(bundle, raw=True)
    plt.close(default)
    return default


class LatestRunner:
    """Runs ``fn(values)`` for the newest submitted values, one call at a time, on a
    worker thread. Values submitted while a call runs wait; only the newest of them
    runs next (a newer value supersedes a queued one), so dragging a slider over five
    values costs at most two computations. ``status(text)`` reports what is running
    from the moment a value is taken; ``show(result)`` receives each result.
    """

    def __init__(
        self,
        fn: Callable[[dict], object],
        show: Callable[[object], None],
        status: Callable[[str], None] = lambda text: None,
    ):
        import threading

        self.fn, self.show, self.status = fn, show, status
        self._lock = threading.Lock()
        self._pending: dict | None = None
        self._worker: threading.Thread | None = None
        self.calls: list[dict] = []

    def submit(self, values: dict) -> None:
        import threading

        with self._lock:
            self._pending = dict(values)
            if self._worker is None or not self._worker.is_alive():
                self._worker = threading.Thread(target=self._loop, daemon=True)
                self._worker.start()

    def _loop(self) -> None:
        while True:
            with self._lock:
                values, self._pending = self._pending, None
                if values is None:
                    return
            self.calls.append(values)
            shown = ", ".join(
                f"{k} = {v:g}" if isinstance(v, float) else f"{k} = {v}" for k, v in values.items()
            )
            self.status(f"computing {shown} ...")
            try:
                self.show(self.fn(values))
                self.status(f"showing {shown}")
            except Exception as exc:  # noqa: BLE001 - the reader sees the error, the UI lives
                self.status(f"{shown}: {type(exc).__name__}: {exc}")

    def wait(self, timeout: float | None = None) -> None:
        """Block until nothing is running or queued (for tests and scripts)."""
        worker = self._worker
        if worker is not None:
            worker.join(timeout)


def explore(
    fn: Callable[..., object], *sliders: Slider, headless: bool | None = None, **fixed
) -> object | None:
    """Show ``fn(**slider values, **fixed)``; interactive sliders unless headless.

    Returns the figure in headless mode (so callers can save it), else the widget: the
    sliders, a status line (what is being computed, from the moment it starts) and
    the figure. The first figure is drawn before this returns; afterwards a slider
    computes on release, on a worker thread, and releases during a computation are
    debounced by :class:`LatestRunner`, so only the newest value runs next.
    """
    values = {s.name: s.value for s in sliders}
    if is_headless(headless):
        gridded = [s for s in sliders if s.grid and len(s.grid) > 1]
        if len(gridded) > 1:
            raise ValueError("a static page precomputes one slider's grid, not several")
        if not gridded:
            fig = fn(**values, **fixed)
            _show(fig)
            return fig
        return _static_frames(fn, gridded[0], values, fixed)
    import ipywidgets as w
    import matplotlib.pyplot as plt

    controls = {s.name: s.widget() for s in sliders}
    out = w.Output()
    status = w.HTML()

    def show(fig) -> None:
        from IPython.core.formatters import format_display_data

        data, metadata = format_display_data(fig)
        # one state change replaces the figure: no flash of an empty output
        out.outputs = ({"output_type": "display_data", "data": data, "metadata": metadata},)
        plt.close(fig)

    def set_status(text: str) -> None:
        status.value = f"<small>{text}</small>"

    runner = LatestRunner(lambda v: fn(**v, **fixed), show, set_status)

    def changed(_=None) -> None:
        runner.submit({name: c.value for name, c in controls.items()})

    # the first frame is drawn here, on the kernel's main thread, before the cell ends:
    # under "Run All" the next cell cannot start while it is half drawn, and no figure
    # of it can land in another cell's output
    first = {name: c.value for name, c in controls.items()}
    runner.calls.append(first)
    try:
        show(fn(**first, **fixed))
        set_status("showing " + ", ".join(f"{k} = {v:g}" for k, v in first.items()))
    except Exception as exc:  # noqa: BLE001 - the reader sees the error, the UI lives
        set_status(f"{type(exc).__name__}: {exc}")
    for c in controls.values():
        c.observe(changed, names="value")
    box = w.VBox([w.HBox(list(controls.values())), status, out])
    box.runner = runner
    from IPython.display import display

    display(box)
    return box
