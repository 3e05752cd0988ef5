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
# each headline claim of the two source documents (the Lazarus manifesto and the
# NeuroSovereign paper, "the seed documents"; a *seed* below is one random seed of a run),
# quoted with its section, is judged from the table a chapter saved, by a rule written
# before the numbers it judges were seen. The rules of this version were revised after the
# `full` profile's numbers had been seen once, to make each rule decide what it claims to
# (a preference must exceed its margin; agreement is judged at the seed documents' own
# damage; gates belong to the design); no run was added or removed for it.
#
# - **reproduces**: the whole 95 % interval over seeds supports the claim (for a number,
#   it lies within the stated margin of the document's number: overshooting counts
#   against; for a *preference*, "A works better than B", it lies above the margin within
#   which a difference counts as none);
# - **does not reproduce**: the whole interval contradicts it; a preference also fails
#   when the two sides are equivalent (two one-sided tests at 5 %: the 90 % interval lies
#   inside the margin). Where the document reports one unseeded run, that number is
#   compared with our 95 % *prediction* interval for one run;
# - **inconclusive**: the interval spans both, fewer than 3 seeds, or seeds with no
#   spread; the reason then says about how many seeds would decide it at the observed
#   mean and spread;
# - **not comparable**: the run cannot stand for the document's: another budget (1000
#   Lazarus repair steps; NeuroSovereign's 15 x 100 epochs for a magnitude), a schedule
#   that does not exercise the mechanism (a shock that fired on fewer than 3 seeds, a
#   warm-up far from the paper's 1.3 % of training, phases counted on fewer than 30
#   epochs), a margin larger than the headroom the design leaves, a condition the profile
#   did not run, or a claim no run can test;
# - **not measured**: the table or a column the rule reads is missing (the book's tests
#   fail on it for a fresh run).
#
# Small damages are judged in points, not in recovery %: the *residual* (original minus
# restored accuracy) against the document's, within a tenth of what the damage cost in
# the document. For pruning, the rows pruned at the matched damage level (chapter 5: the
# fraction that costs the document's points) decide; the agreement rows read the nominal
# 70 % and 80 % the document applied, with the matched reading beside them.
#
# **How much a verdict rests on.** For each decided row, `loo_kept` is the share of the
# leave-one-seed-out subsets that keep the verdict, `rests_on` names the seeds whose removal
# changes it, and `halves` compares the verdicts of the first and second half of the seeds
# (with halves of at least 3 seeds).
#
# **What varies between seeds.** Each Lazarus seed has its own base model (its own
# initialisation and order of training images) and its own damage draw; a
# NeuroSovereign seed changes the initialisation, the data order and the random draws of
# training, while the validation split is the same for every seed (it is carved from the
# training set with a fixed seed). Base models also differ between machines and between
# GPU runs (cuDNN is not bit-reproducible), so a verdict near its margin can move with
# them.
#
# **Rows that share runs.** Several rows read the same runs, so they are not independent
# evidence. The ten alpha = 0.35 repairs on the training images are read by `vshape`,
# `repair_035` and, as the reference, by `no_cifar10`, `no_images`, `own_guide` and
# `no_image_best`. At alpha = 0.2: `alpha02`, `alpha02_gain`, `agreement_02`, `repair_02`,
# `consistency` and `stability`. At the nominal 80 % pruning: `repair_prune80`,
# `agreement_prune80` and `sweet_spot`; at the matched 80 % level: `prune80`. At the
# nominal 70 %: `agreement_prune70`, `frozen_vs_regrow`, `regrowth_share`, `regrowth_back`
# and `sweet_spot`; at the matched 70 % level: `prune70`. NeuroSovereign's full runs are
# read by every `d_hier` and `d_struct` row and by the ablations.
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
# ## The verdicts at a glance

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

counts = claims["verdict"].value_counts()
summary = ", ".join(f"{counts.get(v, 0)} {v}" for v in verdicts.VERDICTS if counts.get(v, 0))
decided = claims[claims["verdict"].isin(["reproduces", "does not reproduce"])]
fragile = decided[decided["rests_on"].fillna("").astype(str) != ""]
display(Markdown(
    f"Of {len(claims)} headline claims: {summary}. Of the {len(decided)} decided verdicts, "
    f"{len(decided) - len(fragile)} keep their verdict whichever single seed is left out"
    + ("." if len(fragile) == 0 else f"; {len(fragile)} change when one seed is left out ("
       + "; ".join(f"`{k}`: {r}" for k, r in zip(fragile["key"], fragile["rests_on"],
                                                  strict=True)) + ").")
))

# %% [markdown]
# ## Every claim
#
# "seed" is the number the document reports; "ours" is what the named chapter measured
# (mean [95 % interval] (n seeds)); "reason" is what the rule found, and the last three
# columns say how much the verdict rests on. The rule of each row is in
# [`figures/12_headlines/headlines.csv`](../figures/12_headlines/headlines.csv).

# %%
ch.save_table(claims, "headlines", datasets=datasets)
stamp = (f"Generated from the saved tables of the `{', '.join(profiles)}` profile by "
         "chapter 12; the rule behind each verdict is given there.")
intro = claims.assign(verdict="**" + claims["verdict"] + "**")
columns = ["paper", "section", "claim", "seed", "ours", "verdict", "reason", "loo_kept",
           "rests_on"]
ch.save_markdown(headlines.markdown_table(intro, columns) + f"\n{stamp}\n", "headlines",
                 datasets=datasets)
shown = claims[["key", "section", "claim", "seed", "ours", "budget", "verdict", "reason",
                "loo_kept", "halves", "rests_on"]]
display(shown.style.hide(axis="index").set_uuid("claims"))

# %% [markdown]
# ## The tables behind the verdicts
#
# The saved tables the verdicts were read from, as the chapters wrote them (each chapter
# explains its columns), linked rather than printed.

# %%
listing = []
for rel in used:
    table = pd.read_csv(ch.figures_dir / rel)
    profile_of = manifest.get(rel, {}).get("profile", "?")
    listing.append(f"- [`figures/{rel}`](../figures/{rel}): {len(table)} rows x "
                   f"{len(table.columns)} columns, {profile_of} profile")
display(Markdown("\n".join(listing)))
