#!/usr/bin/env bash
# Regenerate requirements.lock: every package of pyproject.toml (all extras) plus
# requirements.in, at one version each, for the platform `make` installs on (Linux x86_64,
# glibc >= 2.28, Python 3.11). `make install` installs from it; run `make lock` after
# changing a dependency in pyproject.toml, then `make install-dev` and commit both files.
# Versions already in the lock are kept unless needed otherwise; `make lock LOCK_ARGS=--upgrade`
# (or --upgrade-package NAME) moves them to the newest that fit.
set -euo pipefail
cd "$(dirname "$0")/.."

UV_VERSION=0.13.9
UV_DIR=.cache/uv-$UV_VERSION
# The CPU wheel of torch is not on PyPI: /opt/wheels holds it on the project's machines;
# elsewhere use PyTorch's page, TORCH_FIND_LINKS=https://download.pytorch.org/whl/torch_stable.html
TORCH_FIND_LINKS=${TORCH_FIND_LINKS:-/opt/wheels}

if [ ! -x "$UV_DIR/bin/uv" ]; then
  # uv in a folder of its own: nothing is added to the project's venv.
  python3 -m pip install --quiet --disable-pip-version-check --target "$UV_DIR" "uv==$UV_VERSION"
fi
PYTHONPATH="$UV_DIR" "$UV_DIR/bin/uv" pip compile pyproject.toml requirements.in \
  --all-extras \
  --python-version 3.11 \
  --python-platform x86_64-manylinux_2_28 \
  --find-links "$TORCH_FIND_LINKS" \
  --custom-compile-command "make lock" \
  --quiet \
  --output-file requirements.lock \
  "$@"
echo "requirements.lock: $(grep -c '^[a-zA-Z0-9]' requirements.lock) packages"
