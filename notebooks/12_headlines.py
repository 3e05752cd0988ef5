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
# This chapter trains nothing. It reads the tables the other chapters saved in
# `figures/` and puts each headline claim of the two seed documents beside our
# measurement, with the rule that turns the pair into a verdict:
#
# - **reproduces**: our measurement supports the claim by the stated rule (for an effect
#   size: at least 90 % of the seed's number);
# - **weaker**: same direction, but clearly smaller, or not significant over our seeds;
# - **does not reproduce**: no effect, the opposite effect, or a measurement that refutes
#   the claim;
# - **not measured**: the chapter that measures it has not run in this profile.
#
# The verdicts are only as good as the profile that produced the tables: the `quick`
# profile shortens every schedule (300 repair steps instead of 1000, 4 NeuroSovereign
# cycles instead of 15, 2-3 seeds), and each chapter discusses what that changes. The
# intro page of the book shows the same table.
#
# **Budget.** Seconds in every profile: it reads CSV files.

# %% tags=["parameters"]
profile = "quick"
data_dir = None
figures_dir = None
headless = False

# %%
import matplotlib.pyplot as plt
import pandas as pd
from IPython.display import Markdown, display
from plasticity import headlines, plots
from plasticity.chapter import Chapter

ch = Chapter("12_headlines", profile, data_dir=data_dir, figures_dir=figures_dir,
             headless=headless)
claims, used = headlines.collect(ch.figures_dir)
manifest = plots.read_manifest(ch.figures_dir)["files"]
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
# "Seed document" is the number the manifesto or the paper reports; "ours" is what the
# named chapter measured; "rule" is how the verdict follows from the two.

# %%
ch.save_table(claims, "headlines", datasets=datasets)
stamp = (f"Generated from the saved tables of the `{', '.join(profiles)}` profile by "
         "chapter 12; the rule behind each verdict is given there.")
intro = claims.assign(verdict="**" + claims["verdict"] + "**")
ch.save_markdown(
    headlines.markdown_table(intro, ["paper", "claim", "seed document", "ours", "verdict"])
    + f"\n{stamp}\n",
    "headlines",
    datasets=datasets,
)
with pd.option_context("display.max_colwidth", None):
    display(claims.style.hide(axis="index"))

# %%
def plot_verdicts(claims: pd.DataFrame):
    counts = (claims.groupby(["paper", "verdict"]).size().unstack(fill_value=0)
              .reindex(columns=list(headlines.VERDICTS), fill_value=0))
    counts = counts.loc[[p for p in ("Lazarus", "NeuroSovereign", "?") if p in counts.index]]
    colours = {"reproduces": "#2e7d32", "weaker": "#f9a825", "does not reproduce": "#c62828",
               "not measured": "#9e9e9e"}
    fig, ax = plt.subplots(figsize=(7, 2.6))
    left = pd.Series(0, index=counts.index)
    for verdict in counts.columns:
        ax.barh(counts.index, counts[verdict], left=left, color=colours[verdict], label=verdict)
        left += counts[verdict]
    ax.invert_yaxis()
    ax.set(xlabel="headline claims", title="Verdicts on the seed documents' headline claims")
    ax.legend(fontsize=8, ncol=4, loc="upper center", bbox_to_anchor=(0.5, -0.3))
    fig.tight_layout()
    return fig


fig = plot_verdicts(claims)
ch.save_figure(fig, "verdicts", datasets=datasets)
plt.show()

# %%
counts = claims["verdict"].value_counts()
summary = ", ".join(f"{counts.get(v, 0)} {v}" for v in headlines.VERDICTS if counts.get(v, 0))
display(Markdown(f"Of {len(claims)} headline claims: {summary}."))
