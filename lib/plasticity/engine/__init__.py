"""How runs are computed: the train-or-load cache, the run profiles, the Lazarus and
NeuroSovereign runs (one, stacked), their cost and the benchmarks."""
