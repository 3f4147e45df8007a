#!/usr/bin/env bash
# Export round trip with the real model: k1rl-convert GGUF -> checkpoint -> Hugging Face folder,
# then check-export.py loads the folder in transformers and compares it with transformers' own
# reading of the GGUF (weights, logits, tokenizer). Exits 77 (skip) without the fixtures.
# Usage: export-roundtrip.sh K1RL_CONVERT FIXTURES_DIR REPO_ROOT
set -euo pipefail
convert="$1"; fx="$2"; root="$3"; here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
[[ -f "$fx/gguf-path" && ! -f "$fx/unavailable" ]] || { echo "SKIP: no byom fixtures"; exit 77; }
gguf="$(cat "$fx/gguf-path")"
work="$fx/export-roundtrip"
rm -rf "$work"; mkdir -p "$work"
"$convert" --from "$gguf" --to "$work/smollm2.h5"
"$convert" --from "$work/smollm2.h5" --to "$work/hf"
export TQDM_DISABLE=1 TRANSFORMERS_VERBOSITY=error HF_HUB_OFFLINE=1
"$root/.cache/venv/bin/python" "$here/check-export.py" "$gguf" "$work/hf" "$fx"
rm -rf "$work"
