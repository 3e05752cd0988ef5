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
# # Lazarus: across seeds, with tests
#
# The seed's documents call the result "statistically significant", but the only
# multi-seed run is marked "preliminary", reports just the per-seed accuracy gains
# (alpha 0.2: +1.02, +4.82, +1.94, +2.40, +1.61; alpha 0.3: +4.66, +6.63, +2.89, +3.07,
# +5.37 points), and runs no test. Here, for noise at alpha 0.2 and 0.35 (the V-shape's
# damage, in place of the script's 0.3: see the budget below) and for 80 % pruning with
# a frozen mask, every seed repairs its own base model (its own initial
# weights and data order; for noise also its own damage draw; pruning draws nothing, so
# there the seeds differ through the base model and the repair's batch order), and we
# report mean, sample standard deviation, a 95 % t interval and paired tests:
# **repaired vs damaged** (does the repair help?) and **consistency only vs full** at
# alpha 0.2 (the seed's "consistency is king", section 4.1).
#
# **Budget.** The seed's protocol, 1000 steps, on every verdict seed (`quick`: 3,
# `full`: 10, `paper`: 5). Every run of these first sections is shared with chapters 2 to
# 5 (the traditional repairs at the end are this chapter's own); `quick` uses alpha 0.35 (the V-shape) in place of the significance
# script's 0.3, which the seed reports only as deltas. With three seeds the exact
# Wilcoxon test cannot go below p = 0.25, so the interval carries the evidence there.
# `smoke`: synthetic.

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
from plasticity.book.chapter import Chapter
from plasticity.engine import lazarus_runs
from plasticity.science import experiments, headlines, published, stats

ch = Chapter("06_lazarus_significance", profile, data_dir=data_dir, figures_dir=figures_dir,
             headless=headless)
scale = ch.profile.lazarus
ds = ch.dataset("cifar10")
labs = lazarus_runs.chapter_labs(ch, experiments.seeds_needed(ch.profile))
display(Markdown(ch.summary()))
experiments.describe("significance", ch.profile)

# %%
runs = experiments.run("significance", labs, ch.profile)
ch.save_table(runs.round(4), "runs")
conditions = list(dict.fromkeys(runs["condition"]))

# %% [markdown]
# ## Mean, spread and interval

# %%
full_runs = runs[runs["method"] == "full"]
summary = experiments.summarize(full_runs, ["condition"], [
    "original", "damaged", "restored", "delta", "recovery_pct", "agreement_improvement"])
ch.save_table(summary.round(3), "summary")
summary.T.round(2)

# %% [markdown]
# ## Paired tests

# %%
test_rows = [experiments.paired(runs, c, "full", None, "restored", "repaired vs damaged")
             for c in conditions]
test_rows.append(experiments.paired(runs, f"noise alpha={experiments.BASELINE_ALPHA:g}",
                                    "consistency_only", "full", "recovery_pct",
                                    "consistency only vs full"))
tests = pd.DataFrame(test_rows)
tests["unit"] = np.where(tests["comparison"] == "repaired vs damaged", "accuracy points",
                         "recovery points")
tests["steps"] = scale.repair_steps
ch.save_table(experiments.rounded(tests, 4), "paired_tests")
experiments.rounded(tests, 3)


# %%
def plot_seeds(frame: pd.DataFrame):
    fig, axes = plt.subplots(1, len(conditions), figsize=(4.2 * len(conditions), 4),
                             squeeze=False)
    for ax, name in zip(axes[0], conditions, strict=True):
        part = frame[(frame["condition"] == name) & (frame["method"] == "full")]
        cons = frame[(frame["condition"] == name) & (frame["method"] == "consistency_only")]
        for _, row in part.iterrows():
            ax.plot([0, 1], [row["damaged"], row["restored"]], "o-", color="C0", alpha=0.7)
        if len(cons):
            ax.scatter(np.full(len(cons), 1.12), cons["restored"], marker="^", color="C1",
                       label="consistency only")
        ax.axhline(part["original"].mean(), color="black", ls=":", label="original (mean)")
        ax.set_xticks([0, 1], ["damaged", "repaired"])
        ax.set(title=name, ylabel="test accuracy (%)", xlim=(-0.3, 1.3))
        ax.legend(fontsize=8, loc="lower right")
    fig.suptitle(f"One line per seed ({len(scale.seeds)} seeds), {scale.repair_steps} repair "
                 f"steps, {ds.title}")
    fig.tight_layout()
    return fig


fig = plot_seeds(runs)
ch.save_figure(fig, "per_seed")
plt.show()

# %%
lines = []
for _, t in tests.iterrows():
    p = f"paired t p = {t['t_p']:.3g}" if np.isfinite(t["t_p"]) else "p not defined"
    lines.append(f"**{t['condition']}, {t['comparison']}:** {t['mean_diff']:+.2f} "
                 f"{t['unit']} (95 % CI {t['ci_low']:+.2f} to {t['ci_high']:+.2f}, n = "
                 f"{int(t['n'])}, {p}).")
seed_deltas = pd.DataFrame([
    {"alpha": a, **{k: v for k, v in stats.summarize(d).items()}}
    for a, d in published.LAZARUS_SEED_DELTAS.items()
])
ch.save_table(seed_deltas.round(3), "seed_document_deltas")
for _, r in seed_deltas.iterrows():
    lines.append(f"Seed document at alpha {r['alpha']:g}: {r['mean']:+.2f} +- {r['std']:.2f} "
                 f"points over {int(r['n'])} seeds (sample std; it printed the population std "
                 f"{r['std_pop']:.2f}).")
if ch.profile.synthetic:
    lines.insert(0, "Synthetic data: these numbers only show that the pipeline works.")
display(Markdown("\n\n".join(lines)))

# %% [markdown]
# ## Against the traditional repairs, and back towards the old weights?
#
# The manifesto says the method "works best where traditional methods break" (section
# 4.3, at strong damage, 70-80 %), yet its code runs no traditional method. Here the two
# standard ones repair the same 80 %-pruned model (frozen mask) with the same 1000 Adam
# steps (lr 1e-4) on the same training images: **prune-then-fine-tune** with the training
# labels (cross-entropy; it uses the labels Lazarus does without) and **temperature
# distillation** from the original (T = 4, KL times T squared). Lazarus v3 is computed
# again beside them from the same base weights, so each seed's three repairs start from
# one damaged model.
#
# The same runs record how far the weights are from the original's before and after the
# repair, as ||w - w0|| / ||w0|| over every parameter: a "local projection ... back into
# the basin of the previous attractor" (sections 6 and 9) should close part of that
# distance. The V-shape's noise (alpha 0.35) is computed again for it on the first three
# seeds. With a frozen mask the pruned weights cannot move back, so the pruning reading
# is shown, not judged.
#
# **Budget.** 1000 steps each; the first 5 seeds at 80 % pruning (three repairs each), the
# first 3 at alpha 0.35; one to two minutes a repair on a 2-core CPU. The base models are trained again for these
# runs from the same recipe and seed; the table below says how far they are from the
# recorded ones.

# %%
experiments.describe("traditional", ch.profile)

# %%
trad = experiments.run("traditional", labs, ch.profile)
trad["gain"] = trad["restored"] - trad["damaged"]
trad["distance_closed_pct"] = 100 * (1 - trad["distance_restored"] / trad["distance_damaged"])
ch.save_table(trad.round(4), "traditional")
trad_summary = experiments.summarize(
    trad, ["condition", "method"],
    ["original", "damaged", "restored", "gain", "distance_damaged", "distance_restored",
     "distance_closed_pct"])
ch.save_table(trad_summary.round(4), "traditional_summary")
trad_summary.round(3)

# %%
recorded = runs[runs["method"] == "full"][["condition", "seed", "original", "restored"]]
again = trad[trad["method"] == "full"][["condition", "seed", "original", "restored"]]
replicate = again.merge(recorded, on=["condition", "seed"], suffixes=("_again", "_recorded"))
replicate["original_diff"] = replicate["original_again"] - replicate["original_recorded"]
replicate["restored_diff"] = replicate["restored_again"] - replicate["restored_recorded"]
ch.save_table(replicate.round(4), "computed_again")
replicate.round(2)


# %%
def plot_traditional(frame: pd.DataFrame):
    part = frame[frame["condition"] == "prune 80% frozen"]
    methods = list(dict.fromkeys(part["method"]))
    names = {"full": "Lazarus v3", "finetune_labels": "fine-tune\n(labels)",
             "kd": "distillation\n(T = 4)"}
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(11, 4))
    for seed, group in part.groupby("seed"):
        g = group.set_index("method").reindex(methods)
        ax.plot(range(len(methods)), g["gain"], "o-", color="grey", alpha=0.5)
    ax.set_xticks(range(len(methods)), [names.get(m, m) for m in methods])
    ax.axhline(0, color="black", lw=0.8)
    ax.set(ylabel="restored minus pruned accuracy (points)",
           title="80 % pruning, frozen mask: one line per seed")
    for i, (cond, group) in enumerate(frame[frame["method"] == "full"].groupby("condition")):
        bx.scatter(group["distance_damaged"], group["distance_restored"], label=cond,
                   color=f"C{i}")
    lim = float(frame[["distance_damaged", "distance_restored"]].max().max()) * 1.05
    bx.plot([0, lim], [0, lim], ls=":", color="black", label="no change")
    bx.set(xlabel="||w - w0|| / ||w0|| after the damage", ylabel="... after the repair",
           title="Lazarus v3: distance to the original weights")
    bx.legend(fontsize=8)
    fig.tight_layout()
    return fig


fig = plot_traditional(trad)
ch.save_figure(fig, "traditional")
plt.show()

# %%
lines = []
for (cond, method), r in trad_summary.set_index(["condition", "method"]).iterrows():
    lines.append(
        f"**{cond}, {method}** ({int(r['n'])} seeds): restored {r['restored_mean']:.2f} % "
        f"(gain {r['gain_mean']:+.2f} points, 95 % CI {r['gain_ci_low']:+.2f} to "
        f"{r['gain_ci_high']:+.2f}); weight distance {r['distance_damaged_mean']:.3f} -> "
        f"{r['distance_restored_mean']:.3f} ({r['distance_closed_pct_mean']:+.1f} % closed).")
if len(replicate):
    lines.append(
        f"The base models trained again differ from the recorded ones by at most "
        f"{replicate['original_diff'].abs().max():.2f} points of test accuracy (the "
        f"floating-point rounding of another CPU); v3's restored accuracy, by at most "
        f"{replicate['restored_diff'].abs().max():.2f} points.")
display(Markdown("\n\n".join(lines)))

# %% [markdown]
# ## Verdict

# %%
display(Markdown(headlines.chapter_markdown("06", ch.figures_dir)))
