"""plasticity: the library behind the Lazarus / NeuroSovereign research book.

The library computes; the notebooks in ``notebooks/`` narrate and plot; the CLI
(``python -m plasticity``) orchestrates. Modules:

- :mod:`plasticity.data`      CIFAR-10/100 (cache, torchvision, archive, download); synthetic
- :mod:`plasticity.models`    the networks
- :mod:`plasticity.train`     supervised training and evaluation
- :mod:`plasticity.lazarus`   the Lazarus base model (and, later, the repair)
- :mod:`plasticity.runs`      content-addressed train-or-load cache
- :mod:`plasticity.profiles`  smoke / quick / paper settings and parameter validation
- :mod:`plasticity.plots`     the book's figure style, figure and table saving, manifest
- :mod:`plasticity.widgets`   sliders around plain plotting functions
- :mod:`plasticity.chapter`   the per-chapter context notebooks start from
- :mod:`plasticity.book`      the papermill runner behind ``python -m plasticity book``
"""

__version__ = "0.1.0"
