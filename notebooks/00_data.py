# ---
# jupyter:
#   jupytext:
#     cell_metadata_filter: tags,-all
#     formats: ipynb,py:percent
#     notebook_metadata_filter: kernelspec,jupytext,-all
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.7
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # The data: CIFAR-10 and CIFAR-100
#
# Lazarus works on CIFAR-10 (10 classes); NeuroSovereign on CIFAR-100 with its 100
# fine classes and the **official 20 superclasses** (five fine classes each). This
# chapter shows where the book's data comes from, what it looks like and the
# superclass table that the NeuroSovereign chapters use.
#
# The book reads each data set, in this order, from: decoded arrays cached in
# `data/arrays/`; the torchvision layout in `data/`; an image-folder archive passed
# with `--data-archive` (or `$PLASTICITY_DATA_ARCHIVE`); a torchvision download.
# Every cached artefact records the data's fingerprint (a hash of the arrays), so a
# model trained on one copy of the data is never reused for another.
#
# **Budget.** Seconds in every profile once the data is decoded; decoding an archive
# takes about 20 s per data set, once. The `smoke` profile uses synthetic
# look-alikes and says so on every figure.

# %% tags=["parameters"]
profile = "full"  # the published book's profile; "smoke" runs in seconds on synthetic data
data_dir = None
figures_dir = None
headless = None  # None: detected (sliders only under a notebook front end)

# %%
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from IPython.display import Markdown, display
from plasticity import data
from plasticity.book import plots
from plasticity.book.chapter import Chapter

ch = Chapter("00_data", profile, data_dir=data_dir, figures_dir=figures_dir, headless=headless)
c10 = ch.dataset("cifar10")
c100 = ch.dataset("cifar100")
display(Markdown(ch.summary()))

# %% [markdown]
# ## What was loaded

# %%
if ch.replaying:  # a replay has the data sets' records, not their images
    overview = ch.saved_table("overview")
else:
    overview = pd.DataFrame(
        [
            {
                **ds.describe(),
                "classes": ds.num_classes,
                **{
                    f"mean {c}": round(float(ds.train_x[..., i].mean()), 2)
                    for i, c in enumerate("RGB")
                },
            }
            for ds in (c10, c100)
        ]
    )
    ch.save_table(overview, "overview")
overview

# %% [markdown]
# The official training-set channel means are (125.3, 123.0, 113.9) for CIFAR-10
# and (129.3, 124.1, 112.4) for CIFAR-100; a copy of the data that matches them to
# a tenth of a unit has the same images in the same colour balance.

# %%
if ch.replaying:
    ch.show_saved_figure("cifar10_samples")
else:
    fig = plots.image_grid(
        c10.train_x[:32],
        c10.train_y[:32],
        c10.classes,
        title=f"{c10.title}: the first 32 training images",
    )
    ch.save_figure(fig, "cifar10_samples")
    plt.show()

# %% [markdown]
# ## CIFAR-100: one image of each of the 100 fine classes, by superclass
#
# Rows are the 20 superclasses, columns their five fine classes.


# %%
def superclass_grid(ds):
    fig, axes = plt.subplots(20, 5, figsize=(6.5, 24))
    for row, (coarse, members) in enumerate(data.CIFAR100_SUPERCLASSES.items()):
        for col, fine in enumerate(members):
            label = data.CIFAR100_FINE.index(fine)
            first = int(np.flatnonzero(ds.train_y == label)[0])
            ax = axes[row, col]
            ax.imshow(ds.train_x[first], interpolation="nearest")
            ax.set_title(fine, fontsize=7)
            ax.set_xticks([])
            ax.set_yticks([])
            if col == 0:
                ax.set_ylabel(coarse, fontsize=7, rotation=0, ha="right", va="center")
    fig.suptitle(f"{ds.title}: fine classes grouped by superclass", y=0.995)
    fig.tight_layout(rect=(0, 0, 1, 0.99))
    return fig


if ch.replaying:
    ch.show_saved_figure("cifar100_superclasses")
else:
    fig = superclass_grid(c100)
    ch.save_figure(fig, "cifar100_superclasses")
    plt.show()

# %% [markdown]
# ## The superclass table

# %%
superclasses = pd.DataFrame(
    [
        {
            "coarse label": i,
            "superclass": name,
            "fine labels": ", ".join(str(data.CIFAR100_FINE.index(f)) for f in members),
            "fine classes": ", ".join(members),
        }
        for i, (name, members) in enumerate(data.CIFAR100_SUPERCLASSES.items())
    ]
)
ch.save_table(superclasses, "cifar100_superclasses")
superclasses

# %% [markdown]
# ## Class balance


# %%
def plot_counts(datasets):
    fig, axes = plt.subplots(1, len(datasets), figsize=(12, 3.5))
    for ax, ds in zip(axes, datasets, strict=True):
        train = np.bincount(ds.train_y, minlength=ds.num_classes)
        test = np.bincount(ds.test_y, minlength=ds.num_classes)
        ax.bar(np.arange(ds.num_classes), train, label="train")
        ax.bar(np.arange(ds.num_classes), test, label="test")
        ax.set(title=ds.title, xlabel="class label", ylabel="images")
        ax.legend()
    fig.tight_layout()
    return fig


if ch.replaying:
    ch.show_saved_figure("class_counts")
else:
    fig = plot_counts([c10, c100])
    ch.save_figure(fig, "class_counts")
    plt.show()

# %%
sizes = sorted(set(np.bincount(data.CIFAR100_FINE_TO_COARSE)))
if ch.replaying:
    display(Markdown(f"Superclass sizes: {sizes} fine classes each."))
else:
    balanced = all(
        len(set(np.bincount(ds.train_y, minlength=ds.num_classes))) == 1
        and len(set(np.bincount(ds.test_y, minlength=ds.num_classes))) == 1
        for ds in (c10, c100)
    )
    display(
        Markdown(
            f"Every class has the same number of images in each split: **{balanced}**. "
            f"Superclass sizes: {sizes} fine classes each."
        )
    )
