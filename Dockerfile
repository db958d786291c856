# The bot's own image (webhook server + embedded worker). Not the sandbox image.
FROM python:3.11-slim

RUN apt-get update \
    && apt-get install -y --no-install-recommends git bubblewrap ca-certificates \
    && rm -rf /var/lib/apt/lists/*

RUN useradd --create-home --uid 10001 draftsmith
WORKDIR /app
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY webhooks ./webhooks
COPY policies ./policies
RUN pip install --no-cache-dir .

USER draftsmith
WORKDIR /home/draftsmith
ENV DRAFTSMITH_DATABASE_URL=sqlite:////home/draftsmith/data/draftsmith.db \
    DRAFTSMITH_QUEUE_URL=sqlite:////home/draftsmith/data/queue.db \
    DRAFTSMITH_WORK_DIR=/home/draftsmith/work
RUN mkdir -p /home/draftsmith/data /home/draftsmith/work
EXPOSE 8000
CMD ["draftsmith", "serve", "--host", "0.0.0.0", "--port", "8000"]
