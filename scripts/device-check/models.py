"""Random-weight Qwen-shaped GGUF models, written with llama.cpp's own gguf-py (the copy in the
bundled source), with the real Qwen2 tokenizer copied from models/ggml-vocab-qwen2.gguf.

The trainer accepts dense qwen2, qwen3 and llama models (src/trainer/native/lora_state.cpp:
check_supported_architecture); these shapes use qwen2 (biases on q/k/v) and qwen3 (q/k norms,
explicit head dims), the two families the project targets. Weights mirror src/model/tiny.ts:
matrices ~ N(0, 1/n_in), output head ~ N(0, (2/sqrt(hidden))^2), norms ~ N(1, 0.1^2)."""
from __future__ import annotations

import os
import sys
import types
from dataclasses import dataclass

import numpy as np


def import_gguf(gguf_py: str):
    """gguf-py from the bundled source. Its package imports pyyaml (model-card metadata, unused
    here) and, lazily, tqdm and requests; a machine without pyyaml gets an inert stand-in so
    that only numpy is really needed."""
    sys.path.insert(0, gguf_py)
    try:
        import yaml  # noqa: F401
    except ImportError:
        sys.modules["yaml"] = types.ModuleType("yaml")
    import gguf  # noqa: E402

    return gguf


@dataclass(frozen=True)
class Shape:
    arch: str
    layers: int
    hidden: int
    heads: int
    kv_heads: int
    ffn: int
    tied: bool  # the output head is token_embd (no output.weight)
    context: int = 32768


# Real models' shapes (the vocabulary is always Qwen's 151,936 tokens).
SHAPES: dict[str, Shape] = {
    # the test models' "tiny" shape: small enough for the CPU-only flow on 2 shared cores
    "tiny": Shape("qwen2", 2, 64, 4, 2, 128, False, 8192),
    # the CPU-vs-CUDA comparison: every op of a real block, still quick on a CPU
    "small": Shape("qwen2", 4, 256, 8, 2, 768, False, 8192),
    "qwen2.5-0.5b": Shape("qwen2", 24, 896, 14, 2, 4864, True),
    "qwen3-1.7b": Shape("qwen3", 28, 2048, 16, 8, 6144, True),
    "qwen3-4b": Shape("qwen3", 36, 2560, 32, 8, 9728, True),
    "qwen3-8b": Shape("qwen3", 36, 4096, 32, 8, 12288, False),
}

# bigger tensors repeat a prime-length pool of normals from a random offset (rows never line up
# with the pool, and an 8B model is written in seconds instead of minutes of RNG)
POOL_THRESHOLD = 1 << 24
POOL_LENGTH = 16_777_213


_tokenizers: dict[str, dict] = {}


def read_tokenizer(gguf, vocab_file: str) -> dict:
    """tokenizer.* keys of a vocabulary GGUF: key -> (value, type, array item type); read once
    (parsing 151,936 tokens and their merges takes seconds)."""
    if vocab_file not in _tokenizers:
        reader = gguf.GGUFReader(vocab_file)
        _tokenizers[vocab_file] = {
            key: (field.contents(), field.types[0], field.types[1] if field.types[0] == gguf.GGUFValueType.ARRAY else None)
            for key, field in reader.fields.items()
            if key.startswith("tokenizer.") and key != "tokenizer.chat_template"
        }
    return _tokenizers[vocab_file]


def head_dim(s: Shape) -> int:
    return s.hidden // s.heads


def n_params(s: Shape, n_vocab: int) -> int:
    hd = head_dim(s)
    per_layer = s.hidden * (s.heads * hd) * 2 + s.hidden * (s.kv_heads * hd) * 2 + 3 * s.hidden * s.ffn
    return per_layer * s.layers + n_vocab * s.hidden * (1 if s.tied else 2)


def write_model(gguf, path: str, shape_name: str, dtype: str, vocab_file: str, seed: int = 0) -> dict:
    """Writes the model to `path` (via a temporary name, renamed when complete); returns its facts."""
    s = SHAPES[shape_name]
    if dtype not in ("f32", "f16"):
        raise ValueError(f"model type must be f32 or f16, got {dtype}")
    np_type = np.float32 if dtype == "f32" else np.float16
    tokenizer = read_tokenizer(gguf, vocab_file)
    n_vocab = len(tokenizer["tokenizer.ggml.tokens"][0])
    hd = head_dim(s)
    a = s.arch
    tmp = f"{path}.tmp-{os.getpid()}"
    w = gguf.GGUFWriter(tmp, a)
    w.add_string("general.type", "model")
    w.add_string("general.name", f"ttsd-device-check-{shape_name}-{dtype}-seed{seed}")
    w.add_uint32("general.file_type", int(gguf.LlamaFileType.ALL_F32 if dtype == "f32" else gguf.LlamaFileType.MOSTLY_F16))
    w.add_uint32(f"{a}.context_length", s.context)
    w.add_uint32(f"{a}.embedding_length", s.hidden)
    w.add_uint32(f"{a}.block_count", s.layers)
    w.add_uint32(f"{a}.feed_forward_length", s.ffn)
    w.add_uint32(f"{a}.attention.head_count", s.heads)
    w.add_uint32(f"{a}.attention.head_count_kv", s.kv_heads)
    w.add_float32(f"{a}.rope.freq_base", 1e6)
    w.add_float32(f"{a}.attention.layer_norm_rms_epsilon", 1e-6)
    if a == "qwen3":
        w.add_uint32(f"{a}.attention.key_length", hd)
        w.add_uint32(f"{a}.attention.value_length", hd)
    # the tokenizer verbatim, with its value types (the chat template is not needed to train)
    for key, (value, vtype, sub) in tokenizer.items():
        w.add_key_value(key, value, vtype, sub_type=sub)

    rng = np.random.default_rng(seed)
    pool = None

    def normals(n: int, std: float, mean: float = 0.0) -> np.ndarray:
        nonlocal pool
        if n <= POOL_THRESHOLD:
            return rng.standard_normal(n, dtype=np.float32) * np.float32(std) + np.float32(mean)
        if pool is None:
            pool = rng.standard_normal(POOL_LENGTH, dtype=np.float32)
        start = int(rng.integers(POOL_LENGTH))
        data = np.resize(np.concatenate((pool[start:], pool[:start])), n)  # the pool repeated from `start`
        data *= np.float32(std)
        data += np.float32(mean)
        return data

    # (name, numpy shape [n_out, n_in] or [n], std, mean, is_matrix): ggml's ne is the reverse
    specs: list[tuple[str, tuple[int, ...], float, float, bool]] = []
    E, q_dim, kv_dim = s.hidden, s.heads * hd, s.kv_heads * hd
    specs.append(("token_embd.weight", (n_vocab, E), 2 / np.sqrt(E) if s.tied else 0.5, 0.0, True))
    specs.append(("output_norm.weight", (E,), 0.1, 1.0, False))
    if not s.tied:
        specs.append(("output.weight", (n_vocab, E), 2 / np.sqrt(E), 0.0, True))
    for i in range(s.layers):
        p = f"blk.{i}."
        specs.append((p + "attn_norm.weight", (E,), 0.1, 1.0, False))
        specs.append((p + "attn_q.weight", (q_dim, E), 1 / np.sqrt(E), 0.0, True))
        specs.append((p + "attn_k.weight", (kv_dim, E), 1 / np.sqrt(E), 0.0, True))
        specs.append((p + "attn_v.weight", (kv_dim, E), 1 / np.sqrt(E), 0.0, True))
        if a == "qwen2":
            specs.append((p + "attn_q.bias", (q_dim,), 0.1, 0.0, False))
            specs.append((p + "attn_k.bias", (kv_dim,), 0.1, 0.0, False))
            specs.append((p + "attn_v.bias", (kv_dim,), 0.1, 0.0, False))
        if a == "qwen3":
            specs.append((p + "attn_q_norm.weight", (hd,), 0.1, 1.0, False))
            specs.append((p + "attn_k_norm.weight", (hd,), 0.1, 1.0, False))
        specs.append((p + "attn_output.weight", (E, q_dim), 1 / np.sqrt(q_dim), 0.0, True))
        specs.append((p + "ffn_norm.weight", (E,), 0.1, 1.0, False))
        specs.append((p + "ffn_gate.weight", (s.ffn, E), 1 / np.sqrt(E), 0.0, True))
        specs.append((p + "ffn_up.weight", (s.ffn, E), 1 / np.sqrt(E), 0.0, True))
        specs.append((p + "ffn_down.weight", (E, s.ffn), 1 / np.sqrt(s.ffn), 0.0, True))

    def element_type(is_matrix: bool):
        return np_type if is_matrix else np.float32  # 1-D tensors stay F32, as llama.cpp's converters do

    for name, shp, _std, _mean, is_matrix in specs:
        t = np.dtype(element_type(is_matrix))
        w.add_tensor_info(name, shp, t, int(np.prod(shp)) * t.itemsize)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_ti_data_to_file()
    total = 0
    for name, shp, std, mean, is_matrix in specs:
        data = normals(int(np.prod(shp)), std, mean).astype(element_type(is_matrix)).reshape(shp)
        w.write_tensor_data(data)
        total += data.nbytes
    w.close()
    os.replace(tmp, path)
    return {
        "shape": shape_name, "arch": a, "type": dtype, "layers": s.layers, "hidden": s.hidden, "heads": s.heads,
        "kv_heads": s.kv_heads, "ffn": s.ffn, "vocab": n_vocab, "tied_embeddings": s.tied,
        "params": n_params(s, n_vocab), "bytes": os.path.getsize(path),
    }
