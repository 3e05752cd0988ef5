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
# # Headline results: the claims, our numbers, the verdicts
#
# This chapter trains nothing. It is the registry of claims (`plasticity.science.headlines`):
# each headline claim of the two seed documents, quoted with its section, is judged from
# the table a chapter saved, by a written rule. The rules of this version were revised
# after the `quick` profile's committed numbers had been seen (to remove rules that could
# never say no); they were fixed before any run of the `full` profile.
#
# - **reproduces**: the whole 95 % interval over seeds supports the claim (for a number,
#   it lies within the stated margin of the seed's number: overshooting counts against);
# - **does not reproduce**: the whole interval contradicts it. A claimed *preference*
#   ("frozen mask > regrowth", "APEX shifts more often", "removing X lowers dHier") also
#   fails when the two sides are equivalent: two one-sided tests at 5 % (the 90 %
#   interval) put the difference inside a margin the seed's own numbers call noise;
# - **inconclusive**: the interval spans both, fewer than 3 seeds, seeds with no spread
#   at all, or a recovery % whose damage cost fewer than 50 test images on average over
#   the seeds (the mean, so adding seeds cannot make the guard fire more often);
# - **not comparable**: the run cannot stand for the seed's: another budget (1000 Lazarus
#   repair steps; NeuroSovereign's 15 x 100 epochs for a magnitude), a schedule that does
#   not exercise the mechanism (a shock that fired on fewer than 3 seeds, a warm-up far
#   from the paper's 1.3 % of training, phases counted on fewer than 30 epochs), a damage
#   whose cost is not within 25 % of the seed's (for numbers in points), a condition the
#   profile did not run, or a claim no run can test;
# - **not measured**: the table or a column the rule reads is missing (the book's tests
#   fail on it for a fresh run).
#
# Small damages are judged in points, not in recovery %: the *residual* (original minus
# restored accuracy) against the seed's, within a tenth of what the damage cost the seed.
# Recovery % is still shown beside it. For pruning, the rows pruned at the matched damage
# level (chapter 5: the fraction that costs the seed's points) decide where the profile
# runs them.
#
# Every row names its section, the seed's number, ours (mean, 95 % interval, n), the
# budget behind it and the reason for its verdict. The intro page of the book shows the
# same table.
#
# **What varies between seeds.** Each Lazarus seed has its own base model (its own
# initialisation and order of training images) and its own damage draw; a
# NeuroSovereign seed changes the initialisation, the data order and the validation
# split. Base models also differ between machines and between GPU runs (cuDNN is not
# bit-reproducible), so a verdict near its margin can move with them; the `full` profile's
# ten seeds are meant to make that rare.
#
# **Rows that share runs.** Several rows read the same runs, so they are not independent
# evidence: at alpha = 0.2, `alpha02`, `alpha02_gain`, `agreement_02`, `repair_02`,
# `consistency` and `stability`; at 80 % pruning, `prune80`, `repair_prune80` and
# `agreement_prune80`; at 70 %, `prune70`, `agreement_prune70`, `frozen_vs_regrow`,
# `regrowth_share` and `regrowth_back`; NeuroSovereign's full runs, every `d_hier` and
# `d_struct` row and the ablations.
#
# **Budget.** Seconds in every profile: it reads CSV files.

# %% tags=["parameters"]
profile = "full"  # the published book's profile; "smoke" runs in seconds on synthetic data
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
