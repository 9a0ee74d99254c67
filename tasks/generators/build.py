#!/usr/bin/env python3
"""Builds tasks/ttsd-v1.jsonl from the task specs in specs/ (one module per task).

Expected outputs are never typed by hand: every test's output is produced by running the
task's reference solution (tasks/solutions/<id>.py), and before that the reference is
cross-checked against an independent brute force on many small random inputs (the spec's
`brute`, or for hard tasks the naive solution tasks/naive/<id>.py). Everything is seeded, so
the output file is byte-for-byte reproducible:

    python3 tasks/generators/build.py           # rewrite tasks/ttsd-v1.jsonl
    python3 tasks/generators/build.py --check   # regenerate and compare, exit 1 on any drift
    python3 tasks/generators/build.py --only ttsd-17   # rebuild one task (others kept as is)
"""
import argparse
import sys

sys.dont_write_bytecode = True  # keep tasks/ free of __pycache__

import importlib.util
import json
import random
import re
import subprocess
import sys
from pathlib import Path

TASKS_DIR = Path(__file__).resolve().parent.parent
SPECS_DIR = Path(__file__).resolve().parent / "specs"
OUT_FILE = TASKS_DIR / "ttsd-v1.jsonl"
CROSS_CHECKS = 150
SIZE_LIMIT = 5 * 1024 * 1024


def load_module(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_stdin_program(path: Path, stdin: str, timeout: float = 120) -> str:
    done = subprocess.run([sys.executable, str(path)], input=stdin, capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        raise RuntimeError(f"{path.name} failed on input {stdin[:200]!r}:\n{done.stderr}")
    return done.stdout


def run_stdin_many(path: Path, inputs: list) -> list:
    return [run_stdin_program(path, text) for text in inputs]


def call_functional(path: Path, func_name: str, args_list: list) -> list:
    """Calls Solution().<func_name>(*args) for each args tuple, in one fresh interpreter."""
    module = load_module(path, f"sol_{path.stem.replace('-', '_')}")
    results = []
    for args in args_list:
        # Deep copy through JSON so a solution that mutates its arguments cannot affect the next call.
        result = getattr(module.Solution(), func_name)(*json.loads(json.dumps(args)))
        results.append(json.loads(json.dumps(list(result) if isinstance(result, tuple) else result)))
    return results


def functional_input(args: list) -> str:
    return "\n".join(json.dumps(a) for a in args)


def arg_names(starter: str) -> list:
    signature = re.search(r"def \w+\(self,?(.*?)\)", starter, re.S).group(1)
    return [part.split(":")[0].strip() for part in signature.split(",") if part.strip()]


def examples_text(spec, public_inputs, public_outputs) -> str:
    parts = []
    if spec.FUNC_NAME:
        names = arg_names(spec.STARTER)
        for i, (args, out) in enumerate(zip(public_inputs, public_outputs), 1):
            shown = ", ".join(f"{n} = {json.dumps(a)}" for n, a in zip(names, args))
            parts.append(f"Example {i}:\n\nInput: {shown}\nOutput: {json.dumps(out)}\n")
    else:
        for i, (text, out) in enumerate(zip(public_inputs, public_outputs), 1):
            parts.append(f"Sample Input {i}\n\n{text}\n\nSample Output {i}\n\n{out}\n")
    return "\n".join(parts)


def cross_check(spec, reference: Path, naive: Path):
    """Reference vs an independent brute force on small random inputs."""
    rng = random.Random(f"{spec.ID}-cross-check")
    inputs = [spec.small(rng) for _ in range(CROSS_CHECKS)]
    has_brute = hasattr(spec, "brute")
    if not has_brute and not naive.exists():
        raise SystemExit(f"{spec.ID}: needs a brute() in its spec or a naive solution to cross-check against")
    if spec.FUNC_NAME:
        got = call_functional(reference, spec.FUNC_NAME, inputs)
        want = [spec.brute(*json.loads(json.dumps(a))) for a in inputs] if has_brute else call_functional(naive, spec.FUNC_NAME, inputs)
        want = [json.loads(json.dumps(w)) for w in want]
    else:
        # One interpreter per input is slow; batch through the programs' own multi-case loop is not
        # available for stdin tasks, so keep the count modest.
        inputs = inputs[:60]
        got = run_stdin_many(reference, inputs)
        want = [spec.brute(text) for text in inputs] if has_brute else run_stdin_many(naive, inputs)
    for text, g, w in zip(inputs, got, want):
        if (g.split() if isinstance(g, str) else g) != (w.split() if isinstance(w, str) else w):
            raise SystemExit(f"{spec.ID}: reference and brute force disagree on {str(text)[:300]!r}: {str(g)[:200]!r} vs {str(w)[:200]!r}")
    if has_brute and naive.exists():  # hard tasks: the naive solution must be right too
        slow = call_functional(naive, spec.FUNC_NAME, inputs) if spec.FUNC_NAME else run_stdin_many(naive, inputs)
        for text, s, g in zip(inputs, slow, got):
            if (s.split() if isinstance(s, str) else s) != (g.split() if isinstance(g, str) else g):
                raise SystemExit(f"{spec.ID}: naive solution is wrong on {str(text)[:300]!r}")


def build_record(spec) -> dict:
    reference = TASKS_DIR / "solutions" / f"{spec.ID}.py"
    naive = TASKS_DIR / "naive" / f"{spec.ID}.py"
    cross_check(spec, reference, naive)
    public_inputs = spec.public()
    private_inputs = spec.private(random.Random(f"{spec.ID}-private"))
    all_inputs = public_inputs + private_inputs
    if spec.FUNC_NAME:
        outputs = call_functional(reference, spec.FUNC_NAME, all_inputs)
        tests = [{"input": functional_input(a), "output": json.dumps(o), "testtype": "functional"} for a, o in zip(all_inputs, outputs)]
    else:
        outputs = run_stdin_many(reference, all_inputs)
        tests = [{"input": a, "output": o, "testtype": "stdin"} for a, o in zip(all_inputs, outputs)]
    public_outputs = outputs[: len(public_inputs)]
    shown_outputs = public_outputs if spec.FUNC_NAME else [o.rstrip("\n") for o in public_outputs]
    shown_inputs = public_inputs if spec.FUNC_NAME else [t.rstrip("\n") for t in public_inputs]
    content = spec.STATEMENT.strip() + "\n\n" + examples_text(spec, shown_inputs, shown_outputs)
    constraints = getattr(spec, "CONSTRAINTS", "").strip()
    if constraints:
        content += "\nConstraints:\n\n" + constraints + "\n"
    return {
        "question_title": spec.TITLE,
        "question_content": content,
        "platform": "ttsd",
        "question_id": spec.ID,
        "contest_id": "ttsd-v1",
        "contest_date": spec.DATE,
        "starter_code": spec.STARTER if spec.FUNC_NAME else "",
        "difficulty": spec.DIFFICULTY,
        "public_test_cases": json.dumps(tests[: len(public_inputs)]),
        "private_test_cases": json.dumps(tests[len(public_inputs):]),
        "metadata": json.dumps({"func_name": spec.FUNC_NAME} if spec.FUNC_NAME else {}),
        # The privileged teacher context of `--teacher-context reference` (OPSD / SDFT's oracle teacher).
        "reference_solution": reference.read_text(),
    }


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--check", action="store_true", help="compare with the shipped file instead of writing it")
    parser.add_argument("--only", help="comma-separated task ids to rebuild; the others are copied from the shipped file")
    args = parser.parse_args()
    specs = [load_module(p, f"spec_{p.stem.replace('-', '_')}") for p in sorted(SPECS_DIR.glob("ttsd-*.py"))]
    existing = {}
    if OUT_FILE.exists():
        for line in OUT_FILE.read_text().splitlines():
            if line.strip():
                row = json.loads(line)
                existing[row["question_id"]] = line
    only = set(args.only.split(",")) if args.only else None
    lines = []
    for spec in specs:
        if only is not None and spec.ID not in only and spec.ID in existing:
            lines.append(existing[spec.ID])
            continue
        print(f"building {spec.ID} ({spec.DIFFICULTY}, {'functional' if spec.FUNC_NAME else 'stdin'})", file=sys.stderr)
        lines.append(json.dumps(build_record(spec), ensure_ascii=False))
    text = "\n".join(lines) + "\n"
    if len(text.encode()) > SIZE_LIMIT:
        raise SystemExit(f"task file would be {len(text.encode())} bytes, over the {SIZE_LIMIT} limit")
    if args.check:
        if not OUT_FILE.exists() or OUT_FILE.read_text() != text:
            raise SystemExit(f"{OUT_FILE} differs from what the generator produces")
        print(f"{OUT_FILE.name}: reproducible ({len(lines)} tasks)", file=sys.stderr)
        return
    OUT_FILE.write_text(text)
    print(f"wrote {OUT_FILE} ({len(lines)} tasks, {len(text.encode())} bytes)", file=sys.stderr)


if __name__ == "__main__":
    main()
