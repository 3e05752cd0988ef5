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
# # Lazarus without any image: what must the repair see?
#
# The manifesto says the repair works "**without access to training data**" (§1, §9) and
# that networks recover "using their own projections on **random noise**" (§2).
# Chapter 7 found that other natural images (CIFAR-100) serve about as well as the
# training images, and that Gaussian noise serves much worse. This chapter asks the
# next question: **with the original model and no real image at all, how much of the
# damage can be repaired, and what must the inputs look like?**
#
# The strong data-free methods match BatchNorm statistics (DeepInversion, CMI); the
# StabilityCNN has no BatchNorm, so every source here uses only the model's outputs
# and what natural images look like in general. The ladder, from least to most
# image-like:
#
# | source | what a repair step sees |
# | --- | --- |
# | white noise | pixels ~ N(0.5, 0.25²), clipped (chapter 7's noise) |
# | pink noise | Gaussian fields with the 1/f amplitude spectrum of natural images, correlated colours |
# | dead leaves | occluding discs with power-law radii and random colours (Baradad et al. 2021) |
# | dead leaves, seeking disagreement | dead leaves moved by 2 signed-gradient steps (0.03 each) towards where the damaged student and the original disagree most (the adversarial idea of ZSKT) |
# | teacher inversion | a pool of images optimised from dead leaves to be classified as balanced target classes by the original, under a total-variation prior, a pull to mid-grey, random jitter and flips, and a diversity term; synthesised once per base model |
# | plain class-score inversion | the same without priors, jitter, flips or diversity (exploratory: what the priors are worth) |
# | CIFAR-100 images | reference: other real images (chapter 7) |
# | CIFAR-10 training images | reference: the published setting |
#
# Every run uses the seed's protocol (1000 Adam steps, batch 64, lr 1e-4, the original
# model as teacher, the three published loss terms) at two damages: the V-shape's noise
# (alpha = 0.35) and 80 % magnitude pruning with a frozen mask. **What varies between
# seeds:** each seed trains its own base model (so its own inversion pool and its own
# pruning mask), draws its own noise damage, and feeds its own inputs in its own order.
# **Target** (fixed before the runs): at least 90 % recovery with no real image, at
# both damages, averaged over seeds. Plain inversion is exploratory (`quick`: seed 0
# only, at the protocol's 1000 steps) and never decides the target or a verdict.
# `smoke`: synthetic data, a tiny inversion.

# %% tags=["parameters"]
profile = "full"  # the published book's profile; "smoke" runs in seconds on synthetic data
data_dir = None
figures_dir = None
headless = None  # None: detected (sliders only under a notebook front end)

# %%
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
from IPython.display import Markdown, display
from plasticity import lazarus
from plasticity.book.chapter import Chapter
from plasticity.engine import lazarus_runs
from plasticity.lazarus import datafree
from plasticity.science import experiments, headlines
from scipy import stats as sstats

ch = Chapter("07b_lazarus_data_free", profile, data_dir=data_dir, figures_dir=figures_dir,
             headless=headless)
scale = ch.profile.lazarus
ds = ch.dataset("cifar10")
other = ch.dataset("cifar100")
labs = lazarus_runs.chapter_labs(ch, experiments.seeds_needed(ch.profile),
                            extra_inputs={"cifar100": other})
LADDER = experiments.DATAFREE_SOURCES[:5] + experiments.DATAFREE_EXPLORE \
    + experiments.DATAFREE_SOURCES[5:]
SOURCES = [name for name, _, _ in LADDER]
KIND = {name: kind for name, _, kind in LADDER}
EXPLORE = {name for name, _, _ in experiments.DATAFREE_EXPLORE}
NOISE = f"noise alpha={experiments.VSHAPE_ALPHA:g}"
amount, mode = experiments.DATAFREE_PRUNE
PRUNE = f"prune {amount:.0%} {mode}"
TARGET = 90.0
display(Markdown(ch.summary()))
experiments.describe("datafree", ch.profile)

# %% [markdown]
# ## What "no data" looks like
#
# Eight inputs of each source, as the repair sees them (seed 0). The disagreement
# images are dead leaves moved against the noise-damaged model before any repair step.

# %%
n_show = 8
gen = torch.Generator().manual_seed(0)
lab0 = labs[min(labs)]


def source_pixels(name: str, n: int, lab, student, generator) -> torch.Tensor:
    """``n`` inputs of a source in [0, 1] (pooled sources: a random draw of the pool)."""
    change, _ = experiments.datafree_source(name)
    inputs = change["inputs"]
    if inputs in lazarus.POOLED:
        pool = lab.images(inputs)
        idx = torch.randperm(len(pool), generator=generator)[:n]
        return pool[idx].float() / 255
    x = lazarus.input_pixels(inputs, n, generator)
    if change.get("seek_steps"):
        x = datafree.seek_disagreement(student, lab.model, x, change["seek_steps"],
                                       lazarus.RepairConfig().seek_size)
    return x


def plot_sources():
    student0 = lazarus.Damage("noise", experiments.VSHAPE_ALPHA, seed=0).apply(lab0.model)[0]
    samples = {name: source_pixels(name, n_show, lab0, student0, gen) for name in SOURCES}
    fig, axes = plt.subplots(len(SOURCES), n_show, figsize=(n_show * 1.1, len(SOURCES) * 1.25))
    for i, name in enumerate(SOURCES):
        for j in range(n_show):
            ax = axes[i, j]
            ax.imshow(samples[name][j].permute(1, 2, 0).numpy(), interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            ax.grid(False)
        axes[i, 0].set_ylabel(name.replace(", ", ",\n"), rotation=0, ha="right", va="center",
                              fontsize=8)
    fig.suptitle("Inputs of each source (top five: no real image)")
    return fig


if ch.replaying:  # a replay has neither the weights nor the images
    ch.show_saved_figure("sources")
else:
    ch.save_figure(plot_sources(), "sources")
    plt.show()

# %% [markdown]
# ## The ladder
#
# Recovery, agreement (the published squared logit distance to the original on the
# test set, lower is closer) and top-1 agreement with the original, per source and
# damage, mean and 95 % t interval over seeds. **Synthesis** is the one-off cost of
# the inversion pool per base model; **repair** is the whole run (damage, repair,
# measurements), both in seconds on the machine that computed them.

# %%
runs = experiments.run("datafree", labs, ch.profile)
runs["source"] = runs["method"]
runs["sees"] = runs["source"].map(KIND)
ch.save_table(runs.round(4), "runs")
synthesis = pd.DataFrame([
    {"seed": s, "source": name, "synthesis_seconds": pool.result["seconds"],
     "teacher_ce_before": pool.result["teacher_ce_before"],
     "teacher_ce_after": pool.result["teacher_ce_after"]}
    for s, lab in sorted(labs.items())
    for name, plain in (("teacher inversion", False), ("plain class-score inversion", True))
    if name not in EXPLORE or s in scale.explore_seeds
    for pool in [lab.inversion_pool(plain)]
])
ch.save_table(synthesis.round(4), "inversion_synthesis")
ladder = experiments.summarize(runs, ["condition", "source", "sees", "role", "steps"],
                               ["recovery_pct", "agreement_restored", "top1_restored",
                                "repair_seconds"])
ladder = ladder.merge(synthesis.groupby("source", as_index=False)["synthesis_seconds"].mean(),
                      on="source", how="left").fillna({"synthesis_seconds": 0.0})
ladder["order"] = ladder["source"].map({s: i for i, s in enumerate(SOURCES)})
ladder = ladder.sort_values(["condition", "order"]).drop(columns="order")
ch.save_table(ladder.round(3), "ladder")
ladder[["condition", "source", "role", "n", "recovery_pct_mean", "recovery_pct_ci_low",
        "recovery_pct_ci_high", "agreement_restored_mean", "top1_restored_mean",
        "repair_seconds_mean", "synthesis_seconds"]].round(2)


# %%
def plot_ladder(runs: pd.DataFrame):
    fig, axes = plt.subplots(1, 2, figsize=(13, 4.6), sharey=True)
    for ax, cond in zip(axes, (NOISE, PRUNE), strict=True):
        rows = runs[runs["condition"] == cond]
        for i, name in enumerate(SOURCES):
            r = rows[rows["source"] == name]["recovery_pct"].astype(float)
            color = "C0" if KIND[name] == experiments.NO_IMAGE else "grey"
            if len(r):
                ax.bar(i, r.mean(), color=color, alpha=0.55,
                       hatch="//" if name in EXPLORE else None)
                ax.plot(np.full(len(r), i), r, "o", color="black", ms=4)
        ax.axhline(TARGET, color="crimson", ls="--", lw=1, label=f"target {TARGET:g} %")
        ax.axhline(0, color="black", lw=0.8)
        ax.set_xticks(range(len(SOURCES)), [s.replace(", ", ",\n").replace(" images", "\nimages")
                                            for s in SOURCES], fontsize=8, rotation=30,
                      ha="right")
        ax.set_title(cond)
        ax.legend(fontsize=8, loc="lower right")
    axes[0].set_ylabel("recovery (%), bars: mean, dots: seeds")
    fig.suptitle(f"What the repair sees, {ds.title}: blue, no real image; grey, real "
                 f"images; hatched, exploratory")
    return fig


fig = plot_ladder(runs)
ch.save_figure(fig, "ladder")
plt.show()

# %% [markdown]
# ## Against the target
#
# The best source without a real image at each damage, its mean recovery over seeds and
# its 95 % interval, against the 90 % target.

# %%
best = []
for cond in (NOISE, PRUNE):
    rows = ladder[(ladder["condition"] == cond) & (ladder["sees"] == experiments.NO_IMAGE)
                  & (ladder["role"] == experiments.VERDICT)]
    top = rows.loc[rows["recovery_pct_mean"].idxmax()]
    best.append({"condition": cond, "best_source": top["source"], "n": int(top["n"]),
                 "recovery_pct_mean": top["recovery_pct_mean"],
                 "recovery_pct_ci_low": top["recovery_pct_ci_low"],
                 "recovery_pct_ci_high": top["recovery_pct_ci_high"],
                 "target_pct": TARGET, "reached": bool(top["recovery_pct_mean"] >= TARGET)})
best = pd.DataFrame(best)
ch.save_table(best.round(3), "target")
best.round(2)

# %% [markdown]
# ## What explains the ladder: the inputs in the teacher's own terms
#
# For each source and base model, 2048 inputs (256 on the synthetic smoke profile)
# against as many CIFAR-10 **test** images
# (which no repair sees), measured by the original model:
#
# * **teacher entropy**: mean entropy of its predictions (real test images: low);
# * **class balance**: the entropy of its argmax histogram over the 10 classes,
#   normalised (1: every class equally often; 0: one class for everything);
# * **feature distance**: the Fréchet distance between Gaussians fitted to its 256
#   penultimate features on these inputs and on the test images (0: the same).
#
# The disagreement images are measured against the damaged model of each damage at
# step 0 of the repair (the repair moves them against the current student).

# %%
n_view = scale.view_images  # images per source (2048 on real data)
if ch.replaying:  # measured from weights and test images, which a replay lacks
    view = ch.saved_table("teacher_view")
else:
    view_rows = []
    for s, lab in sorted(labs.items()):
        g = torch.Generator().manual_seed(1000 + s)
        test_idx = torch.randperm(len(lab.test_x), generator=g)[:n_view]
        real = lab.test_x[test_idx].float() / 255
        students = {
            NOISE: lazarus.Damage("noise", experiments.VSHAPE_ALPHA, seed=s).apply(lab.model)[0],
            PRUNE: lazarus.Damage("prune", amount, mode).apply(lab.model)[0],
        }
        for name in SOURCES:
            if name in EXPLORE and s not in scale.explore_seeds:
                continue
            change, _ = experiments.datafree_source(name)
            for cond in (NOISE, PRUNE) if change.get("seek_steps") else (None,):
                x = source_pixels(name, n_view, lab, students.get(cond, students[NOISE]), g)
                measures = datafree.teacher_view(lab.model, x, real)
                for c in (cond,) if cond else (NOISE, PRUNE):
                    view_rows.append({"condition": c, "source": name, "seed": s, **measures})
    view = pd.DataFrame(view_rows).round(4)  # as saved, so that a replay reads the same
    ch.save_table(view, "teacher_view")
MEASURES = ["teacher_entropy", "class_balance", "feature_distance"]
view_summary = experiments.summarize(view[view["condition"] == NOISE], ["source"], MEASURES)
view_summary[["source", "n", *[f"{m}_mean" for m in MEASURES]]].round(3)

# %% [markdown]
# Which measure predicts recovery? Spearman's rank correlation between each measure and
# recovery, over every (source, seed) pair of one damage. The sources differ in kind,
# so a correlation here describes these seven sources, not a law.

# %%
joined = runs.merge(view, on=["condition", "source", "seed"])
corr_rows = []
for cond in (NOISE, PRUNE):
    rows = joined[joined["condition"] == cond]
    for m in MEASURES:
        rho, p = sstats.spearmanr(rows[m], rows["recovery_pct"], nan_policy="omit")
        n = int(rows[[m, "recovery_pct"]].notna().all(axis=1).sum())
        corr_rows.append({"condition": cond, "measure": m, "n": n,
                          "spearman_rho": float(rho), "p": float(p)})
correlations = pd.DataFrame(corr_rows)
ch.save_table(correlations.round(4), "predictors")

fig, axes = plt.subplots(2, 3, figsize=(13, 7.5))
for i, cond in enumerate((NOISE, PRUNE)):
    rows = joined[joined["condition"] == cond]
    for j, m in enumerate(MEASURES):
        ax = axes[i, j]
        for k, name in enumerate(SOURCES):
            r = rows[rows["source"] == name]
            ax.plot(r[m], r["recovery_pct"], "o" if KIND[name] == experiments.NO_IMAGE else "s",
                    color=f"C{k}", label=name if (i, j) == (0, 0) else None)
        c = correlations[(correlations["condition"] == cond) & (correlations["measure"] == m)]
        ax.set_title(f"{cond}: rho = {float(c['spearman_rho'].iloc[0]):+.2f}", fontsize=9)
        ax.set_xlabel(m.replace("_", " "))
        ax.set_ylabel("recovery (%)")
fig.legend(loc="lower center", ncol=4, fontsize=8)
fig.tight_layout(rect=(0, 0.07, 1, 1))
ch.save_figure(fig, "predictors")
plt.show()
correlations.round(3)

# %% [markdown]
# ## How the result depends on the budget
#
# Recovery after 100, 300 and 1000 steps of each run (measured inside the runs above).

# %%
budget = experiments.budget_table(runs.assign(method=runs["source"]))
ch.save_table(budget.round(4), "budget")
fig, axes = plt.subplots(1, 2, figsize=(13, 4), sharey=True)
for ax, cond in zip(axes, (NOISE, PRUNE), strict=True):
    rows = budget[budget["condition"] == cond]
    for k, name in enumerate(SOURCES):
        curve = rows[rows["method"] == name].groupby("step")["recovery_pct"].mean()
        ax.plot(curve.index, curve.values, "o-" if KIND[name] == experiments.NO_IMAGE else "s--",
                color=f"C{k}", label=name)
    ax.axhline(TARGET, color="crimson", ls="--", lw=1)
    ax.set(title=cond, xlabel="repair step", xscale="symlog")
axes[0].set_ylabel("recovery (%), mean over seeds")
axes[1].legend(fontsize=8)
ch.save_figure(fig, "budget")
plt.show()

# %% [markdown]
# ## Reading the ladder

# %%
def text() -> str:
    lines = []
    if ch.profile.synthetic:
        lines.append("Synthetic data: these numbers only show that the pipeline works.")
    for cond in (NOISE, PRUNE):
        rows = ladder[ladder["condition"] == cond].set_index("source")
        parts = [f"{s} {rows.loc[s, 'recovery_pct_mean']:.1f} %" for s in SOURCES if s in rows.index]
        lines.append(f"**{cond}** (mean recovery over {int(rows['n'].max())} seeds): "
                     + "; ".join(parts) + ".")
    n_test = len(ds.test_y)
    for cond in (NOISE, PRUNE):
        rows = runs[(runs["condition"] == cond) & (runs["role"] == experiments.VERDICT)]
        cost = float((rows["original"] - rows["damaged"]).mean())
        if cost > 0:
            lines.append(f"At {cond} the damage costs {cost:.2f} accuracy points on average, "
                         f"so one of the {n_test} test images is worth "
                         f"{100 * (100 / n_test) / cost:.2f} recovery points there.")
    for _, b in best.iterrows():
        verdict = "reaches" if b["reached"] else "does not reach"
        lines.append(f"Best without a real image at {b['condition']}: **{b['best_source']}**, "
                     f"{b['recovery_pct_mean']:.1f} % (95 % CI {b['recovery_pct_ci_low']:.1f} "
                     f"to {b['recovery_pct_ci_high']:.1f}), which {verdict} the "
                     f"{TARGET:g} % target.")
    for _, b in best.iterrows():
        curve = (budget[(budget["condition"] == b["condition"])
                        & (budget["method"] == b["best_source"])]
                 .groupby("step")["recovery_pct"].mean())
        if len(curve) >= 3:
            peak_step = int(curve.idxmax())
            trend = ", ".join(f"{v:.1f} % at {int(s)}" for s, v in curve.items() if s > 0)
            lines.append(f"Its mean recovery over the budget at {b['condition']}: {trend}; "
                         + ("still rising at the last step, so a longer repair would "
                            "likely move it further." if peak_step == curve.index.max()
                            else f"it peaked at step {peak_step}, so a longer repair alone "
                            "would not close the gap."))
    for cond in (NOISE, PRUNE):
        paired = runs[runs["condition"] == cond].pivot_table(
            index="seed", columns="source", values="recovery_pct")
        seek, plain_dl = "dead leaves, seeking disagreement", "dead leaves"
        if {seek, plain_dl} <= set(paired.columns):
            gain = (paired[seek] - paired[plain_dl]).dropna()
            lines.append(f"Seeking disagreement changed recovery at {cond} by "
                         f"{gain.mean():+.1f} points over the same dead leaves (paired over "
                         f"{len(gain)} seeds: {', '.join(f'{g:+.1f}' for g in gain)}).")
    ranked = correlations.dropna(subset=["spearman_rho"])
    if len(ranked):
        strongest = ranked.loc[ranked["spearman_rho"].abs().idxmax()]
        lines.append(f"The measure that tracks recovery most closely is "
                     f"**{strongest['measure'].replace('_', ' ')}** (Spearman rho "
                     f"{strongest['spearman_rho']:+.2f} at {strongest['condition']}, "
                     f"n = {int(strongest['n'])} runs).")
    inv = synthesis[synthesis["source"] == "teacher inversion"]
    lines.append(f"Teacher inversion costs {inv['synthesis_seconds'].mean():.0f} s per "
                 f"base model beside {ladder['repair_seconds_mean'].mean():.0f} s per repair; "
                 f"it lowered the teacher's cross-entropy on its target classes from "
                 f"{inv['teacher_ce_before'].mean():.2f} to "
                 f"{inv['teacher_ce_after'].mean():.3f} nats.")
    plain = ladder[ladder["source"].isin(EXPLORE)]
    for _, r in plain.iterrows():
        ref = ladder[(ladder["condition"] == r["condition"])
                     & (ladder["source"] == "teacher inversion")]["recovery_pct_mean"]
        lines.append(f"Exploratory, {r['condition']}: plain class-score inversion recovers "
                     f"{r['recovery_pct_mean']:.1f} % (n = {int(r['n'])}) against "
                     f"{float(ref.iloc[0]):.1f} % with priors and diversity.")
    return "\n\n".join(lines)


display(Markdown(text()))

# %% [markdown]
# ### Where the gap might close
#
# Where the target is missed, the measurements above point to three directions, none
# of them tested in this chapter:
#
# * **Seek disagreement harder.** Two signed-gradient steps from a fixed prior are the
#   cheapest form of the adversarial idea. More or larger steps, or a small generator
#   trained against the student as in ZSKT and DAFL, would keep finding new
#   disagreements as the student improves.
# * **Start from inputs the teacher sees as natural.** The feature distance column
#   orders how close each source's inputs are to real images in the teacher's own
#   features; the search could start from the closest procedural source, and the
#   correlation above says whether that distance is worth chasing.
# * **Keep inverted images uncertain.** The teacher is nearly certain on the images it
#   was inverted for (the teacher-entropy column), so they say little about where its
#   decisions change. Stopping the synthesis at a target entropy, or mixing inverted
#   and procedural images, is the next experiment for inversion.

# %% [markdown]
# ## Verdict

# %%
display(Markdown(headlines.chapter_markdown("07b", ch.figures_dir)))
