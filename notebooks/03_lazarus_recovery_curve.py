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
# # Lazarus: the recovery curve
#
# The manifesto reports Full v3 at alpha = 0.1, 0.2 and 0.3 (one unseeded run each:
# 51.3 %, 90.0 %, 82.0 % recovery) and concludes that the "optimal region" is
# **alpha in [0.15, 0.25]**, a range in which it never ran 0.15 or 0.25. Here every
# alpha of the profile's sweep runs on every verdict seed.
#
# **Budget.** The seed's protocol (1000 repair steps) on every verdict seed, each with
# its own base model. `quick`: alphas 0.1, 0.2 and 0.35 on 3 seeds (the 0.35 runs are
# chapter 2's); `full`: the seed's grid 0.1-0.35 in steps of 0.05 on 10 seeds, the
# grid the optimum's verdict needs; `paper`: eight alphas from 0.1 to 0.5 (0.15 and
# 0.25 included) on 5 seeds. `smoke`: synthetic data, 20 steps.

# %% tags=["parameters"]
profile = "full"  # the published book's profile; "smoke" runs in seconds on synthetic data
alpha = 0.2
data_dir = None
figures_dir = None
headless = None  # None: detected (sliders only under a notebook front end)

# %%
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from IPython.display import Markdown, display
from plasticity import lazarus
from plasticity.book.chapter import Chapter
from plasticity.book.widgets import check_parameter, explore, slider
from plasticity.engine import lazarus_runs
from plasticity.science import experiments, headlines, published

check_parameter("alpha", alpha)
ch = Chapter("03_lazarus_recovery_curve", profile, data_dir=data_dir,
             figures_dir=figures_dir, headless=headless)
scale = ch.profile.lazarus
ds = ch.dataset("cifar10")
labs = lazarus_runs.chapter_labs(ch, experiments.seeds_needed(ch.profile))
config = lazarus.RepairConfig(steps=scale.repair_steps)
display(Markdown(ch.summary()))
experiments.describe("curve", ch.profile)


# %%
def sweep(alphas) -> pd.DataFrame:
    """Extra alphas (off the declared grid) for the slider: same protocol and seeds."""
    rows = []
    for a in alphas:
        for s in scale.seeds:
            r = labs[s].run(lazarus.Damage("noise", a, seed=s), config, s)
            rows.append(experiments.result_row(r, condition=f"noise alpha={a:g}", method="full",
                                           role="exploratory", seed=s, damage="noise", level=a))
    return pd.DataFrame(rows)


runs = experiments.run("curve", labs, ch.profile)
runs["alpha"] = runs["level"]
ch.save_table(runs.round(4), "runs")
runs[["alpha", "seed", "damaged", "restored", "recovery_pct", "lost_images"]].round(2)

# %% [markdown]
# ## The curve, with spread
#
# Mean over seeds with one standard deviation; each dot is one seed; grey squares are
# the seed document's single runs.

# %%
def summary(frame: pd.DataFrame) -> pd.DataFrame:
    table = experiments.summarize(
        frame.sort_values("alpha"), ["alpha"],
        ["lost", "damaged", "restored", "delta", "recovery_pct", "agreement_improvement"])
    for key in ("damaged", "restored", "recovery_pct", "agreement_improvement"):
        table[f"seed_{key}"] = [published.LAZARUS_CURVE.get(round(a, 2), {}).get(key, np.nan)
                                for a in table["alpha"]]
    return table


curve = summary(runs)
ch.save_table(curve.round(3), "recovery_curve")
curve.round(2)


# %%
def plot_curve(alpha: float):
    known = np.isclose(runs["alpha"], alpha).any()
    frame = runs if known else pd.concat([runs, sweep([alpha]).assign(alpha=alpha)])
    table = summary(frame)
    fig, (ax_rec, ax_acc) = plt.subplots(1, 2, figsize=(12, 4.2))
    ax_rec.errorbar(table["alpha"], table["recovery_pct_mean"],
                    yerr=[table["recovery_pct_mean"] - table["recovery_pct_ci_low"],
                          table["recovery_pct_ci_high"] - table["recovery_pct_mean"]],
                    fmt="o-", capsize=3, label="ours: mean, 95 % CI")
    ax_rec.scatter(frame["alpha"], frame["recovery_pct"], s=12, alpha=0.5, label="ours: seeds")
    seed_a = sorted(published.LAZARUS_CURVE)
    ax_rec.plot(seed_a, [published.LAZARUS_CURVE[a]["recovery_pct"] for a in seed_a], "s--",
                color="grey", label="seed (one run each)")
    ax_rec.axvspan(0.15, 0.25, color="gold", alpha=0.15, label="seed's 'optimal region'")
    ax_rec.axvline(alpha, color="crimson", lw=1)
    ax_rec.set(xlabel="alpha (relative noise norm)", ylabel="recovery (%)",
               title="share of lost accuracy recovered")
    ax_rec.legend(fontsize=8)
    for key, label in (("damaged", "damaged"), ("restored", "repaired")):
        ax_acc.errorbar(table["alpha"], table[f"{key}_mean"],
                        yerr=[table[f"{key}_mean"] - table[f"{key}_ci_low"],
                              table[f"{key}_ci_high"] - table[f"{key}_mean"]],
                        fmt="o-", capsize=3, label=label)
    ax_acc.axhline(frame["original"].mean(), color="black", ls=":", label="original")
    ax_acc.axvline(alpha, color="crimson", lw=1)
    row = table[np.isclose(table["alpha"], alpha)].iloc[0]
    ax_acc.set(xlabel="alpha", ylabel="test accuracy (%)",
               title=f"alpha = {alpha:g}: {row['damaged_mean']:.2f} -> "
                     f"{row['restored_mean']:.2f} % (n = {int(row['n'])})")
    ax_acc.legend(fontsize=8)
    fig.suptitle(f"Lazarus v3 on {ds.title}, {config.steps} repair steps")
    fig.tight_layout()
    return fig


# the slider offers the curve's alphas; on the static site each is a precomputed frame
fig = explore(plot_curve, slider("alpha", alpha, grid=scale.alphas), headless=ch.headless)
if ch.headless:
    ch.save_figure(fig, "recovery_curve")

# %% [markdown]
# ## Is there an optimum at alpha 0.15 to 0.25?
#
# A peak of the mean curve is an argmax over means whose intervals overlap, so the
# registry judges the claim seed by seed instead: for each seed, the best recovery
# inside [0.15, 0.25] minus the best outside it.

# %%
inside = runs[(runs["alpha"] >= 0.15) & (runs["alpha"] <= 0.25)]
outside = runs.drop(inside.index)
per_seed = pd.DataFrame({
    "best inside": inside.groupby("seed")["recovery_pct"].max(),
    "best outside": outside.groupby("seed")["recovery_pct"].max(),
})
per_seed["inside minus outside"] = per_seed["best inside"] - per_seed["best outside"]
ch.save_table(per_seed.reset_index().round(3), "optimum_per_seed")
per_seed.round(2)

# %% [markdown]
# ## How the curve depends on the budget

# %%
budget = experiments.budget_table(runs)
ch.save_table(budget.round(4), "budget")
by = budget.groupby(["condition", "step"])["recovery_pct"].mean().unstack("step")
ch.save_table(by.reset_index().round(3), "budget_means")
by.round(1)

# %%
low = curve.iloc[0]
lines = [
    f"At alpha = {low['alpha']:g} the damage costs only {low['lost_mean']:.2f} points "
    f"({low['lost_mean'] * 100:.0f} test images) on average, so recovery % divides a small "
    "difference by a small difference and scatters widely wherever the damage is mild."
]
if ch.profile.synthetic:
    lines.insert(0, "Synthetic data: these numbers only show that the pipeline works.")
display(Markdown(" ".join(lines)))

# %% [markdown]
# ## Verdict

# %%
display(Markdown(headlines.chapter_markdown("03", ch.figures_dir)))
