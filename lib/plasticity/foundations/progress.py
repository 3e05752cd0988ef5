"""Whether this process is live (a notebook front end started the kernel) or headless
(papermill, the book runner, tests), and whether a loop may draw a progress bar.
"""

from __future__ import annotations

import os

HEADLESS_ENV = "PLASTICITY_HEADLESS"


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


def progress_bars(requested: bool) -> bool:
    """Whether a loop may draw a progress bar: only when asked and on the kernel's main
    thread. A slider's computation runs on :class:`LatestRunner`'s worker thread, whose
    status line reports it; a bar drawn from there would land in whichever cell ran
    last and stay behind as a stale "Loading widget..." line."""
    import threading

    return bool(requested) and threading.current_thread() is threading.main_thread()
