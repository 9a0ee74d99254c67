// The trainable state of the ttsd trainer: the student LoRA adapter, the EMA teacher adapter
// (same tensor names), the host-side AdamW moments, and their persistence.
#pragma once

#include <cstdint>
#include <random>
#include <string>
#include <vector>

struct ggml_tensor;
struct llama_adapter_lora;

// "" if the model is a dense architecture the trainer supports, else a one-line reason
std::string check_supported_architecture(const std::string & model_path);

struct fresh_lora_spec {
    std::vector<std::string> targets; // e.g. attn_q, ffn_down: every blk.N.<target>.weight gets a pair
    int rank = 16;
    float alpha = 32.0f;
};

// LoRA GGUF in llama.cpp's layout (lora_a ne = [n_in, r], lora_b ne = [r, n_out]):
// A ~ U(-1/sqrt(n_in), 1/sqrt(n_in)) from rng (as PEFT's kaiming init), B = 0 so the adapter starts as a no-op.
// Throws std::runtime_error with a one-line message.
void write_fresh_lora(const std::string & model_path, const fresh_lora_spec & spec, std::mt19937_64 & rng,
                      const std::string & out_path);

// One trainable tensor (an A or a B of one projection) with its teacher twin and AdamW moments.
struct lora_param {
    std::string name;
    ggml_tensor * student = nullptr;
    ggml_tensor * teacher = nullptr;
    std::vector<float> m, v;
};

// Pairs the student's and the teacher's tensors by name, sorted by name (a stable order for saved state).
std::vector<lora_param> collect_params(const llama_adapter_lora & student, const llama_adapter_lora & teacher);

std::vector<float> tensor_to_host(const ggml_tensor * t);
void host_to_tensor(ggml_tensor * t, const std::vector<float> & data);

// AdamW moments + counters in one binary file; load checks names and sizes against params.
void save_moments(const std::string & path, const std::vector<lora_param> & params);
void load_moments(const std::string & path, std::vector<lora_param> & params);
