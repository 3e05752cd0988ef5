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
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Headline results: the claims, our numbers, the verdicts
#
# This chapter trains nothing. It is the registry of claims (`plasticity.science.headlines`):
# each headline claim of the two seed documents, quoted with its section, is judged from
# the table a chapter saved, by a rule written down before the runs it judges (before
# the committed runs were computed, after earlier runs of the book had been seen):
#
# - **reproduces**: the whole 95 % interval over seeds supports the claim (for a number,
#   it lies within the stated margin of the seed's number: overshooting counts against);
# - **does not reproduce**: the whole interval contradicts it;
# - **inconclusive**: the interval spans both, fewer than 3 seeds, seeds with no spread
#   at all, or a recovery % whose damage cost fewer than 50 test images;
# - **not comparable**: the run's budget differs from the seed's protocol (1000 Lazarus
#   repair steps; NeuroSovereign's 15 x 100 epochs for a magnitude);
# - **not measured**: the table is missing (the book's tests fail on it).
#
# Every row names its section, the seed's number, ours (mean, 95 % interval, n), the
# budget behind it and the reason for its verdict. The intro page of the book shows the
# same table.
#
# **Budget.** Seconds in every profile: it reads CSV files.

# %% tags=["parameters"]
profile = "quick"
data_dir = None
figures_dir = None
headless = None  # None: detected (sliders only under a notebook front end)

# %%
import matplotlib.pyplot as plt
import pandas as pd
from IPython.display import Markdown, display
from plasticity.book.chapter import Chapter
from plasticity.foundations.manifest import read_manifest
from plasticity.science import headlines, verdicts

ch = Chapter("12_headlines", profile, data_dir=data_dir, figures_dir=figures_dir,
             headless=headless)
claims, used = headlines.collect(ch.figures_dir)
manifest = read_manifest(ch.figures_dir)["files"]
sources = [manifest[f] for f in used if f in manifest]
datasets = list({(d["name"], d["fingerprint"]): d for s in sources for d in s["datasets"]}.values())
profiles = sorted({s["profile"] for s in sources})
display(Markdown(
    f"Read {len(used)} saved tables, made in the profile(s) {', '.join(profiles) or '-'}"
    + (" from **synthetic data**: the verdicts below only show that the pipeline works."
       if any(s["synthetic"] for s in sources) else " from real CIFAR data.")
))

# %% [markdown]
# ## Every claim
#
# "Seed" is the number the manifesto or the paper reports; "ours" is what the named
# chapter measured (mean [95 % interval] (n seeds)); "rule" is how the verdict follows,
# and "reason" what the rule found.

# %%
ch.save_table(claims, "headlines", datasets=datasets)
stamp = (f"Generated from the saved tables of the `{', '.join(profiles)}` profile by "
         "chapter 12; the rule behind each verdict is given there.")
intro = claims.assign(verdict="**" + claims["verdict"] + "**")
ch.save_markdown(
    headlines.markdown_table(intro, ["paper", "section", "claim", "seed", "ours", "budget",
                                     "verdict"])
    + f"\n{stamp}\n",
    "headlines",
    datasets=datasets,
)
with pd.option_context("display.max_colwidth", None):
    display(claims.style.hide(axis="index"))

# %%
def plot_verdicts(claims: pd.DataFrame):
    counts = (claims.groupby(["paper", "verdict"]).size().unstack(fill_value=0)
              .reindex(columns=list(verdicts.VERDICTS), fill_value=0))
    counts = counts.loc[[p for p in ("Lazarus", "NeuroSovereign", "?") if p in counts.index]]
    colours = {"reproduces": "#2e7d32", "inconclusive": "#f9a825",
               "does not reproduce": "#c62828", "not comparable": "#90a4ae",
               "not measured": "#424242"}
    fig, ax = plt.subplots(figsize=(8.5, 2.4))
    left = pd.Series(0, index=counts.index)
    for verdict in counts.columns:
        ax.barh(counts.index, counts[verdict], left=left, color=colours[verdict], label=verdict)
        left += counts[verdict]
    ax.invert_yaxis()
    ax.set(xlabel="headline claims", title="Verdicts on the seed documents' headline claims")
    ax.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.01, 0.5))
    fig.tight_layout()
    return fig


fig = plot_verdicts(claims)
ch.save_figure(fig, "verdicts", datasets=datasets)
plt.show()

# %%
counts = claims["verdict"].value_counts()
summary = ", ".join(f"{counts.get(v, 0)} {v}" for v in verdicts.VERDICTS if counts.get(v, 0))
display(Markdown(f"Of {len(claims)} headline claims: {summary}."))

# %% [markdown]
# ## The tables behind the verdicts
#
# The saved tables the verdicts were read from, as the chapters wrote them (each
# chapter explains its columns). They are regenerated by every run of the book.

# %%
for rel in used:
    table = pd.read_csv(ch.figures_dir / rel)
    display(Markdown(f"**`figures/{rel}`** ({manifest.get(rel, {}).get('profile', '?')} "
                     f"profile)"))
    display(table.style.hide(axis="index").format(precision=2, na_rep=""))
