"""The ttsd-trainer's framed stdio protocol from Python (the same frames as src/trainer/protocol.ts
and src/trainer/native/protocol.{h,cpp}): u32 LE header length, JSON header, u32 LE payload
length, payload. A step's payload holds every example's student, teacher and response ids as
int32 LE (behaviour log-probs are not used here)."""
from __future__ import annotations

import json
import os
import struct
import subprocess
import threading
from collections import deque


class TrainerError(Exception):
    """A request the trainer answered with {"error"}, or a trainer that died / ran out of time."""


def encode_frame(header: dict, payload: bytes = b"") -> bytes:
    text = json.dumps(header).encode("utf-8")
    return struct.pack("<I", len(text)) + text + struct.pack("<I", len(payload)) + payload


def encode_step(examples: list[dict]) -> bytes:
    """examples: {student, teacher, response: lists of ids, masked: bool}."""
    meta, ids = [], []
    for e in examples:
        meta.append({"s": len(e["student"]), "t": len(e["teacher"]), "r": len(e["response"]), "masked": e["masked"]})
        ids += e["student"] + e["teacher"] + e["response"]
    return encode_frame({"cmd": "step", "examples": meta}, struct.pack(f"<{len(ids)}i", *ids))


class Trainer:
    """One ttsd-trainer process; its stderr goes to `log_path`. Every request has a deadline:
    past it the process is killed and the request fails (nothing waits forever)."""

    def __init__(self, executable: str, log_path: str):
        self.log_path = log_path
        self.log = open(log_path, "wb")
        env = dict(os.environ, GGML_NO_BACKTRACE="1")  # an abort prints the assertion, not a gdb backtrace
        self.proc = subprocess.Popen([executable], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.log, env=env)
        self.timed_out = False

    def _read_exact(self, n: int) -> bytes:
        data = self.proc.stdout.read(n) if n else b""
        if len(data) != n:
            raise self._died()
        return data

    def _died(self) -> TrainerError:
        code = self.proc.wait()
        if self.timed_out:
            return TrainerError("timed out (the trainer was stopped)")
        return TrainerError(f"the trainer exited with code {code}: {self.stderr_tail()}")

    def stderr_tail(self, lines: int = 3) -> str:
        self.log.flush()
        try:
            with open(self.log_path, "rb") as f:
                tail = deque((line.decode("utf-8", "replace").strip() for line in f if line.strip()), maxlen=lines)
        except OSError:
            return ""
        return " | ".join(tail) or "(no stderr)"

    def send(self, frame: bytes, timeout_s: float) -> dict:
        def kill():
            self.timed_out = True
            self.proc.kill()

        timer = threading.Timer(max(1.0, timeout_s), kill)
        timer.start()
        try:
            try:
                self.proc.stdin.write(frame)
                self.proc.stdin.flush()
            except (BrokenPipeError, OSError):
                raise self._died() from None
            n_header = struct.unpack("<I", self._read_exact(4))[0]
            header = json.loads(self._read_exact(n_header).decode("utf-8"))
            n_payload = struct.unpack("<I", self._read_exact(4))[0]
            self._read_exact(n_payload)
        finally:
            timer.cancel()
        if "error" in header:
            raise TrainerError(str(header["error"]))
        return header

    def request(self, header: dict, timeout_s: float) -> dict:
        return self.send(encode_frame(header), timeout_s)

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                self.request({"cmd": "shutdown"}, 30)
                self.proc.stdin.close()
                self.proc.wait(timeout=30)
            except (TrainerError, OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait()
        self.log.close()
