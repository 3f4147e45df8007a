"""Checks tools/plot.py's output for a run: every expected PNG exists and is a PNG of readable size;
report.html embeds exactly those bytes, the resolved config.ini, the eval table and, per iteration,
sample answers whose prompts are those of the run's buffer shards (decoded here independently with
the byte tokenizer). Every column of the run's tables must be listed in docs/metrics.md.
Usage: check-report.py RUN REPORT_DIR METRICS_MD"""
import base64
import glob
import html
import re
import sys

import h5py
import numpy as np

run, rep = sys.argv[1], sys.argv[2]
bad = []
page = open(f"{rep}/report.html", encoding="utf-8").read()
names = ["reward", "accuracy", "answer_length", "kl", "entropy", "grad_norm", "tokens_per_s", "time",
         "answer_length_hist", "sft_loss"]
inline = dict(re.findall(r'<img alt="([^"]+)" src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page))
for n in names:
    data = open(f"{rep}/{n}.png", "rb").read()
    if data[:8] != b"\x89PNG\r\n\x1a\n" or len(data) < 5000:
        bad.append(f"{n}.png is not a PNG of a plot ({len(data)} bytes)")
    if base64.b64decode(inline.get(f"{n}.png", "")) != data:
        bad.append(f"report.html does not embed {n}.png as written")
config = open(f"{run}/config.ini", encoding="utf-8").read()
if html.escape(config) not in page:
    bad.append("report.html lacks the resolved config.ini")
with h5py.File(f"{run}/eval.h5") as f:
    greedy = f["eval/greedy_accuracy"][0]
if f"<td>{greedy:.3f}</td>" not in page or "greedy accuracy" not in page:
    bad.append(f"report.html lacks the eval row (greedy {greedy:.3f})")
# Sample answers: each iteration of the buffer has a heading and its first prompt, decoded here.
for path in sorted(glob.glob(f"{run}/buffer/it_*.h5")):
    with h5py.File(path) as f:
        it = int(f.attrs["iteration"])
        toks, off, plen = f["tokens"][:], f["token_offsets"][:], f["prompt_len"][:]
    ids = toks[off[0]: off[0] + plen[0]]
    text = "".join("<bos>" if t == 256 else chr(t) for t in ids)
    if f"<h3>Iteration {it}</h3>" not in page:
        bad.append(f"no sample answers of iteration {it}")
    if f"<pre>{html.escape(text)}</pre>" not in page:
        bad.append(f"the first prompt of iteration {it} ({text!r}) is not in the report")
# Every column the run wrote is documented under its table in docs/metrics.md.
doc = open(sys.argv[3], encoding="utf-8").read()
sections = {}
for part in re.split(r"\n## ", doc)[1:]:
    head = part.split("\n", 1)[0]
    m = re.search(r"table /(\w+)|^/(\w+)", head)
    if m:  # rows "| col |" or "| col_a, col_b |" under the table's own heading
        cols = sections.setdefault(m.group(1) or m.group(2), set())
        for names in re.findall(r"^\| (\w+(?:, \w+)*) \|", part, re.M):
            cols.update(names.split(", "))
    # rows "| /table | col_a, col_b | ..." of a section spanning tables (the time split)
    for table, names in re.findall(r"^\| /(\w+) \| (\w+(?:, \w+)*) \|", part, re.M):
        sections.setdefault(table, set()).update(names.split(", "))
for path in [f"{run}/metrics.h5", f"{run}/eval.h5"]:
    with h5py.File(path) as f:
        for table in f:
            for c in f[table]:
                if c not in sections.get(table, ()):
                    bad.append(f"column {c} of /{table} ({path}) is not in docs/metrics.md")
for b in bad:
    print("check-report: FAIL:", b)
print("check-report:", "FAIL" if bad else f"OK: {len(names)} plots inline, config, eval table, samples")
sys.exit(1 if bad else 0)
