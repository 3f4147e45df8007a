#!/usr/bin/env python3
# Independent check of k1rl task files (used by tests/unit/tasks): recomputes every answer with
# Python's Fraction arithmetic or by executing the reference program, and checks the format.
# Usage: check-tasks.py FILE.jsonl ...   (exit 0 when every task checks out)
import contextlib
import io
import json
import re
import sys
from collections import Counter
from fractions import Fraction


def frac_expr(text):
    """Turns '3(x + 4) - 2', '(2/3)x', '-x' into a Python expression over Fraction and x."""
    e = re.sub(r"(\d+)", r"F(\1)", text)
    e = re.sub(r"\)\s*(x|F|\()", r")*\1", e)  # implicit products: 3x, 3(x+1), (2/3)x
    return e


def ev(expr, x=None):
    return eval(expr, {"__builtins__": {}}, {"F": Fraction, "x": x})


def check_linear(t):
    m = re.fullmatch(r"Solve for x: (.+) = (.+)", t["prompt"])
    assert m, "prompt"
    x = Fraction(t["answer"])
    lhs, rhs = frac_expr(m.group(1)), frac_expr(m.group(2))
    assert ev(lhs, x) == ev(rhs, x), "answer does not solve the equation"
    # exactly one solution: the x coefficients differ
    assert ev(lhs, x + 1) - ev(rhs, x + 1) != 0, "not a unique solution"


def check_countdown(t):
    expr = t["answer"]
    used = [int(v) for v in re.findall(r"\d+", expr)]
    assert Counter(used) == Counter(t["numbers"]), "numbers not used exactly once"
    assert ev(re.sub(r"(\d+)", r"F(\1)", expr)) == t["target"], "wrong value"
    assert str(t["target"]) in t["prompt"], "target not in the prompt"


def check_code(t):
    assert t["tests"], "no tests"
    for tc in t["tests"]:
        stdin = io.StringIO(tc["input"])
        out = io.StringIO()
        old = sys.stdin
        sys.stdin = stdin
        try:
            with contextlib.redirect_stdout(out):
                exec(compile(t["answer"], "<answer>", "exec"), {"__name__": "__main__"})
        finally:
            sys.stdin = old
        assert out.getvalue() == tc["output"], f"program prints {out.getvalue()!r}, test wants {tc['output']!r}"


def check(t):
    kind = t["task"]
    assert 1 <= t["difficulty"] <= 10, "difficulty"
    assert t["id"] and t["prompt"] and t["answer"], "missing field"
    if kind in ("addition", "multiplication"):
        m = re.fullmatch(r"(\d+)([+*])(\d+)=", t["prompt"])
        assert m, "prompt"
        a, b = int(m.group(1)), int(m.group(3))
        assert int(t["answer"]) == (a + b if m.group(2) == "+" else a * b), "wrong answer"
    elif kind == "linear":
        check_linear(t)
    elif kind == "countdown":
        check_countdown(t)
    elif kind == "code":
        check_code(t)
    else:
        raise AssertionError(f"unknown kind {kind}")
    if kind != "code":
        assert t["solution_long"].rstrip().endswith("Answer: " + t["answer"]), "long solution's answer"
    if "solution_concise" in t:
        assert t["solution_concise"].endswith("Answer: " + t["answer"]), "concise solution's answer"
        assert len(t["solution_concise"]) < len(t["solution_long"]), "concise solution's length"


def main():
    bad = 0
    seen = {}
    for path in sys.argv[1:]:
        with open(path, encoding="utf-8") as f:
            for n, line in enumerate(f, 1):
                t = json.loads(line)
                try:
                    check(t)
                except AssertionError as e:
                    bad += 1
                    print(f"{path}:{n}: {t.get('id')}: {e}", file=sys.stderr)
                key = (t["task"], t["prompt"])
                stem = path.rsplit(".", 2)[0]
                if key in seen and seen[key][0] == stem and seen[key][1] != path:
                    bad += 1
                    print(f"{path}:{n}: prompt also in {seen[key][1]}", file=sys.stderr)
                seen[key] = (stem, path)
    print(f"check-tasks: {len(sys.argv) - 1} files, {bad} problems")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
