#!/usr/bin/env bash
# Sets up the Python used by k1rl's reference tests (never by a run): a venv in .cache/venv on top
# of Debian's /usr/bin/python3 (--system-site-packages, so Debian's torch 1.13, numpy and h5py stay
# visible) plus the PyPI packages the references need. Idempotent; quiet when already done.
# Usage: tools/setup-test-python.sh [--quiet]; prints nothing and exits 0 when ready.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${K1RL_TEST_VENV:-$root/.cache/venv}"
# Versions that still support torch 1.13 and Python 3.11 (transformers dropped torch < 2 later).
pkgs=(transformers==4.44.2 tokenizers==0.19.1 safetensors==0.4.5 gguf==0.10.0
      huggingface-hub==0.24.7 jinja2==3.1.6 sentencepiece==0.2.0)
stamp="$venv/.k1rl-ready-$(printf '%s\n' "${pkgs[@]}" | md5sum | cut -c1-12)"
[[ -f "$stamp" ]] && exit 0

log() { echo "setup-test-python: $*" >&2; }
if [[ ! -x "$venv/bin/python" ]]; then
  log "creating $venv"
  /usr/bin/python3 -m venv --system-site-packages "$venv"
fi
log "installing ${pkgs[*]}"
# numpy<2: Debian's torch 1.13 is built against numpy 1.x.
if ! "$venv/bin/python" -m pip install -q --disable-pip-version-check "numpy<2" "${pkgs[@]}" >&2; then
  log "pip install failed (no network to PyPI?); reference tests that need it will skip"
  exit 1
fi
"$venv/bin/python" - <<'PY' >&2
import torch, transformers, tokenizers, safetensors, gguf  # noqa: F401
PY
touch "$stamp"
log "ready: $venv/bin/python"
