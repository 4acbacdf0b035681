#!/usr/bin/env bash
# Installs what Ronin needs on a Debian machine (once), then runs a command in .venv.
#
#   bash infra/bootstrap.sh up [ARGS]   set up and run Ronin (the embedded stack)
#   bash infra/bootstrap.sh test        set up and run the whole test suite (ruff, mypy,
#                                       vitest, pytest with the browser end-to-end test)
#   bash infra/bootstrap.sh setup       only install
#   bash infra/bootstrap.sh compose-init  write .env for Docker Compose (installs nothing)
#
# System packages (apt-get, needs root or sudo): the embedded servers, ffmpeg, and
# GStreamer's RTSP server for simulated cameras. Python packages go into .venv from
# pyproject.toml; they are reinstalled only when pyproject.toml changes.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(
  redis-server postgresql mosquitto           # the embedded servers
  ffmpeg                                      # ingest (ffmpeg, ffprobe)
  python3-gi python3-gi-cairo gir1.2-gst-rtsp-server-1.0 gstreamer1.0-rtsp
  gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-bad
  gstreamer1.0-plugins-ugly gstreamer1.0-libav  # simulated cameras (a real RTSP server)
)
TEST_APT_PACKAGES=(
  chromium                                    # the web UI's end-to-end test (headless)
  docker.io docker-compose debootstrap        # the compose stack, built and run
)
PYTHON=${PYTHON:-python3}

missing_apt() {
  local p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || echo "$p"
  done
}

install_system_packages() {
  local missing
  missing=$(missing_apt "$@")
  [ -z "$missing" ] && return 0
  local sudo=""
  if [ "$(id -u)" != 0 ]; then
    command -v sudo >/dev/null || { echo "need root (or sudo) to install: $missing" >&2; exit 1; }
    sudo="sudo"
  fi
  echo "installing system packages: $missing" >&2
  $sudo apt-get update -qq
  # shellcheck disable=SC2086
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends $missing >/dev/null
}

install_python_packages() {
  "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' || {
    echo "Ronin needs Python 3.11 or newer ($PYTHON is $("$PYTHON" --version))" >&2; exit 1; }
  [ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
  local stamp=.venv/.ronin-installed
  local want
  want=$(sha256sum pyproject.toml | cut -d' ' -f1)
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    echo "installing Python packages into .venv" >&2
    .venv/bin/python -m pip install -q --disable-pip-version-check -e ".[dev]"
    echo "$want" > "$stamp"
  fi
}

# The web UI (ui/): node packages from the lockfile, then a build, redone only when the
# lockfile or the sources change. Without node/npm Ronin runs without its UI.
build_ui() {
  if ! command -v npm >/dev/null; then
    echo "npm not found: the web UI is not built (the API still runs)" >&2; return 0
  fi
  local lock=ui/node_modules/.ronin-lock want
  want=$(sha256sum ui/package-lock.json | cut -d' ' -f1)
  if [ ! -f "$lock" ] || [ "$(cat "$lock")" != "$want" ]; then
    echo "installing the web UI's node packages" >&2
    (cd ui && npm ci --no-audit --no-fund --loglevel=error) && echo "$want" > "$lock"
  fi
  local stamp=ui/dist/.ronin-built
  want=$(cat ui/package-lock.json ui/index.html ui/vite.config.ts ui/tsconfig.json \
    $(find ui/src -type f | sort) | sha256sum | cut -d' ' -f1)
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    echo "building the web UI" >&2
    (cd ui && npm run build --silent) && echo "$want" > "$stamp"
  fi
}

run_tests() {
  .venv/bin/ruff check .
  .venv/bin/ruff format --check .
  .venv/bin/mypy
  (cd ui && npm test --silent)
  .venv/bin/pytest "$@"
}

command=${1:-up}
shift || true
if [ "$command" = compose-init ]; then  # Python's standard library only
  exec "$PYTHON" -m infra.compose_env "$@"
fi
install_system_packages "${APT_PACKAGES[@]}"
[ "$command" = test ] && install_system_packages "${TEST_APT_PACKAGES[@]}"
install_python_packages
build_ui
# `up` detects with the model chosen by `ronin model` (or ML_MODEL_PATH); on the build
# machines, the shared demo model (never committed); otherwise it offers to install one.
offer_model() {
  .venv/bin/ronin model list | grep -q '^\*' && return 0
  if [ -f ../shared/models/yolox_nano.onnx ]; then
    ML_MODEL_PATH=$(cd ../shared/models && pwd)/yolox_nano.onnx
    export ML_MODEL_PATH
    return 0
  fi
  if [ -t 0 ]; then
    read -r -p "No detection model yet. Download YOLOX-Nano (3.7 MB, from GitHub)? [y/N] " yes
    if [ "${yes:-n}" = y ] || [ "${yes:-n}" = Y ]; then
      .venv/bin/ronin model install yolox-nano || echo "recording works without it" >&2
      return 0
    fi
  fi
  echo "no detection model: recording works; \`ronin model install yolox-nano\` adds detection" >&2
}
if [ "$command" = up ] && [ -z "${ML_MODEL_PATH:-}" ]; then
  offer_model
fi
case "$command" in
  up) exec .venv/bin/ronin up "$@" ;;
  test) run_tests "$@" ;;
  setup) echo "Ronin is installed: .venv/bin/ronin --help" ;;
  *) exec .venv/bin/ronin "$command" "$@" ;;
esac
