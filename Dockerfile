# syntax=docker/dockerfile:1
# One image for both olapsink processes: the operator (olapsink-operator) and the worker
# (olapsink-worker --config FILE), plus the user CLI (olapsink). The Helm chart runs the operator;
# the operator runs workers from the same image unless a sink names another.
#
#   docker build -t olapsink:dev .

ARG PYTHON_IMAGE=python:3.11.11-slim-bookworm

# Stage 1: build wheels for olapsink and every dependency, so stage 2 needs no compilers or network.
FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
WORKDIR /src
# README.md is optional (the wildcard lets the build pass before it exists).
COPY pyproject.toml README.md* ./
COPY worker/ worker/
COPY operator/ operator/
RUN pip wheel --wheel-dir /wheels .

# Stage 2: the runtime, with only the installed wheels.
FROM ${PYTHON_IMAGE}
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    pip install --no-index --find-links /wheels olapsink \
    && groupadd --gid 65532 olapsink \
    && useradd --uid 65532 --gid 65532 --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin olapsink
# A numeric user, so the kubelet can prove runAsNonRoot without reading /etc/passwd.
USER 65532:65532
WORKDIR /tmp
EXPOSE 9404 9405 8080
# No ENTRYPOINT: the operator Deployment and the worker pods each name their command.
CMD ["olapsink-operator", "--help"]
