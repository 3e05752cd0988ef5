# The book's entry points. Each target sets up the virtual environment first if needed.
#
#   make book                       run every chapter (profile quick) into build/quick/: the
#                                   published book (figures/, book/) is never changed, and a
#                                   run of the published profile says what differs from it
#   make book PROFILE=full PUBLISH=1  the published book itself: figures/, executed/, book/
#   make book DATA_ARCHIVE="a.tar.xz b.tar.xz"   ... importing CIFAR from image-folder archives
#   make book PROFILE=paper         the seeds' own settings (for a GPU)
#   make book-gpu PROFILE=full      on a GPU: every run computed first (book plan --execute:
#                                   runs stacked; WORKERS=N spreads them over N processes
#                                   instead), then the chapters
#   make results                    the cache's results as results-$(PROFILE).tar.xz (no weights)
#   make replay RESULTS=pack.tar.xz  every chapter re-executed from a results pack (imported
#                                   into the cache first): no data, no weights, no training;
#                                   without RESULTS, the pack shipped in book/ at its own
#                                   profile unless PROFILE is given (ONLY=04: one chapter)
#   make site                       the book as a static site in _build/html (offline); a
#                                   chapter not executed here shows its published run (book/),
#                                   else a preview of its saved figures
#   make test                       the test suite (offline; synthetic data)
#   make lab                        JupyterLab on the paired notebooks, with the outputs of
#                                   the published book (book/) where a notebook has none
#   make publish                    executed/ -> book/ (make book does it chapter by chapter),
#                                   and the profile's results as book/results-$(PROFILE).tar.xz
#                                   (replacing another profile's pack)
#   make sync                       jupytext: notebooks/*.py <-> notebooks/*.ipynb
#   make bench                      this machine's peak GFLOP/s, each phase's share of it,
#                                   NeuroSovereign's step per spectral route, its chains
#                                   stacked (K = 1, 4), K repairs batched vs one at a time
#                                   (K = 1, 2, 4, 8), and the seed's protocol: its published
#                                   script vs the book
#   make bench DEVICE=cuda          the same on a GPU (tf32/bf16 rates, chains K up to 64,
#                                   repairs K up to 128, the paper profile's GPU time
#                                   measured per run kind)
#   make bench-train                training throughput: our batching vs a DataLoader
#   make bench-vshape               the V-shape protocol timed: our repair vs the naive step
#   make clean                      remove build products (keeps data/ and the cache)

PYTHON ?= python3
VENV ?= .venv
PROFILE ?= quick
DATA_ARCHIVE ?=
ONLY ?=
DEVICE ?= cpu
WORKERS ?=
SHIPPED := book/results-$(PROFILE).tar.xz
# make replay, without PROFILE, replays the profile of the pack shipped in book/
SHIPPED_PACK := $(firstword $(wildcard book/results-*.tar.xz))
SHIPPED_PROFILE := $(patsubst book/results-%.tar.xz,%,$(firstword $(wildcard book/results-*.tar.xz)))
REPLAY_PROFILE := $(if $(filter command line environment%,$(origin PROFILE)),$(PROFILE),$(or $(SHIPPED_PROFILE),$(PROFILE)))
REPLAY_PACK := book/results-$(REPLAY_PROFILE).tar.xz
RESULTS ?= $(if $(wildcard $(REPLAY_PACK)),$(REPLAY_PACK),)

BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
READ_STAMP := $(VENV)/.installed-read
ARCHIVE_FLAGS := $(foreach a,$(DATA_ARCHIVE),--data-archive $(a))
ONLY_FLAGS := $(foreach c,$(ONLY),--only $(c))
PUBLISH ?=
PUBLISH_FLAG := $(if $(PUBLISH),--publish,)
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root,)

.PHONY: lab-prepare setup book book-gpu results replay publish site test lab sync bench bench-train bench-vshape lint clean clean-cache

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $@ $(READ_STAMP)

# reading needs no compute stack: the site is built from the published pages with the
# package's own light dependencies (no torch); a later computing target adds the rest
$(READ_STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -e .
	@touch $@

setup: $(STAMP)

book: $(STAMP)
	$(BIN)/python -m plasticity book run --profile $(PROFILE) $(ARCHIVE_FLAGS) $(ONLY_FLAGS) $(PUBLISH_FLAG)

book-gpu: $(STAMP)
	$(BIN)/python -m plasticity book plan --profile $(PROFILE) --execute --device $(GPU_DEVICE) $(if $(WORKERS),--workers $(WORKERS),) $(ARCHIVE_FLAGS)
	$(BIN)/python -m plasticity book run --profile $(PROFILE) --device $(GPU_DEVICE) $(ARCHIVE_FLAGS) $(ONLY_FLAGS) $(PUBLISH_FLAG)

results: $(STAMP)
	$(BIN)/python -m plasticity results export results-$(PROFILE).tar.xz --profile $(PROFILE)

replay: $(STAMP)
	$(if $(RESULTS),$(BIN)/python -m plasticity results import $(RESULTS),)
	$(BIN)/python -m plasticity book run --profile $(REPLAY_PROFILE) --replay $(ONLY_FLAGS)

publish: $(STAMP)
	rm -f $(filter-out $(SHIPPED),$(wildcard book/results-*.tar.xz))
	$(BIN)/python -m plasticity results export $(SHIPPED) --profile $(PROFILE)
	$(BIN)/python -m plasticity book publish $(ONLY_FLAGS)

site: $(READ_STAMP)
	$(BIN)/python -m plasticity site build --preview

test: $(STAMP)
	$(BIN)/python -m pytest

lab: lab-prepare
	$(BIN)/jupyter lab $(ROOT_FLAG) notebooks/

# what make lab does before opening JupyterLab: the shipped results pack into the cache
# (so every cell runs and every slider redraws with no data and no training), and the
# paired notebooks with the published outputs; no tracked file changes
lab-prepare: $(STAMP)
	$(if $(SHIPPED_PACK),$(BIN)/python -m plasticity results import $(SHIPPED_PACK),)
	$(BIN)/python -m plasticity book outputs

sync: $(STAMP)
	$(BIN)/jupytext --sync notebooks/[0-9][0-9]*_*.py

GPU := $(filter cuda%,$(DEVICE))
GPU_DEVICE := $(if $(GPU),$(DEVICE),cuda)

bench: $(STAMP)
	$(BIN)/python -m plasticity bench peak --device $(DEVICE) $(ARCHIVE_FLAGS)
	$(BIN)/python -m plasticity bench spectral --device $(DEVICE)
	$(BIN)/python -m plasticity bench chains --device $(DEVICE) $(if $(GPU),--k 1 8 16 32 64,--k 1 4)
	$(BIN)/python -m plasticity bench grid --device $(DEVICE) $(if $(GPU),--k 1 8 32 128,) $(ARCHIVE_FLAGS)
	$(if $(GPU),$(BIN)/python -m plasticity bench cost --profile paper --device $(DEVICE) $(ARCHIVE_FLAGS),)
	$(BIN)/python -m plasticity bench protocol --device $(DEVICE) $(ARCHIVE_FLAGS)

bench-train: $(STAMP)
	$(BIN)/python -m plasticity bench train $(ARCHIVE_FLAGS)

bench-vshape: $(STAMP)
	$(BIN)/python -m plasticity bench vshape $(ARCHIVE_FLAGS)

lint: $(STAMP)
	$(BIN)/ruff check lib tests notebooks/*.py
	$(BIN)/ruff format --check lib tests

clean:
	rm -rf executed _build .pytest_cache .ruff_cache notebooks/*.ipynb site/node_modules
	find . -name __pycache__ -type d -not -path './$(VENV)/*' -prune -exec rm -rf {} +

clean-cache: $(STAMP)
	$(BIN)/python -m plasticity cache clear
