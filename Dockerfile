# The bot's own image: `draftsmith serve`, `draftsmith worker`, and the bubblewrap sandbox they run
# the tests in (bwrap binds this image's /usr, so a project's toolchain must be in it). Not the
# Docker sandbox's image (scripts/build_sandbox_image.sh).
#
# BASE_IMAGE: any Debian-based image with Python >= 3.11.4 as `python3` (and its venv module):
# python:3.11-slim from Docker Hub by default, your registry's mirror of it, or an image built
# from Debian packages without any registry (scripts/build_bot_image.sh; not Debian 12's
# Python 3.11.2). git, bubblewrap and the
# CA certificates are installed with apt when the base lacks them.
#
# Build (BuildKit; Docker 23+ uses it by default): docker build -t draftsmith .
#   --build-arg BASE_IMAGE=registry.example.com/python:3.11-slim
#   --secret id=pip_cert,src=/path/ca.pem   trust an extra CA bundle while pip installs (a
#                                           TLS-inspecting proxy's); never stored in the image
ARG BASE_IMAGE=python:3.11-slim
FROM ${BASE_IMAGE}

RUN set -eu; \
    if ! command -v git >/dev/null || ! command -v bwrap >/dev/null \
       || ! command -v prlimit >/dev/null || ! python3 -c 'import venv, ensurepip' 2>/dev/null; then \
      apt-get update; \
      apt-get install -y --no-install-recommends git bubblewrap util-linux ca-certificates python3-venv; \
      rm -rf /var/lib/apt/lists/*; \
    fi; \
    python3 -c 'import sys, tarfile; assert hasattr(tarfile, "data_filter"), "Python 3.11.4 or later is needed (tarfile extraction filters): " + sys.version'

# A venv at /opt/draftsmith: the dependencies first (a layer kept while pyproject.toml is
# unchanged), then the code.
ENV VIRTUAL_ENV=/opt/draftsmith PATH=/opt/draftsmith/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 LANG=C.UTF-8
WORKDIR /src
COPY pyproject.toml README.md ./
RUN --mount=type=secret,id=pip_cert \
    set -eu; \
    if [ -s /run/secrets/pip_cert ]; then export PIP_CERT=/run/secrets/pip_cert; fi; \
    python3 -m venv /opt/draftsmith; \
    python3 -c 'import tomllib; print("\n".join(tomllib.load(open("pyproject.toml", "rb"))["project"]["dependencies"]))' >/tmp/requirements.txt; \
    pip install -r /tmp/requirements.txt; \
    rm /tmp/requirements.txt
COPY bot ./bot
COPY webhooks ./webhooks
COPY policies ./policies
RUN --mount=type=secret,id=pip_cert \
    set -eu; \
    if [ -s /run/secrets/pip_cert ]; then export PIP_CERT=/run/secrets/pip_cert; fi; \
    pip install --no-deps . && rm -rf /src/build && draftsmith --help >/dev/null

# An unprivileged user: as one, bwrap makes its sandbox in an unprivileged user namespace, and a
# container running it needs no capability (compose.yaml says what it does need, and why).
RUN useradd --create-home --uid 10001 draftsmith \
    && install -d -o draftsmith -g draftsmith /home/draftsmith/data /home/draftsmith/work
USER draftsmith
WORKDIR /home/draftsmith
ENV DRAFTSMITH_DATABASE_URL=sqlite:////home/draftsmith/data/draftsmith.db \
    DRAFTSMITH_QUEUE_URL=sqlite:////home/draftsmith/data/queue.db \
    DRAFTSMITH_WORK_DIR=/home/draftsmith/work \
    DRAFTSMITH_SANDBOX=bwrap
EXPOSE 8000
CMD ["draftsmith", "serve", "--host", "0.0.0.0", "--port", "8000"]
