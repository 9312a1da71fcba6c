# normlab on a GPU: the official PyTorch CUDA runtime image, pinned; normlab installed through the
# same scripts/install.sh as `make` (one recipe), into /opt/normlab/.venv.
#   docker build -t normlab .
#   docker run --gpus all --rm -v /data/normlab/raw:/data/raw -v /data/normlab/output:/data/output \
#     normlab normlab-train -m experiment=paper_grid
FROM pytorch/pytorch:2.9.0-cuda12.8-cudnn9-runtime

# A compiler for fairseq's C++ extensions.
RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential=12.* \
 && rm -rf /var/lib/apt/lists/*

RUN useradd --create-home --uid 1000 normlab \
 && mkdir -p /opt/normlab /data/raw /data/cache /data/output \
 && chown -R normlab:normlab /opt/normlab /data
USER 1000:1000
WORKDIR /opt/normlab

# Dependencies first, so that code changes rebuild only the last layers.
COPY --chown=normlab:normlab requirements.lock requirements-fairseq.txt requirements-test.txt pyproject.toml README.md ./
COPY --chown=normlab:normlab scripts/install.sh scripts/install.sh
COPY --chown=normlab:normlab src src
RUN python -m venv .venv && bash scripts/install.sh .venv/bin/python

# The build fails loudly unless torch, fairseq and the plugin import.
RUN .venv/bin/python -c "import torch, fairseq, normlab.plugin; print('torch', torch.__version__, 'fairseq', fairseq.__version__)"

COPY --chown=normlab:normlab scripts scripts
COPY --chown=normlab:normlab tests tests

ENV PATH=/opt/normlab/.venv/bin:$PATH \
    NORMLAB_RAW_DIR=/data/raw \
    NORMLAB_DATA_DIR=/data/cache \
    NORMLAB_OUTPUT=/data/output \
    WANDB_DIR=/data/output
VOLUME ["/data/raw", "/data/cache", "/data/output"]
CMD ["normlab-train", "--help"]
