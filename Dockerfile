# syntax=docker/dockerfile:1
# Multi-stage build of the canary controller (and, as a second target, the load tester).
# It cannot be built on the project's CI machines (no Docker engine there); `make package-check` installs
# the wheel the same way, into a clean venv, and runs `canary --help`.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
WORKDIR /src
RUN python -m pip install --no-cache-dir --upgrade pip build
COPY pyproject.toml README.md ./
COPY canary ./canary
COPY loadtest ./loadtest
RUN python -m build --wheel --outdir /dist

FROM ${PYTHON_IMAGE} AS runtime
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN groupadd --system --gid 10001 canary \
 && useradd --system --uid 10001 --gid canary --no-create-home --shell /usr/sbin/nologin canary
COPY --from=build /dist/*.whl /tmp/
RUN python -m pip install --no-cache-dir /tmp/*.whl && rm -f /tmp/*.whl
USER 10001:10001

FROM runtime AS loadtest
# The load tester (deploy/loadtest): flagger-loadtester's API on :8080, gates in a ConfigMap when run in a
# Pod. cmd tasks run only programs allowed with --allow-cmd; none are installed here besides the built-in
# load generator (type: load): add them in an image built FROM this target.
EXPOSE 8080
ENTRYPOINT ["python", "-m", "loadtest"]

FROM runtime AS controller
# spec.gitops runs the git program (https and ssh remotes); nothing else is added.
USER 0:0
RUN apt-get update \
 && apt-get install -y --no-install-recommends git openssh-client ca-certificates \
 && rm -rf /var/lib/apt/lists/*
USER 10001:10001
ENTRYPOINT ["canary"]
CMD ["--help"]
