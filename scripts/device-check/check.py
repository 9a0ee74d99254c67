"""The device check's driver (started by device-check.sh once the trainers are built):
  1. writes a small F32 Qwen2-shaped model and runs the same two SDPO steps on two trainers
     (CPU and CUDA; or CPU twice with --devices cpu,cpu: a determinism check), comparing loss, KL,
     gradient norm and the adapter written after each step;
  2. benches step/forward, tokens/s and peak memory (host RSS and GPU) on random Qwen-shaped
     models, smallest first, while the time budget lasts;
  3. writes device-check.json and summary.txt under --out.
Every step prints one line; a failure prints one line and the exit status is non-zero.
Needs python3 and numpy only (gguf-py comes from the bundled llama.cpp source)."""
from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import subprocess
import sys
import threading
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import models  # noqa: E402
from trainer_client import Trainer, TrainerError, encode_step  # noqa: E402

# CPU vs CUDA: the same f32 arithmetic summed in different orders (ggml-cpu's chunked dot products
# vs cuBLAS/ggml-cuda tiles and warp reductions, log-sum-exp over 151,936 logits) differs by a few
# ulps per reduction, ~1e-6..1e-5 relative after a forward and backward through the model. 1e-3 on
# the scalars and 1e-2 (norm-wise) on the adapter leave two orders of magnitude for that and still
# catch a wrong kernel, which is off by O(1). The same build twice must agree bit for bit.
CROSS_DEVICE_TOLERANCE = {"scalars_rel": 1e-3, "adapter_rel": 1e-2}
SAME_DEVICE_TOLERANCE = {"scalars_rel": 0.0, "adapter_rel": 0.0}
SCALARS = ("loss", "klBefore", "klAfter", "gradNorm")


def say(line: str) -> None:
    print(f"device-check: {line}", flush=True)


class Deadline:
    def __init__(self, at: float):
        self.at = at

    def left(self) -> float:
        return self.at - time.time()


def load_trainer_defaults(manifest: dict) -> dict:
    """The project's trainer defaults (defaultTrainerConfig, written into the bundle's manifest)."""
    return dict(manifest["trainerDefaults"])


def device_config(device: str) -> dict:
    # cuda: every layer on the GPU (gpuLayers -1), as `ttsd run --gpu cuda --gpu-layers max` does.
    # attention blocked on both (the trainer's default): query blocks from standard ggml ops that ggml-cuda
    # implements, with a recomputing backward (memory linear in the tokens); CPU and CUDA steps compare the
    # same graph. (The fused attention is CPU custom ops: the trainer refuses it on a GPU device.)
    base = {"device": "cuda", "gpuLayers": -1} if device == "cuda" else {"device": "cpu", "gpuLayers": 0}
    return {**base, "attention": "blocked"}


def start_trainer(exe: str, config: dict, log_path: str, deadline: Deadline) -> tuple[Trainer, dict]:
    os.makedirs(config["stateDir"], exist_ok=True)
    t = Trainer(exe, log_path)
    try:
        info = t.request({"cmd": "init", **config}, min(600, deadline.left()))
    except TrainerError:
        t.close()
        raise
    return t, info


def read_adapter(gguf, path: str) -> dict[str, np.ndarray]:
    reader = gguf.GGUFReader(path)
    return {t.name: np.array(t.data, dtype=np.float64) for t in reader.tensors}


def rel(a: float, b: float) -> float:
    if a == b or (np.isnan(a) and np.isnan(b)):
        return 0.0
    return abs(a - b) / max(abs(a), abs(b), 1e-30)


def compare_batches(n_vocab: int, seed: int) -> list[list[dict]]:
    """Two steps' batches of random ids: an unmasked rollout whose teacher prompt is longer than
    its student prompt (feedback appended), and a masked one (counted in the mean, no loss)."""
    rng = random.Random(seed)

    def ids(n: int) -> list[int]:
        return [rng.randrange(n_vocab) for _ in range(n)]

    batches = []
    for _ in range(2):
        student = ids(24)
        batches.append([
            {"student": student, "teacher": student + ids(16), "response": ids(48), "masked": False},
            {"student": ids(16), "teacher": ids(16), "response": ids(32), "masked": True},
        ])
    return batches


def model_file(out: str, shape: str, dtype: str) -> str:
    return os.path.join(out, "models", f"{shape}-{dtype}.gguf")


_written: dict[str, dict] = {}


def ensure_model(args, gguf, out: str, shape: str, dtype: str) -> tuple[str, dict]:
    """The model of this shape and type, written once per run (the CPU-only flow benches the
    comparison's model)."""
    path = model_file(out, shape, dtype)
    if path not in _written or not os.path.exists(path):
        _written[path] = models.write_model(gguf, path, shape, dtype, args.vocab)
    return path, _written[path]


def number(value) -> float:
    return float("nan") if value is None else float(value)  # the trainer sends NaN as null


def compare_runs(runs: list[list[dict]], devices: list[str], tol: dict) -> tuple[list[dict], bool]:
    """Step by step: relative differences of the scalars, and the norm-wise relative difference
    ||a - b|| / max(||a||, ||b||) of every adapter tensor (the largest is reported). A step passes
    when neither run skipped it, every scalar is finite and both are within `tol`, and both ran the
    student's body forward as often (`forwards`: the GPU step evaluates forward and backward in one
    pass, as the CPU's does, instead of recomputing the forward)."""
    steps, ok = [], True
    for n, (a, b) in enumerate(zip(*runs)):
        diffs = {k: rel(number(a[k]), number(b[k])) for k in SCALARS}
        worst_name, worst = "", 0.0
        if a["adapter"].keys() != b["adapter"].keys():
            raise RuntimeError("the two runs' adapters hold different tensors")
        for name, x in a["adapter"].items():
            y = b["adapter"][name]
            if y.shape != x.shape:
                raise RuntimeError(f"the two runs' adapters differ in the shape of {name}")
            d = float(np.linalg.norm(x - y) / max(np.linalg.norm(x), np.linalg.norm(y), 1e-30))
            if d >= worst or not np.isfinite(d):
                worst_name, worst = name, d
        step_ok = (not a["skipped"] and not b["skipped"]
                   and all(np.isfinite(number(r[k])) for r in (a, b) for k in SCALARS)
                   and all(d <= tol["scalars_rel"] for d in diffs.values()) and worst <= tol["adapter_rel"]
                   and a.get("forwards") is not None and a.get("forwards") == b.get("forwards"))
        ok = ok and step_ok
        second = f"{devices[1]}#2" if devices[0] == devices[1] else devices[1]
        steps.append({
            "step": n + 1, "ok": step_ok,
            devices[0]: {k: a[k] for k in (*SCALARS, "ms", "forwards")}, second: {k: b[k] for k in (*SCALARS, "ms", "forwards")},
            "rel_diff": diffs, "adapter_rel_diff": worst, "adapter_worst_tensor": worst_name,
        })
    return steps, ok


def run_compare(args, gguf, manifest, out: str, deadline: Deadline, report: dict) -> bool:
    devices = args.devices
    if deadline.left() < 60:
        raise RuntimeError(f"the builds left {max(0, deadline.left()):.0f}s of the budget; run the same command again "
                           f"(the build trees under {out}/build-* are reused) or give a larger --budget-s")
    t0 = time.time()
    model_path, facts = ensure_model(args, gguf, out, args.compare_shape, "f32")
    say(f"compare model: {args.compare_shape} qwen2 f32, {facts['params'] / 1e6:.1f}M parameters, written in {time.time() - t0:.1f}s")
    tol = SAME_DEVICE_TOLERANCE if devices[0] == devices[1] else CROSS_DEVICE_TOLERANCE
    section = {"devices": devices, "model": dict(facts, path=model_path), "tolerance": tol, "steps": [], "ok": False}
    report["compare"] = section
    # SGD with lr 0.1, no clipping or decay: B starts at 0, so after step 1 B = -0.1·grad and the
    # adapter comparison is a comparison of the gradients themselves (AdamW's first step would be
    # ±lr per element and hide them); step 2 then runs on the updated adapter and EMA teacher.
    config = load_trainer_defaults(manifest)
    config.update({"model": model_path, "loraRank": 8, "loraAlpha": 16, "optimizer": "sgd", "lr": 0.1,
                   "weightDecay": 0, "gradClip": 0, "ema": 0.1, "threads": args.threads, "seed": 7,
                   "maxTokens": 256, "measureKlAfter": True})
    batches = compare_batches(facts["vocab"], seed=11)
    # what the comparison ran, so that it can be replayed (the vitest test replays step 1 through
    # the TypeScript client and expects the same numbers)
    # (with the attention both devices run: device_config)
    section["config"] = {**{k: v for k, v in config.items() if k != "model"}, "attention": device_config("cpu")["attention"]}
    section["batches"] = batches
    runs = []
    for i, device in enumerate(devices):
        cfg = dict(config, stateDir=os.path.join(out, "state", f"compare-{i}-{device}"), **device_config(device))
        exe = args.cuda_trainer if device == "cuda" else args.cpu_trainer
        t, info = start_trainer(exe, cfg, os.path.join(out, "logs", f"compare-{i}-{device}.log"), deadline)
        try:
            steps = []
            if info["nVocab"] != facts["vocab"]:
                raise RuntimeError(f"the trainer reads {info['nVocab']} tokens, the model was written with {facts['vocab']}")
            for batch in batches:
                r = t.send(encode_step(batch), min(300, deadline.left()))
                steps.append({**{k: r.get(k) for k in (*SCALARS, "skipped", "ms", "tokens", "cpuOps", "forwards")},
                              "adapter": read_adapter(gguf, r["adapterPath"])})
        finally:
            t.close()
        runs.append(steps)
        last = steps[-1]
        say(f"compare run {i + 1}/2 on {device}: 2 steps, loss {number(steps[0]['loss']):.6g} -> {number(last['loss']):.6g}, "
            f"KL {number(steps[0]['klBefore']):.6g} -> {number(last['klAfter']):.6g}, {sum(number(s['ms']) for s in steps):.0f} ms"
            # the nodes the trainer's schedulers placed on the CPU (empty on the CPU device by definition)
            + (f"; nodes on the CPU: {', '.join(last.get('cpuOps') or []) or 'none'}" if device != "cpu" else ""))
    section["steps"], ok = compare_runs(runs, devices, tol)
    for step in section["steps"]:
        say(f"compare step {step['step']}: max rel diff loss/KL/grad-norm {max(step['rel_diff'].values()):.2e} (tolerance {tol['scalars_rel']:g}), "
            f"adapter {step['adapter_rel_diff']:.2e} at {step['adapter_worst_tensor']} (tolerance {tol['adapter_rel']:g}): {'ok' if step['ok'] else 'MISMATCH'}")
    section["ok"] = ok
    return ok


class GpuMemory:
    """Peak GPU memory used (MiB, whole device) sampled with nvidia-smi every 0.2 s while running."""

    def __init__(self):
        self.nvidia_smi = shutil.which("nvidia-smi")
        self.peak = None
        self.baseline = self.sample()
        self._stop = threading.Event()
        self._thread = None

    def sample(self):
        if not self.nvidia_smi:
            return None
        try:
            out = subprocess.run([self.nvidia_smi, "--query-gpu=memory.used", "--format=csv,noheader,nounits", "-i", "0"],
                                 capture_output=True, text=True, timeout=10).stdout
            return int(out.strip().splitlines()[0])
        except (OSError, ValueError, IndexError, subprocess.TimeoutExpired):
            return None

    def __enter__(self):
        def loop():
            while not self._stop.wait(0.2):
                v = self.sample()
                if v is not None:
                    self.peak = v if self.peak is None else max(self.peak, v)
        if self.nvidia_smi:
            self._thread = threading.Thread(target=loop, daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        if self._thread:
            self._thread.join()


def blocked_attention_rows(tokens: int, heads: int) -> int:
    """Query rows per block of the blocked attention: src/run/lengths.ts blockedAttentionRows (automatic):
    the most rows, a multiple of 16 and at least 16, whose scores (tokens x rows x heads floats) fit in 64 MiB."""
    rows = (64 * 2 ** 20) // (tokens * heads * 4)
    return min(max(16, (rows // 16) * 16), tokens)


def trainer_memory_bytes(shape: models.Shape, tokens: int, file_bytes: int) -> int:
    """A LOWER bound on one training step's memory: src/run/lengths.ts trainerMemoryBytes with the blocked
    attention (device_config), the same formula (the test checks they agree): weights + body activations
    + one query block's probabilities and their gradient, over rows rounded up to 256."""
    rows = -(-tokens // 256) * 256
    body = shape.layers * rows * (4 * shape.hidden + 3 * shape.ffn) * 4
    attention = 2 * rows * blocked_attention_rows(rows, shape.heads) * shape.heads * 4
    return file_bytes + body + attention


def device_memory_bytes(device: str):
    """What a trainer on `device` can use: the GPU's total memory (nvidia-smi), or the host's RAM."""
    if device == "cuda":
        try:
            out = subprocess.run(["nvidia-smi", "--query-gpu=memory.total", "--format=csv,noheader,nounits", "-i", "0"],
                                 capture_output=True, text=True, timeout=20).stdout
            return int(out.strip().splitlines()[0]) * 2**20
        except (OSError, ValueError, IndexError, subprocess.TimeoutExpired):
            return None
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def bench_lengths(args, shape: models.Shape, file_bytes: int, memory) -> tuple[list[int], dict]:
    """The requested length and its halvings down to 256 tokens, those whose lower bound fits."""
    lengths, t = [], args.bench_tokens
    while t >= min(256, args.bench_tokens):
        lengths.append(t)
        t //= 2
    bounds = {t: trainer_memory_bytes(shape, t, file_bytes) for t in lengths}
    return [t for t in lengths if memory is None or bounds[t] <= memory], bounds


def run_bench(args, gguf, manifest, out: str, deadline: Deadline, report: dict) -> int:
    device = args.devices[-1]
    exe = args.cuda_trainer if device == "cuda" else args.cpu_trainer
    results = report.setdefault("bench", [])
    memory = device_memory_bytes(device)
    n_vocab = len(models.read_tokenizer(gguf, args.vocab)["tokenizer.ggml.tokens"][0])
    done = 0
    for name in args.bench_shapes:
        shape = models.SHAPES[name]
        entry = {"shape": name, "type": args.bench_type, "requested_tokens": args.bench_tokens, "tokens": None, "device": device,
                 "ok": False, "device_memory_gib": memory / 2**30 if memory else None, "attempts": []}
        results.append(entry)
        file_bytes = models.n_params(shape, n_vocab) * (4 if args.bench_type == "f32" else 2)
        fitting, bounds = bench_lengths(args, shape, file_bytes, memory)
        entry["memory_lower_bound_gib"] = {str(t): round(b / 2**30, 1) for t, b in bounds.items()}
        where = "the GPU" if device == "cuda" else "RAM"
        if not fitting:
            entry["error"] = f"even {min(bounds)} tokens need at least {bounds[min(bounds)] / 2**30:.1f} GiB, more than the {memory / 2**30:.1f} GiB of {where}"
            say(f"bench {name}: skipped: {entry['error']}")
            continue
        if fitting[0] != args.bench_tokens:
            say(f"bench {name}: {args.bench_tokens} tokens need at least {bounds[args.bench_tokens] / 2**30:.0f} GiB "
                f"(weights, {shape.layers} layers of activations kept for the backward, one attention block), "
                f"more than the {memory / 2**30:.0f} GiB of {where}: benching {fitting[0]} tokens instead")
        model_path = model_file(out, name, args.bench_type)
        try:
            # a lower bound can fit and the step still not: then one more try at half the length
            for tokens in fitting[:2]:
                if deadline.left() < args.bench_reserve_s:
                    entry["attempts"].append({"tokens": tokens, "error": f"skipped: {deadline.left():.0f}s left of the budget"})
                    say(f"bench {name}: skipped, {deadline.left():.0f}s left of the budget")
                    break
                if bench_one(args, gguf, manifest, out, deadline, exe, device, name, tokens, model_path, entry):
                    done += 1
                    break
        finally:
            if os.path.exists(model_path) and not args.keep_models:
                os.remove(model_path)
        if not entry["ok"]:
            entry["error"] = "; ".join(f"{a['tokens']} tokens: {a['error']}" for a in entry["attempts"])
    return done


def bench_one(args, gguf, manifest, out, deadline, exe, device, name, tokens, model_path, entry) -> bool:
    trainer = None
    try:
        if "model" not in entry:
            t0 = time.time()
            entry["model"] = ensure_model(args, gguf, out, name, args.bench_type)[1]
            entry["write_s"] = round(time.time() - t0, 1)
            say(f"bench {name}: {entry['model']['arch']} {args.bench_type}, {entry['model']['params'] / 1e9:.2f}B parameters, "
                f"{entry['model']['bytes'] / 2**30:.1f} GiB, ready in {entry['write_s']}s")
        config = load_trainer_defaults(manifest)
        config.update({"model": model_path, "stateDir": os.path.join(out, "state", f"bench-{name}-{tokens}"),
                       "threads": args.threads, "maxTokens": tokens, **device_config(device)})
        with GpuMemory() as gpu:
            t0 = time.time()
            trainer, _info = start_trainer(exe, config, os.path.join(out, "logs", f"bench-{name}-{tokens}.log"), deadline)
            load_s = round(time.time() - t0, 1)
            r = trainer.request({"cmd": "bench", "tokens": tokens}, deadline.left() - 5)
        r.pop("ok", None)
        entry.update(r)
        entry.update({"tokens": tokens, "load_s": load_s, "gpu_baseline_mb": gpu.baseline, "peak_gpu_mb": gpu.peak, "ok": True})
        entry["attempts"].append({"tokens": tokens, "error": None})
        gpu_text = f", peak GPU {gpu.peak} MiB (device total, {gpu.baseline} before)" if gpu.peak is not None else ""
        say(f"bench {name} at {tokens} tokens on {device}: step {r['step_ms']:.0f} ms, forward {r['forward_ms']:.0f} ms "
            f"(ratio {r['ratio']:.2f}, {r.get('forwards')} forward per step), {r['tokens_per_s']:.0f} tokens/s, peak RSS {r['peak_rss_mb']:.0f} MiB{gpu_text}"
            + (f"; nodes on the CPU: {', '.join(r.get('cpuOps') or []) or 'none'}" if device != "cpu" else ""))
        return True
    except (TrainerError, OSError, RuntimeError, ValueError) as e:
        attempt = {"tokens": tokens, "error": str(e)}
        if trainer is not None:
            attempt["trainer_log_tail"] = trainer.stderr_tail(5)
        entry["attempts"].append(attempt)
        say(f"bench {name} at {tokens} tokens: failed: {e}")
        return False
    finally:
        if trainer is not None:
            trainer.close()


def machine_facts() -> dict:
    facts = {"cpus": os.cpu_count(), "python": platform.python_version(), "numpy": np.__version__, "platform": platform.platform()}
    if shutil.which("nvidia-smi"):
        try:
            out = subprocess.run(["nvidia-smi", "--query-gpu=name,memory.total,driver_version", "--format=csv,noheader"],
                                 capture_output=True, text=True, timeout=20).stdout.strip()
            facts["gpus"] = [line.strip() for line in out.splitlines() if line.strip()]
        except (OSError, subprocess.TimeoutExpired):
            facts["gpus"] = None
    return facts


def write_outputs(out: str, report: dict) -> None:
    with open(os.path.join(out, "device-check.json"), "w") as f:
        json.dump(report, f, indent=2, default=float)
    lines = [f"ttsd device check ({report['mode']}): {'PASSED' if report['ok'] else 'FAILED'} in {report['elapsed_s']:.0f}s",
             f"machine: {report['machine'].get('gpus') or 'no GPU'}, {report['machine']['cpus']} CPUs"]
    for name, b in report.get("builds", {}).items():
        lines.append(f"build {name}: {b}")
    c = report.get("compare")
    if c:
        lines.append(f"compare {c['devices'][0]} vs {c['devices'][1]} on {c['model']['shape']} f32 (tolerance {c['tolerance']}): {'ok' if c['ok'] else 'MISMATCH'}")
        for s in c["steps"]:
            lines.append(f"  step {s['step']}: rel diffs {', '.join(f'{k} {v:.2e}' for k, v in s['rel_diff'].items())}; adapter {s['adapter_rel_diff']:.2e}")
    for b in report.get("bench", []):
        if b["ok"] and b["tokens"] != b["requested_tokens"]:
            lines.append(f"bench {b['shape']}: {b['requested_tokens']} tokens need at least {b['memory_lower_bound_gib'][str(b['requested_tokens'])]} GiB "
                         f"(lower bound), more than the device's {b['device_memory_gib']:.0f} GiB: benched at {b['tokens']}")
        if b["ok"]:
            gpu = f", peak GPU {b['peak_gpu_mb']} MiB" if b.get("peak_gpu_mb") is not None else ""
            lines.append(f"bench {b['shape']} {b['type']} at {b['tokens']} tokens on {b['device']}: step {b['step_ms']:.0f} ms, "
                         f"forward {b['forward_ms']:.0f} ms, {b['tokens_per_s']:.0f} tokens/s, peak RSS {b['peak_rss_mb']:.0f} MiB{gpu}")
        else:
            lines.append(f"bench {b['shape']} {b['type']} at {b['requested_tokens']} tokens on {b['device']}: {b.get('error')}")
    if report.get("error"):
        lines.append(f"error: {report['error']}")
    with open(os.path.join(out, "summary.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--bundle", required=True, help="the unpacked bundle (manifest.json, llama.cpp/)")
    p.add_argument("--out", required=True)
    p.add_argument("--devices", default="cpu,cuda", help="the two trainers compared: cpu,cuda or cpu,cpu")
    p.add_argument("--cpu-trainer", required=True)
    p.add_argument("--cuda-trainer")
    p.add_argument("--compare-shape", default="small", choices=sorted(models.SHAPES))
    p.add_argument("--bench-shapes", default="qwen2.5-0.5b,qwen3-8b", help="smallest first: each runs while the budget lasts")
    p.add_argument("--bench-type", default="f16", choices=["f32", "f16"])
    p.add_argument("--bench-tokens", type=int, default=8192)
    p.add_argument("--bench-reserve-s", type=float, default=60, help="a bench needs at least this many seconds left to start")
    p.add_argument("--threads", type=int, default=os.cpu_count())
    p.add_argument("--deadline", type=float, required=True, help="epoch seconds by which everything must be done")
    p.add_argument("--builds", help="JSON file of the build step's facts")
    p.add_argument("--started", type=float, help="epoch seconds when the device check started (builds included)")
    p.add_argument("--keep-models", action="store_true")
    args = p.parse_args()
    args.devices = args.devices.split(",")
    args.bench_shapes = [s for s in args.bench_shapes.split(",") if s]
    started = args.started or time.time()
    with open(os.path.join(args.bundle, "manifest.json")) as f:
        manifest = json.load(f)
    report: dict = {"version": 1, "ok": False, "mode": ",".join(args.devices), "manifest": manifest, "machine": machine_facts()}
    if args.builds and os.path.exists(args.builds):
        with open(args.builds) as f:
            report["builds"] = json.load(f)
    out = args.out
    for sub in ("models", "state", "logs"):
        os.makedirs(os.path.join(out, sub), exist_ok=True)
    deadline = Deadline(args.deadline)
    gpus = report["machine"].get("gpus")
    say(f"machine: {'; '.join(gpus) if gpus else 'no GPU (nvidia-smi)'}, {os.cpu_count()} CPUs, {max(0, deadline.left()):.0f}s of the budget left")
    code = 0
    try:
        if len(args.devices) != 2 or any(d not in ("cpu", "cuda") for d in args.devices):
            raise ValueError(f"--devices must be two of cpu, cuda, got {','.join(args.devices)}")
        if "cuda" in args.devices and not args.cuda_trainer:
            raise ValueError("--devices with cuda needs --cuda-trainer")
        if args.bench_tokens < 8:
            raise ValueError(f"--bench-tokens must be at least 8, got {args.bench_tokens}")
        bad = [s for s in args.bench_shapes if s not in models.SHAPES]
        if bad:
            raise ValueError(f"unknown bench shape {bad[0]} (choose {', '.join(models.SHAPES)})")
        args.vocab = os.path.join(args.bundle, "llama.cpp", "models", "ggml-vocab-qwen2.gguf")
        gguf = models.import_gguf(os.path.join(args.bundle, "llama.cpp", "gguf-py"))
        compare_ok = run_compare(args, gguf, manifest, out, deadline, report)
        benched = run_bench(args, gguf, manifest, out, deadline, report) if args.bench_shapes else 0
        report["ok"] = compare_ok and (benched > 0 or not args.bench_shapes)
        if not compare_ok:
            report["error"] = "the two trainers disagree beyond the tolerance"
        elif not report["ok"]:
            report["error"] = "no bench finished"
        code = 0 if report["ok"] else 1
    except (TrainerError, OSError, RuntimeError, ValueError) as e:
        report["error"] = str(e)
        code = 1
    except Exception as e:  # noqa: BLE001 -- a bug here is still one line and a non-zero exit, with the report written
        report["error"] = f"{type(e).__name__}: {e}"
        code = 1
    report["elapsed_s"] = time.time() - started
    write_outputs(out, report)
    if code:
        print(f"device-check: FAILED: {report['error']} (details: {os.path.join(out, 'device-check.json')})", file=sys.stderr, flush=True)
    else:
        say(f"passed: {os.path.join(out, 'summary.txt')}")
    return code


if __name__ == "__main__":
    sys.exit(main())
