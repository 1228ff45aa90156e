# k12ai images, built by scripts/build_images (read it first):
#   server  the control plane (gRPC + REST gateway), k12ai[docker,consul]
#   worker  what runs one job: python -m k12ai_worker <spec.json>
#
# The build context is build/docker/context, which the script fills with every
# wheel the images need, downloaded on the host: nothing here reaches an index,
# so builds are reproducible and work where PyPI's TLS is not trusted.
#
# BASE_IMAGE picks the OS layer:
#   python:3.11-slim                       CPU hosts with a registry
#   nvidia/cuda:12.8.1-runtime-ubuntu24.04 GPU hosts (Python comes from apt below)
#   k12ai-base:bookworm                    offline: a debootstrap root made by the script
ARG BASE_IMAGE=python:3.11-slim

FROM ${BASE_IMAGE} AS python-base
# CUDA runtime images carry no Python; slim and the debootstrap base already do.
RUN if ! python3 -c 'import ensurepip, venv' 2>/dev/null; then \
      apt-get update \
      && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends python3 python3-venv \
      && rm -rf /var/lib/apt/lists/*; \
    fi
# Bytecode is compiled at install time: job containers run with a read-only root.
ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PATH=/opt/k12ai/bin:$PATH

# The dependencies' venv is built in its own stage and copied out, so their wheels
# never end up in a layer of the final image, and a source change only reinstalls
# k12ai itself (a small wheel) on top. Worker stages come first: the legacy builder
# (no BuildKit) builds every stage above the target, and the worker needs none of
# the server's.
FROM python-base AS worker-deps
# "ml" (scikit-learn only, for k12ml) or "all" (adds torch==2.13.* for k12nlp and k12cv).
ARG FRAMEWORKS=ml
COPY wheels/worker-${FRAMEWORKS}/deps/ /wheels/
RUN python3 -m venv /opt/k12ai && /opt/k12ai/bin/pip install --no-cache-dir --no-index /wheels/*.whl

FROM python-base AS worker
ARG FRAMEWORKS=ml
COPY --from=worker-deps /opt/k12ai /opt/k12ai
COPY wheels/worker-${FRAMEWORKS}/k12ai/ /k12ai/
RUN pip install --no-cache-dir --no-index --no-deps /k12ai/*.whl && rm -rf /k12ai
# The Docker runner sets its own non-root user too; this is the default for a manual `docker run`.
USER 65534:65534
WORKDIR /tmp
ENV HOME=/tmp
CMD ["python", "-m", "k12ai_worker"]

FROM python-base AS server-deps
COPY wheels/server/deps/ /wheels/
RUN python3 -m venv /opt/k12ai && /opt/k12ai/bin/pip install --no-cache-dir --no-index /wheels/*.whl

FROM python-base AS server
COPY --from=server-deps /opt/k12ai /opt/k12ai
COPY wheels/server/k12ai/ /k12ai/
RUN pip install --no-cache-dir --no-index --no-deps /k12ai/*.whl && rm -rf /k12ai
# Runs as root: it talks to the Docker socket it is given. Data and state must be
# mounted at the same paths as on the host, since job containers mount them by host path.
EXPOSE 8118 8119
ENTRYPOINT ["k12ai-server", "--host", "0.0.0.0"]
