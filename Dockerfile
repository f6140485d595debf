# The selector image that docker-compose.yml runs as `create-study`, `worker` and `recommend`:
# the CLI with the PostgreSQL driver and PyTorch's CPU build. GPU workers: build with
#   --build-arg TORCH_INDEX=https://download.pytorch.org/whl/cu128
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1

ARG TORCH_VERSION=2.13.0
ARG TORCH_INDEX=https://download.pytorch.org/whl/cpu
RUN pip install "torch==${TORCH_VERSION}" --index-url "${TORCH_INDEX}"

WORKDIR /src
COPY pyproject.toml README.md ./
COPY search_spaces ./search_spaces
COPY selector ./selector
RUN pip install ".[postgres]"

RUN useradd --create-home --uid 1000 selector && mkdir -p /work && chown selector /work
USER selector
WORKDIR /work
ENTRYPOINT ["selector"]
CMD ["--help"]
