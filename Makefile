# canary's developer entry points.  `make test` is the one command CI runs (through .ci/run): it
# installs what it needs (apt packages, the venv, the control plane build, cached outside the checkout),
# runs the quality gates, checks the package installs cleanly, and runs the whole pytest suite.
SHELL := /bin/bash
.DEFAULT_GOAL := help
PYTHON ?= $(shell command -v python3.11 || command -v python3 || echo python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | sha256sum | cut -c1-16)
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)

.PHONY: help deps venv controlplane demo lint fmt package-check unit test cluster cluster-down

help:  ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-15s %s\n", $$1, $$2}'

deps:  ## install missing system packages (apt-get) and check Go
	@PYTHON=$(PYTHON) controlplane/deps.sh

$(STAMP): pyproject.toml
	@rm -rf $(VENV)
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade "pip>=25.1"
	$(PY) -m pip install --quiet -e . --group dev
	@touch $@

venv: deps $(STAMP)  ## create .venv with the package (editable) and the dev group

controlplane: deps  ## build etcd, kube-* and kwok, Flux (helm-controller too), Traefik, Knative Serving and Argo CD, and fetch the upstream CRDs, into the cache (once per version)
	@controlplane/build.sh >/dev/null
	@controlplane/build-flux.sh >/dev/null
	@controlplane/build-helm-controller.sh >/dev/null
	@controlplane/build-traefik.sh >/dev/null
	@controlplane/build-knative.sh >/dev/null
	@controlplane/build-argocd.sh >/dev/null
	@controlplane/build-crds.sh >/dev/null

demo: venv controlplane  ## the main job: a release promoted and a faulty one reverted, in Git, with Flux
	controlplane/netns.sh $(PY) -m demo

lint: venv  ## ruff, ruff format, mypy --strict, import-linter
	ruff check .
	ruff format --check .
	mypy --strict canary loadtest controlplane demo
	lint-imports

fmt: venv  ## apply ruff's fixes and formatting
	ruff check --fix .
	ruff format .

package-check: venv  ## install the package as the Dockerfile does, into a clean venv, and run it
	@set -e; d=$$(mktemp -d); trap 'rm -rf "$$d"' EXIT; \
	$(PYTHON) -m venv "$$d/venv"; \
	"$$d/venv/bin/pip" install --quiet . ; \
	"$$d/venv/bin/canary" --help >/dev/null; \
	"$$d/venv/bin/canary" version; \
	"$$d/venv/bin/python" -c 'import loadtest, canary.core, canary.operator'; \
	"$$d/venv/bin/python" -m loadtest --version

unit: venv  ## the fast tests only (no control plane)
	$(PY) -m pytest tests/unit -q

test: lint package-check controlplane  ## everything CI runs: gates, package check, the whole suite (in its own network namespace)
	controlplane/netns.sh $(PY) -m pytest -q -p no:cacheprovider --durations=5

cluster: venv controlplane  ## start a local control plane in .cluster/ (idempotent)
	@$(PY) -m controlplane.localcluster up --dir .cluster

cluster-down:  ## stop exactly the processes `make cluster` started
	@$(PYTHON) -m controlplane.localcluster down --dir .cluster
