# The hosts' image: one image, two commands (template.yaml runs `python -m voice` and
# `python -m workflows.worker`). Its Python environment comes from scripts/install-host.sh, which a
# test also runs; no Docker engine runs in this project's CI, so the image itself is built by you
# (README, "Deploying").
FROM python:3.11-slim-bookworm

ENV PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    SWITCHBOARD_HOME=/var/lib/switchboard

WORKDIR /src
# The dependencies first (their layer changes only with the lock), then the project.
COPY deploy/host.lock deploy/host.lock
COPY scripts/install-host.sh scripts/host-entrypoint.sh scripts/
RUN sh scripts/install-host.sh /opt/switchboard deps
COPY pyproject.toml README.md ./
COPY switchboard switchboard
COPY workflows workflows
COPY activities activities
COPY voice voice
COPY functions functions
COPY infra infra
COPY evals evals
COPY dashboard dashboard
COPY cli cli
RUN sh scripts/install-host.sh /opt/switchboard project \
    && useradd --system --home-dir /var/lib/switchboard --create-home switchboard

ENV PATH=/opt/switchboard/bin:$PATH
USER switchboard
WORKDIR /var/lib/switchboard
EXPOSE 8080
ENTRYPOINT ["/src/scripts/host-entrypoint.sh"]
CMD ["python", "-m", "voice"]
