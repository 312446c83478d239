# One image for every ShopStack service and role: SERVICE=<name> and the role argument select what
# runs (deploy/entrypoint.py). Build: docker build -t shopstack .
# No `# syntax=` line: the builder's own Dockerfile frontend, nothing pulled from Docker Hub for it.
# The base comes from ECR Public (AWS's mirror of the Docker official images: no Docker Hub rate
# limit in CodeBuild). Pin it by digest where a registry is reachable:
#   --build-arg PYTHON_IMAGE=public.ecr.aws/docker/library/python:3.11-slim-bookworm@sha256:<digest>
ARG PYTHON_IMAGE=public.ecr.aws/docker/library/python:3.11-slim-bookworm

# --- builder: compile and install the pinned requirements into a venv ---------------------------
FROM ${PYTHON_IMAGE} AS builder
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
# Debian packages pinned to bookworm's versions (bookworm-security's, where it has one). A Debian
# security update removes the old version from the mirror: bump the pin then (apt-cache policy).
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        build-essential=12.9 \
        libcurl4-openssl-dev=7.88.1-10+deb12u15 \
        libssl-dev=3.0.22-1~deb12u2 \
    && rm -rf /var/lib/apt/lists/*
RUN python -m venv /opt/venv
# Every package pinned and hashed (deploy/image_requirements.py): pip refuses any other file.
COPY deploy/requirements-image.txt /tmp/requirements-image.txt
RUN /opt/venv/bin/pip install --no-cache-dir --require-hashes --no-deps -r /tmp/requirements-image.txt

# --- final: the runtime only, no compilers, running as an unprivileged user ---------------------
FROM ${PYTHON_IMAGE}
LABEL org.opencontainers.image.title="shopstack" \
      org.opencontainers.image.description="ShopStack services (SERVICE + role select what runs)"
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PATH=/opt/venv/bin:$PATH \
    DJANGO_SETTINGS_MODULE=config.settings.production \
    PORT=8000
# libcurl: the runtime library of pycurl (kombu's SQS transport); no build tools in this stage.
RUN apt-get update \
    && apt-get install -y --no-install-recommends libcurl4=7.88.1-10+deb12u15 \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 app \
    && useradd --system --uid 10001 --gid app --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin app
COPY --from=builder /opt/venv /opt/venv
WORKDIR /app
# Code is owned by root and only readable by the app user: a compromised process cannot change it.
COPY . /app
# Static files (the admin's) with the production storage, so the manifest exists at run time.
# The values below exist for this build step only; real ones come from the task definition.
RUN DJANGO_SECRET_KEY=build-only-collectstatic-key-not-a-secret-0123456789 \
    DJANGO_ALLOWED_HOSTS=build.invalid \
    DATABASE_URL=postgres://build@build.invalid/build \
    JWT_PUBLIC_KEYS=build-only \
    AWS_ACCOUNT_ID=000000000000 \
    REDIS_URL=rediss://build.invalid:6379/0 \
    SERVICE=catalog \
    python manage.py collectstatic --noinput --verbosity 0 \
    && python -m compileall -q /app/apps /app/config /app/deploy
USER app:app
EXPOSE 8000
# gunicorn and Celery both shut down gracefully on SIGTERM (ECS sends it, then SIGKILL after stopTimeout).
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 CMD ["python", "/app/deploy/healthcheck.py"]
ENTRYPOINT ["python", "/app/deploy/entrypoint.py"]
CMD ["web"]
