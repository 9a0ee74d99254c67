// The SDPO trainer proper: base model + student/teacher LoRA adapters, one optimizer step per
// batch of rollouts (docs/sdpo.md), state save/resume, and the speed benchmark.
#pragma once

#include "lora_state.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <functional>
#include <map>
#include <random>
#include <string>
#include <vector>

struct llama_model;
struct llama_context;
struct llama_adapter_lora;

enum class divergence_kind { reverse_kl, forward_kl, jsd, sampled_token };
enum class teacher_kind { ema, trust_region, frozen, live };
// distill: a divergence to a teacher's distribution (SDPO, OPD); policy_gradient / cross_entropy: weighted
// log-likelihood terms of the sampled tokens only (GRPO, SSD), with no teacher and no teacher scoring pass
enum class loss_kind { distill, policy_gradient, cross_entropy };
enum class optimizer_kind { adamw, sgd };

struct trainer_config {
    std::string model;
    std::string state_dir;
    std::vector<std::string> targets;
    int rank = 16;
    float alpha = 32.0f;
    float lr = 1e-4f;
    float weight_decay = 0.0f;
    float grad_clip = 1.0f;        // <= 0: off
    divergence_kind divergence = divergence_kind::reverse_kl;
    float jsd_alpha = 0.5f;
    int top_k = 20;
    loss_kind loss = loss_kind::distill;
    teacher_kind teacher = teacher_kind::ema;
    std::string teacher_model;     // "" = the teacher is the student's base model (+ adapter by `teacher`); else a second GGUF
    float ema = 0.01f;
    float pg_clip = 0.2f;          // PPO clip epsilon of policy_gradient
    float is_clip = 0.0f;          // <= 0: off; else token weight min(pi_theta(y_t) / pi_old(y_t), is_clip)
    int threads = 2;
    uint64_t seed = 0;
    optimizer_kind optimizer = optimizer_kind::adamw;
    std::string init_adapter;      // "" = fresh adapter (A random, B = 0)
    int max_tokens = 2048;         // longest prompt + response the trainer accepts
    bool transposed_weights = true; // faster backward for ~the base model's size in memory (ggml_opt_set_transposed_weights)
    // how training graphs attend (attention: 'blocked' | 'fused' | 'plain'): blocked = query blocks over the
    // causal key prefix from standard ggml ops (every backend), its backward recomputing each block's softmax
    // (memory O(n x block)); fused = CPU custom ops keeping one log-sum-exp per row (O(n)); plain = the
    // n_tokens^2 x n_head softmax of every layer kept for the backward. Fused is CPU-only: with layers on a GPU
    // the trainer attends blocked instead.
    bool attn_fused = false;
    bool attn_blocked = true;
    int attn_block_rows = 0;       // blocked: query rows per block (0 = automatic, <= 64 MiB of scores per block)
    int head_block_rows = 256;     // rows of logits held at a time (output projection, log-softmax, top-K, loss, dL/dH)
    bool measure_kl_after = false; // one more student pass after the update for klAfter (NaN when off)
    std::string device = "cpu"; // cpu | cuda | vulkan (main.cpp checks that this build has it)
    int gpu_layers = 0; // layers offloaded to the device (-1 = all): only with device cuda / vulkan
};

trainer_config parse_config(const nlohmann::json & j);

struct train_example {
    std::vector<int32_t> student_prompt, teacher_prompt, response;
    bool masked = false;
    std::vector<float> behavior_logp; // log pi_old(y_t) from the sampler, one per response token; empty = unknown (ratio 1)
    bool has_advantage = false;
    double advantage = 1.0;           // A_i: policy_gradient's advantage, cross_entropy's weight (default 1)
    std::vector<float> token_weights; // per-token A_t overriding `advantage`; empty = none
};

struct step_result {
    int64_t step = 0;
    double loss = 0, kl_before = 0, kl_after = 0, grad_norm = 0;
    int64_t tokens = 0;
    double ms = 0;
    bool skipped = false;
    std::string adapter_path;
    nlohmann::json cpu_ops = nlohmann::json::array(); // "OP×n" / "head OP×n": see sdpo_trainer::cpu_ops
    double is_weight_mean = 1.0;    // mean importance weight over the batch's unmasked response tokens
    double is_clipped = 0.0;        // fraction of those tokens whose ratio was clipped
    // forward passes of the student's body (training graph evaluations) in this step: one per unmasked rollout, whose
    // forward and backward run in one evaluation on every backend, + the trust region's pass at the teacher prompt
    // and measureKlAfter's pass after the update
    int64_t forwards = 0;
};

// per response position: the student's top-k ids and log-probs, the teacher's at the same ids, both tails
// (sizes are rows * k: nothing here is vocabulary-sized)
struct scored_rows {
    int k = 0;
    std::vector<int32_t> ids;       // [rows*k]
    std::vector<float> student_logp; // [rows*k]
    std::vector<float> teacher_logq; // [rows*k]
    std::vector<float> teacher_tail; // [rows] log(1 - sum q), clamped
    std::vector<float> sampled_logq; // [rows] teacher log-prob of the response token (sampled-token estimator)
    std::vector<float> sampled_logp; // [rows] student log-prob of the response token (importance weight)
};

class sdpo_trainer {
public:
    explicit sdpo_trainer(const trainer_config & cfg);
    ~sdpo_trainer();
    sdpo_trainer(const sdpo_trainer &) = delete;
    sdpo_trainer & operator=(const sdpo_trainer &) = delete;

    step_result step(const std::vector<train_example> & batch);
    void save();
    nlohmann::json info() const;
    nlohmann::json bench(int n_tokens);

private:
    trainer_config cfg;
    llama_model * model = nullptr;
    llama_model * teacher_model = nullptr; // the second GGUF of teacherModel (no adapter), else null
    llama_context * student_ctx = nullptr; // training context (student adapter, gradients)
    // inference context of the distill teacher: ema / trust_region: the teacher adapter; frozen: no adapter (on the
    // base model or teacher_model); live: the student's own adapter (read before the update: stop-gradient)
    llama_context * teacher_ctx = nullptr;
    llama_adapter_lora * student = nullptr;
    llama_adapter_lora * teacher = nullptr;
    std::vector<lora_param> params;
    int32_t n_vocab = 0;
    int64_t step_count = 0;  // optimizer steps taken (incl. skipped ones)
    int64_t adam_t = 0;      // updates applied (AdamW bias correction)
    std::mt19937_64 rng;
    bool resumed = false;

    void load_adapters();
    void write_state_json(const std::string & path) const;

    struct ggml_tensor * w_out = nullptr;  // output projection [n_embd, n_vocab] (frozen)
    struct ggml_tensor * w_out_t = nullptr; // its transposed copy (transposedWeights), owned by the training context
    struct ggml_backend * head_backend = nullptr; // CPU backend: runs the head when W_out is in host memory
    // W_out on a device (the output layer offloaded): the head's matmuls run there, through a scheduler over that
    // device's backend + the CPU one, which also says where it put each node (cpu_ops_head)
    struct ggml_backend * head_device = nullptr;
    struct ggml_backend_sched * head_sched = nullptr;
    // nodes the schedulers placed on the CPU while the model is on a device, by op: the most in any one graph of the
    // current step / bench (training graphs and head graphs apart); always empty on the CPU device
    std::map<std::string, int32_t> cpu_ops_train, cpu_ops_head;
    void note_train_placement();
    nlohmann::json cpu_ops() const;
    void head_graph(struct ggml_context * ctx, struct ggml_tensor * in, const float * in_data, struct ggml_tensor * out, float * out_data);
    int32_t n_embd = 0;
    std::vector<float> block_logits, block_mixed; // [head_block_rows * n_vocab] each: the only vocabulary-sized buffers

    // The head over one block of rows, on behalf of one example (docs in sdpo_step.cpp).
    struct head_job {
        const train_example * ex = nullptr;
        scored_rows * s = nullptr;
        const float * h = nullptr;          // student hidden states [rows * n_embd] (student prompt), while the head runs
        const float * h_teacher = nullptr;  // trust region: student hidden states at the teacher prompt
        double row_weight = 0;              // 1 / |y| / batch size
        bool score = true;                  // take top-K ids and teacher values (else reuse those in s)
        bool grad = false;                  // accumulate dL/dH into g
        float * g = nullptr;                // dL/dH [rows * n_embd], while the head runs
        double loss = 0, weight_sum = 0;
        int64_t clipped = 0;
    };
    void head_block(head_job & job, int row0, int n, const float * teacher_logits);
    void head_logits(const float * h, int n, float * logits);
    void head_input_grad(const float * dz, int n, float * dh);

    // final hidden states at the response rows (no gradient)
    std::vector<float> body_hidden(const std::vector<int32_t> & prompt, const std::vector<int32_t> & response);
    int64_t body_forwards = 0; // training graph evaluations (each one forward of the body) since the step began
    // forward, `head` (job.h -> job.g) and backward in one evaluation of the training graph
    void body_train(const train_example & ex, head_job & job, const std::function<void()> & head);
    // `head` over the student's H: inside the training evaluation when job.grad, else after a no-grad pass
    void run_head(const train_example & ex, head_job & job, const std::function<void()> & head);

    // log-softmax rows of `ctx` over tokens, blocks of at most `block` response rows: logits [n * n_vocab]
    void score_rows(llama_context * ctx, const std::vector<int32_t> & prompt, const std::vector<int32_t> & response, int block,
                    const std::function<void(int row0, int n, const float * logits)> & on_block);
    // scores one example and (with grad) accumulates its gradient; returns the job's totals
    head_job example_pass(const train_example & ex, scored_rows & s, double row_weight, bool grad);
    double kl_after_update(const train_example & ex, const scored_rows & s);
    double importance_weight(const train_example & ex, int row, float sampled_logp, int64_t & clipped) const;
    void check_teacher_vocab() const;
    void reserve_blocks();
    // reads and clears the accumulated gradient; returns its global L2 norm (NaN/inf if non-finite)
    double take_gradient(std::vector<std::vector<float>> & grads);
    void apply_update(std::vector<std::vector<float>> & grads, double grad_norm);
    void update_teacher();
    std::string adapter_path(int64_t step) const;
};
