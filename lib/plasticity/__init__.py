"""plasticity: the library behind the Lazarus / NeuroSovereign research book.

The library computes; the notebooks in ``notebooks/`` narrate and plot; the CLI
(``python -m plasticity``) orchestrates. Its folders are its layers, from the bottom up
(a module imports its own package and the layers below, never above):

- :mod:`plasticity.foundations`  paths, checks, seeding and device, progress, manifest
- :mod:`plasticity.data`         CIFAR metadata, array cache, archives, synthetic data, batches
- :mod:`plasticity.lazarus`      the Lazarus system: model, training, damage, inputs, repair
- :mod:`plasticity.sovereign`    NeuroSovereign: model, spectra, mechanisms, cycle, probe
- :mod:`plasticity.engine`       the run cache, profiles, both systems' runs, cost, benchmarks
- :mod:`plasticity.science`      statistics, verdict rules, published numbers, experiments, claims
- :mod:`plasticity.book`         chapters, runner, plan and sweep, widgets, plots, site, launch
- :mod:`plasticity.cli`          the command line
"""

__version__ = "0.1.0"
