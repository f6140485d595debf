# The selector image that docker-compose.yml runs as `create-study`, `worker` and `recommend`:
# the CLI with the PostgreSQL driver, PyTorch's CPU build, and the fast CPU GRU kernel built
# into the image (a C++ compiler is installed for it), so that containers measure the same
# costs as a local run. GPU workers: build with
#   --build-arg TORCH_INDEX=https://download.pytorch.org/whl/cu128
FROM python:3.11-slim

# g++ builds selector's GRU kernel (torch's cpp_extension, with ninja from pip).
RUN apt-get update \
    && apt-get install --yes --no-install-recommends g++ \
    && rm -rf /var/lib/apt/lists/*

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
# Build the kernel now, into the user's cache: a worker starts training at once. (A machine
# with another CPU builds its own on first use, with the same compiler.)
RUN python -c "from selector.training import fast_gru; assert fast_gru.kernel() is not None"
ENTRYPOINT ["selector"]
CMD ["--help"]
