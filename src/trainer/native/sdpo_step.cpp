#include "sdpo_step.h"

#include "ggml.h"
#include "ggml-backend.h"
#include "ggml-cpu.h"
#include "ggml-opt.h"
#include "llama.h"
#include "llama-adapter.h"

#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <queue>
#include <sstream>
#include <stdexcept>
#include <exception>
#include <thread>

namespace fs = std::filesystem;

namespace {

// The tail bucket floor, as in the loss graph (eps + relu(1 - eps - sum p)) and the paper's clamp.
constexpr double tail_eps = 1e-7;

double now_ms() {
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

double peak_rss_mb() {
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss / 1024.0; // ru_maxrss is in KiB on Linux
}

// exp(x) for x <= 0 in plain float arithmetic that the compiler vectorises (2^f by a degree-6 polynomial,
// relative error ~2e-7): the host computes a full-vocabulary log-sum-exp for every scored position, and
// libm's scalar exp made that cost as much as the model's output layer
inline float exp_nonpositive(float x) {
    const float t = std::max(x, -87.0f) * 1.4426950408889634f;
    const float fi = std::floor(t);
    const float f = t - fi;
    float p = 1.535336188319500e-4f;
    p = p * f + 1.339887440266574e-3f;
    p = p * f + 9.618437357674640e-3f;
    p = p * f + 5.550332471162809e-2f;
    p = p * f + 2.402264791363012e-1f;
    p = p * f + 6.931472028550421e-1f;
    p = p * f + 1.0f;
    int32_t bits;
    std::memcpy(&bits, &p, sizeof(bits));
    bits += (int32_t) fi * (1 << 23);
    std::memcpy(&p, &bits, sizeof(p));
    return p;
}

// log-sum-exp of one logits row: float lanes over blocks of 4096 values, blocks summed in double
double log_sum_exp(const float * logits, int32_t n) {
    float mx = -INFINITY;
    for (int32_t v = 0; v < n; ++v) mx = std::max(mx, logits[v]);
    constexpr int lanes = 64, block = 4096;
    double s = 0.0;
    int32_t v = 0;
    for (; v + block <= n; v += block) {
        float part[lanes] = {0};
        for (int32_t b = 0; b < block; b += lanes) {
            for (int l = 0; l < lanes; ++l) part[l] += exp_nonpositive(logits[v + b + l] - mx);
        }
        for (int l = 0; l < lanes; ++l) s += part[l];
    }
    for (; v < n; ++v) s += std::exp((double) logits[v] - mx);
    return mx + std::log(s);
}

// ids of the k largest logits, largest first (ties: smaller id first); ids are unique by construction
std::vector<int32_t> top_k_ids(const float * logits, int32_t n, int k) {
    auto worse = [&](int32_t a, int32_t b) { return logits[a] > logits[b] || (logits[a] == logits[b] && a < b); };
    std::priority_queue<int32_t, std::vector<int32_t>, decltype(worse)> heap(worse); // top = weakest kept
    for (int32_t v = 0; v < n; ++v) {
        if ((int) heap.size() < k) {
            heap.push(v);
        } else if (worse(v, heap.top())) {
            heap.pop();
            heap.push(v);
        }
    }
    std::vector<int32_t> out;
    while (!heap.empty()) { out.push_back(heap.top()); heap.pop(); }
    std::reverse(out.begin(), out.end());
    return out;
}

// log(1 - sum exp(logq)) on the host: in f32 inside the graph this is too weak when sum q ~ 1
float teacher_tail(const float * logq, int k) {
    double sq = 0.0;
    for (int a = 0; a < k; ++a) sq += std::exp((double) logq[a]);
    return (float) (sq < 1.0 - tail_eps ? std::log1p(-sq) : std::log(tail_eps));
}

// the teacher's values of one logits row at the student's ids: log q at each id, the tail bucket and log q(y); the
// step's head and the bench's teacher scoring share it, so the bench times the step's host work
void teacher_row(const float * tr, int32_t n_vocab, const int32_t * ids, int k, int32_t y, float * logq, float & tail, float & logq_y) {
    const double lse_t = log_sum_exp(tr, n_vocab);
    for (int a = 0; a < k; ++a) logq[a] = (float) (tr[ids[a]] - lse_t);
    tail = teacher_tail(logq, k);
    logq_y = (float) (tr[y] - lse_t);
}

// fn(r, t) for rows r in [0, n), split among `threads` threads t in fixed contiguous ranges (deterministic for a
// thread count); rows must be independent
template <class F> void for_rows(int threads, int n, F && fn) {
    const int nt = std::max(1, std::min(threads, n));
    auto work = [&](int t) { for (int r = n * t / nt; r < n * (t + 1) / nt; ++r) fn(r, t); };
    std::vector<std::thread> workers;
    for (int t = 1; t < nt; ++t) workers.emplace_back(work, t);
    work(0);
    for (auto & w : workers) w.join();
}

// reverse KL(p || q) of one row over the top-k ids + the tail bucket (the loss graph's definition)
double reverse_kl_row(const float * logp, const float * logq, float logq_tail, int k) {
    double sp = 0.0, kl = 0.0;
    for (int a = 0; a < k; ++a) {
        const double p = std::exp((double) logp[a]);
        sp += p;
        kl += p * ((double) logp[a] - logq[a]);
    }
    const double pt = tail_eps + std::max(0.0, 1.0 - tail_eps - sp);
    return kl + pt * (std::log(pt) - logq_tail);
}

bool lora_only_filter(const ggml_tensor * t, void *) {
    const size_t n = strlen(t->name);
    return n > 7 && (strcmp(t->name + n - 7, ".lora_a") == 0 || strcmp(t->name + n - 7, ".lora_b") == 0);
}

ggml_opt_optimizer_params unused_opt_pars(void *) {
    // the optimizer runs on the host (grad_only); ggml-opt never builds its own optimizer graph
    return ggml_opt_get_default_optimizer_params(nullptr);
}

} // namespace

trainer_config parse_config(const nlohmann::json & j) {
    trainer_config c;
    c.model = j.at("model").get<std::string>();
    c.state_dir = j.at("stateDir").get<std::string>();
    c.targets = j.at("loraTargets").get<std::vector<std::string>>();
    c.rank = j.at("loraRank").get<int>();
    c.alpha = j.at("loraAlpha").get<float>();
    c.lr = j.at("lr").get<float>();
    c.weight_decay = j.at("weightDecay").get<float>();
    c.grad_clip = j.at("gradClip").get<float>();
    const std::string div = j.at("divergence").get<std::string>();
    if (div == "reverse_kl") c.divergence = divergence_kind::reverse_kl;
    else if (div == "forward_kl") c.divergence = divergence_kind::forward_kl;
    else if (div == "jsd") c.divergence = divergence_kind::jsd;
    else if (div == "sampled_token") c.divergence = divergence_kind::sampled_token;
    else throw std::runtime_error("unknown divergence " + div);
    c.jsd_alpha = j.at("jsdAlpha").get<float>();
    c.top_k = j.at("topK").get<int>();
    const std::string loss = j.value("loss", std::string("distill"));
    if (loss == "distill") c.loss = loss_kind::distill;
    else if (loss == "policy_gradient") c.loss = loss_kind::policy_gradient;
    else if (loss == "cross_entropy") c.loss = loss_kind::cross_entropy;
    else throw std::runtime_error("unknown loss " + loss + " (distill, policy_gradient or cross_entropy)");
    const std::string teacher = j.at("teacher").get<std::string>();
    if (teacher == "ema") c.teacher = teacher_kind::ema;
    else if (teacher == "trust_region") c.teacher = teacher_kind::trust_region;
    else if (teacher == "frozen") c.teacher = teacher_kind::frozen;
    else if (teacher == "live") c.teacher = teacher_kind::live;
    else throw std::runtime_error("unknown teacher " + teacher + " (ema, trust_region, frozen or live)");
    c.teacher_model = j.value("teacherModel", std::string());
    c.ema = j.at("ema").get<float>();
    c.pg_clip = j.value("pgClip", 0.2f);
    c.is_clip = j.value("isClip", 0.0f);
    c.threads = j.at("threads").get<int>();
    c.seed = j.at("seed").get<uint64_t>();
    c.optimizer = j.value("optimizer", std::string("adamw")) == "sgd" ? optimizer_kind::sgd : optimizer_kind::adamw;
    c.init_adapter = j.value("initAdapter", std::string());
    c.max_tokens = j.value("maxTokens", 2048);
    c.transposed_weights = j.value("transposedWeights", true);
    const std::string attention = j.value("attention", std::string("blocked"));
    if (attention != "blocked" && attention != "fused" && attention != "plain") {
        throw std::runtime_error("unknown attention " + attention + " (blocked, fused or plain)");
    }
    c.attn_fused = attention == "fused";
    c.attn_blocked = attention == "blocked";
    c.attn_block_rows = j.value("attentionBlockRows", 0);
    if (c.attn_block_rows < 0) throw std::runtime_error("attentionBlockRows must be >= 0 (0 = automatic)");
    c.head_block_rows = j.value("headBlockRows", 256);
    c.measure_kl_after = j.value("measureKlAfter", false);
    c.device = j.value("device", std::string("cpu"));
    c.gpu_layers = c.device != "cpu" ? j.value("gpuLayers", 0) : 0;
    if (c.attn_fused && c.device != "cpu") {
        // the fused attention's custom ops have only CPU kernels: on a GPU device they would run on the CPU between
        // device nodes (and under ggml-vulkan's scheduler they corrupted the heap at 128+ tokens); 'blocked' is made
        // of standard ops that every backend runs, with the same O(n) memory
        throw std::runtime_error("attention fused is a CPU kernel: on device " + c.device + " use blocked (the default) or plain");
    }
    if (c.rank < 1 || c.top_k < 1 || c.threads < 1 || c.max_tokens < 8 || c.head_block_rows < 1) {
        throw std::runtime_error("invalid trainer config");
    }
    if (c.divergence == divergence_kind::jsd && !(c.jsd_alpha > 0.0f && c.jsd_alpha < 1.0f)) {
        throw std::runtime_error("jsdAlpha must be in (0, 1)");
    }
    // settings that would be silently ignored are refused: a loss without a teacher has no use for one
    if (c.loss != loss_kind::distill && !c.teacher_model.empty()) {
        throw std::runtime_error("teacherModel needs loss distill (policy_gradient and cross_entropy have no teacher)");
    }
    if (c.loss != loss_kind::distill && c.is_clip > 0) {
        throw std::runtime_error("isClip weights the distill loss only (policy_gradient clips its own ratio with pgClip)");
    }
    if (!c.teacher_model.empty() && c.teacher != teacher_kind::frozen) {
        throw std::runtime_error("teacherModel is scored as it is, without an adapter: it needs teacher frozen");
    }
    if (!(c.pg_clip > 0.0f && c.pg_clip < 1.0f)) throw std::runtime_error("pgClip must be in (0, 1)");
    return c;
}

sdpo_trainer::sdpo_trainer(const trainer_config & c) : cfg(c), rng(c.seed) {
    const std::string why = check_supported_architecture(cfg.model);
    if (!why.empty()) throw std::invalid_argument(why);

    llama_model_params mp = llama_model_default_params();
    mp.n_gpu_layers = cfg.gpu_layers; // 0 on the CPU; -1 (all) or N with device cuda / vulkan
    // device cpu: no GPU device at all, also in a GPU build (its scheduler would otherwise hold the GPU backend too)
    static ggml_backend_dev_t no_devices[] = { nullptr };
    if (cfg.device == "cpu") mp.devices = no_devices;
    mp.load_mode = LLAMA_LOAD_MODE_MMAP;
    mp.use_extra_bufts = false; // repacked CPU weights have no OUT_PROD: the backward pass would abort
    model = llama_model_load_from_file(cfg.model.c_str(), mp);
    if (!model) throw std::invalid_argument("cannot load model " + cfg.model);
    n_vocab = llama_vocab_n_tokens(llama_model_get_vocab(model));
    n_embd = llama_model_n_embd(model);
    w_out = llama_model_output_weight(model);
    if (!w_out || w_out->ne[0] != n_embd || w_out->ne[1] != n_vocab) {
        throw std::invalid_argument("unsupported output layer (bias or scale on the output projection)");
    }

    // llama pads n_ctx to a multiple of 256 and opt_init needs n_ctx % n_batch == 0: use the padded size for both
    const uint32_t n_train = (uint32_t) ((cfg.max_tokens + 255) / 256 * 256);
    llama_context_params cp = llama_context_default_params();
    cp.n_ctx = n_train;
    cp.n_batch = n_train;  // a training sequence must be one ubatch
    cp.n_ubatch = n_train;
    cp.n_seq_max = 1;
    cp.n_threads = cfg.threads;
    cp.n_threads_batch = cfg.threads;
    cp.flash_attn_type = LLAMA_FLASH_ATTN_TYPE_DISABLED; // FLASH_ATTN_EXT has no backward pass
    // F32 KV cache: the teacher's log-probs and the student's top-K scoring then match the training graph
    // (which attends to F32 K/V directly); the default F16 cache made the teacher values ~1e-4 off
    cp.type_k = GGML_TYPE_F32;
    cp.type_v = GGML_TYPE_F32;
    cp.no_perf = true;
    // the training context never returns logits (its graphs end at the final hidden state): one output row bounds
    // its worst-case graph reservation and its logits buffer, which would otherwise be n_train x n_vocab
    cp.n_outputs_max = 1;
    student_ctx = llama_init_from_model(model, cp);
    if (!cfg.teacher_model.empty()) {
        teacher_model = llama_model_load_from_file(cfg.teacher_model.c_str(), mp);
        if (!teacher_model) throw std::invalid_argument("cannot load teacherModel " + cfg.teacher_model);
        check_teacher_vocab();
    }
    cp.n_outputs_max = 0;
    cp.n_batch = std::min<uint32_t>(n_train, 512);
    cp.n_ubatch = cp.n_batch;
    // policy_gradient / cross_entropy score no teacher: no teacher context (its KV cache and logits buffer) at all
    if (cfg.loss == loss_kind::distill) teacher_ctx = llama_init_from_model(teacher_model ? teacher_model : model, cp);
    if (!student_ctx || (cfg.loss == loss_kind::distill && !teacher_ctx)) {
        throw std::invalid_argument("cannot create llama contexts (out of memory?)");
    }

    load_adapters();
    float scale = 1.0f;
    llama_set_adapters_lora(student_ctx, &student, 1, &scale);
    if (teacher_ctx) {
        // the teacher's weights by kind; frozen (and any teacherModel) scores without an adapter
        if (cfg.teacher == teacher_kind::ema || cfg.teacher == teacher_kind::trust_region) {
            llama_set_adapters_lora(teacher_ctx, &teacher, 1, &scale);
        } else if (cfg.teacher == teacher_kind::live) {
            // the student's own tensors: every scoring pass of a step runs before its update, so this is the student
            // before the step; nothing flows back (an inference context has no gradients)
            llama_set_adapters_lora(teacher_ctx, &student, 1, &scale);
        }
    }

    llama_opt_params op = {};
    op.n_ctx_train = 0;
    op.param_filter = lora_only_filter;
    op.get_opt_pars = unused_opt_pars;
    op.optimizer_type = GGML_OPT_OPTIMIZER_TYPE_ADAMW;
    op.grad_only = true;
    op.transposed_weights = cfg.transposed_weights;
    op.attn_fused = cfg.attn_fused;
    op.attn_blocked = cfg.attn_blocked;
    op.attn_block_rows = cfg.attn_block_rows;
    llama_opt_init(student_ctx, model, op);

    params = collect_params(*student, *teacher);
    if (resumed) load_moments((fs::path(cfg.state_dir) / "state" / "moments.bin").string(), params);

    head_backend = ggml_backend_cpu_init();
    if (!head_backend) throw std::runtime_error("cannot create the CPU backend");
    ggml_backend_cpu_set_n_threads(head_backend, cfg.threads);
    if (w_out->buffer && !ggml_backend_buffer_is_host(w_out->buffer)) {
        // the output layer is on a device: its matmuls (and those over its transposed copy, made there too) run there
        ggml_backend_dev_t dev = ggml_backend_buft_get_device(ggml_backend_buffer_get_type(w_out->buffer));
        head_device = dev ? ggml_backend_dev_init(dev, nullptr) : nullptr;
        if (!head_device) throw std::runtime_error("cannot create a backend for the output layer's device");
        ggml_backend_t backends[2] = { head_device, head_backend };
        head_sched = ggml_backend_sched_new(backends, nullptr, 2, GGML_DEFAULT_GRAPH_SIZE, false, false);
        if (!head_sched) throw std::runtime_error("cannot create the head's scheduler");
    }
}

sdpo_trainer::~sdpo_trainer() {
    if (head_sched) ggml_backend_sched_free(head_sched);
    if (head_device) ggml_backend_free(head_device);
    if (head_backend) ggml_backend_free(head_backend);
    if (student_ctx) llama_free(student_ctx);
    if (teacher_ctx) llama_free(teacher_ctx);
    if (teacher_model) llama_model_free(teacher_model);
    if (model) llama_model_free(model); // frees the adapters too
}

// The teacher model's distribution is read at the student's token ids: both must number the same tokens the same
// way. Checked once, token by token (text and count), so that a different tokenizer is refused at init.
void sdpo_trainer::check_teacher_vocab() const {
    const llama_vocab * vs = llama_model_get_vocab(model);
    const llama_vocab * vt = llama_model_get_vocab(teacher_model);
    const int32_t ns = llama_vocab_n_tokens(vs), nt = llama_vocab_n_tokens(vt);
    const std::string what = "teacherModel " + cfg.teacher_model + " does not share the student's vocabulary: ";
    if (ns != nt) throw std::invalid_argument(what + std::to_string(nt) + " tokens vs the student's " + std::to_string(ns));
    for (int32_t id = 0; id < ns; ++id) {
        const char * a = llama_vocab_get_text(vs, id);
        const char * b = llama_vocab_get_text(vt, id);
        if (std::strcmp(a ? a : "", b ? b : "") != 0) {
            throw std::invalid_argument(what + "token " + std::to_string(id) + " differs");
        }
    }
}

std::string sdpo_trainer::adapter_path(int64_t step) const {
    char name[64];
    snprintf(name, sizeof(name), "adapter-%06lld.gguf", (long long) step);
    return (fs::path(cfg.state_dir) / name).string();
}

void sdpo_trainer::load_adapters() {
    fs::create_directories(cfg.state_dir);
    const fs::path state = fs::path(cfg.state_dir) / "state";
    std::string student_src, teacher_src;
    if (fs::exists(state / "state.json")) {
        std::ifstream f(state / "state.json");
        const nlohmann::json j = nlohmann::json::parse(f);
        step_count = j.at("step").get<int64_t>();
        adam_t = j.at("adamT").get<int64_t>();
        std::istringstream rs(j.at("rng").get<std::string>());
        rs >> rng;
        student_src = (state / "student.gguf").string();
        teacher_src = (state / "teacher.gguf").string();
        resumed = true;
    } else if (!cfg.init_adapter.empty()) {
        student_src = teacher_src = cfg.init_adapter;
    } else {
        fresh_lora_spec spec{ cfg.targets, cfg.rank, cfg.alpha };
        student_src = teacher_src = adapter_path(0);
        write_fresh_lora(cfg.model, spec, rng, student_src);
    }
    // two separate loads: the teacher owns its own copy of the tensors (EMA) from the same starting point
    student = llama_adapter_lora_init(model, student_src.c_str());
    teacher = llama_adapter_lora_init(model, teacher_src.c_str());
    if (!student || !teacher) throw std::invalid_argument("cannot load LoRA adapter " + student_src);
}

void sdpo_trainer::score_rows(llama_context * ctx, const std::vector<int32_t> & prompt,
                              const std::vector<int32_t> & response, int block,
                              const std::function<void(int row0, int n, const float * logits)> & on_block) {
    // row j = the distribution at position P-1+j, which predicts response[j]
    std::vector<int32_t> tokens(prompt);
    tokens.insert(tokens.end(), response.begin(), response.end() - 1);
    const int32_t n = (int32_t) tokens.size();
    const int32_t first_row = (int32_t) prompt.size() - 1;
    const int32_t n_batch = (int32_t) llama_n_batch(ctx);
    const int32_t rows_per_chunk = std::max(1, std::min(n_batch, block));
    llama_memory_clear(llama_get_memory(ctx), true);
    llama_batch batch = llama_batch_init(n_batch, 0, 1);
    int32_t pos = 0;
    while (pos < n) {
        // positions before the first row need no logits; rows come in blocks to bound the logits buffer
        const int32_t end = pos < first_row ? std::min(first_row, pos + n_batch) : std::min(n, pos + rows_per_chunk);
        batch.n_tokens = end - pos;
        for (int32_t i = 0; i < batch.n_tokens; ++i) {
            batch.token[i] = tokens[pos + i];
            batch.pos[i] = pos + i;
            batch.n_seq_id[i] = 1;
            batch.seq_id[i][0] = 0;
            batch.logits[i] = pos + i >= first_row;
        }
        if (llama_decode(ctx, batch) != 0) {
            llama_batch_free(batch);
            throw std::runtime_error("llama_decode failed while scoring");
        }
        if (pos >= first_row) {
            // a chunk is all outputs or none: its logits are batch.n_tokens contiguous rows
            const float * logits = llama_get_logits_ith(ctx, 0);
            if (batch.n_tokens > 1 && llama_get_logits_ith(ctx, batch.n_tokens - 1) != logits + (size_t) (batch.n_tokens - 1) * n_vocab) {
                llama_batch_free(batch);
                throw std::runtime_error("logits rows are not contiguous");
            }
            on_block(pos - first_row, batch.n_tokens, logits);
        }
        pos = end;
    }
    llama_batch_free(batch);
    llama_memory_clear(llama_get_memory(ctx), true);
}

namespace {

// a graph over caller-owned host buffers, run on the CPU backend
struct host_graph {
    ggml_context * ctx;
    explicit host_graph(size_t n_tensors) {
        ggml_init_params ip = { n_tensors * ggml_tensor_overhead() + ggml_graph_overhead(), nullptr, true };
        ctx = ggml_init(ip);
        if (!ctx) throw std::runtime_error("ggml_init failed");
    }
    ~host_graph() { ggml_free(ctx); }
    ggml_tensor * f32(int64_t ne0, int64_t ne1, const float * data) {
        ggml_tensor * t = ggml_new_tensor_2d(ctx, GGML_TYPE_F32, ne0, ne1);
        t->data = const_cast<float *>(data);
        return t;
    }
    void run(ggml_backend_t backend, ggml_tensor * out, float * out_data) {
        out->data = out_data;
        ggml_cgraph * g = ggml_new_graph(ctx);
        ggml_build_forward_expand(g, out);
        if (ggml_backend_graph_compute(backend, g) != GGML_STATUS_SUCCESS) throw std::runtime_error("head graph failed");
    }
};

} // namespace

namespace {

bool computes(const ggml_tensor * node) {
    switch (node->op) {
        case GGML_OP_NONE: case GGML_OP_VIEW: case GGML_OP_RESHAPE: case GGML_OP_PERMUTE: case GGML_OP_TRANSPOSE: return false;
        default: return true;
    }
}

void keep_max(std::map<std::string, int32_t> & into, const std::string & op, int32_t n) {
    int32_t & cur = into[op];
    cur = std::max(cur, n);
}

} // namespace

// One head graph on the output layer's device: `in` (host data in_data) -> `out` (read into out_data). Per block of
// rows the device receives H (n x n_embd floats) or dL/dZ (n x n_vocab) and returns logits (n x n_vocab) or dL/dH
// (n x n_embd): the log-softmax, top-K, teacher values and loss stay on the host in f64. The scheduler assigns each
// node a backend when it allocates the graph; nodes it put on the CPU are counted into cpu_ops_head.
void sdpo_trainer::head_graph(ggml_context * ctx, ggml_tensor * in, const float * in_data, ggml_tensor * out, float * out_data) {
    ggml_set_input(in);
    ggml_set_output(out);
    ggml_cgraph * g = ggml_new_graph(ctx);
    ggml_build_forward_expand(g, out);
    ggml_backend_sched_reset(head_sched);
    if (!ggml_backend_sched_alloc_graph(head_sched, g)) throw std::runtime_error("cannot allocate the head graph on the device");
    std::map<std::string, int32_t> here;
    for (int i = 0; i < ggml_graph_n_nodes(g); ++i) {
        ggml_tensor * node = ggml_graph_node(g, i);
        ggml_backend_t b = ggml_backend_sched_get_tensor_backend(head_sched, node);
        if (computes(node) && b && ggml_backend_dev_type(ggml_backend_get_device(b)) == GGML_BACKEND_DEVICE_TYPE_CPU) here[ggml_op_desc(node)]++;
    }
    for (const auto & it : here) keep_max(cpu_ops_head, it.first, it.second);
    ggml_backend_tensor_set(in, in_data, 0, ggml_nbytes(in));
    if (ggml_backend_sched_graph_compute(head_sched, g) != GGML_STATUS_SUCCESS) throw std::runtime_error("head graph failed on the device");
    ggml_backend_tensor_get(out, out_data, 0, ggml_nbytes(out));
}

// logits [n * n_vocab] of n rows of H [n * n_embd]: W_out as the model's forward pass applies it
void sdpo_trainer::head_logits(const float * h, int n, float * logits) {
    host_graph hg(4);
    if (head_sched) {
        ggml_tensor * hb = ggml_new_tensor_2d(hg.ctx, GGML_TYPE_F32, n_embd, n);
        head_graph(hg.ctx, hb, h, ggml_mul_mat(hg.ctx, w_out, hb), logits);
        return;
    }
    ggml_tensor * hb = hg.f32(n_embd, n, h);
    hg.run(head_backend, ggml_mul_mat(hg.ctx, w_out, hb), logits);
}

// dH [n * n_embd] = dZ [n * n_vocab] through W_out^T: mul_mat over the transposed copy (transposedWeights), else
// OUT_PROD as ggml's own backward of mul_mat computes it
void sdpo_trainer::head_input_grad(const float * dz, int n, float * dh) {
    host_graph hg(6);
    if (head_sched) {
        ggml_tensor * dzb = ggml_new_tensor_2d(hg.ctx, GGML_TYPE_F32, n_vocab, n);
        if (cfg.transposed_weights && !w_out_t) w_out_t = llama_opt_transposed_weight(student_ctx, w_out);
        ggml_tensor * out = cfg.transposed_weights ? ggml_mul_mat(hg.ctx, w_out_t, dzb) : ggml_out_prod(hg.ctx, w_out, ggml_transpose(hg.ctx, dzb));
        head_graph(hg.ctx, dzb, dz, out, dh);
        return;
    }
    ggml_tensor * dzb = hg.f32(n_vocab, n, dz);
    if (cfg.transposed_weights) {
        if (!w_out_t) w_out_t = llama_opt_transposed_weight(student_ctx, w_out);
        hg.run(head_backend, ggml_mul_mat(hg.ctx, w_out_t, dzb), dh);
    } else {
        hg.run(head_backend, ggml_out_prod(hg.ctx, w_out, ggml_transpose(hg.ctx, dzb)), dh);
    }
}

namespace {

void sequence_of(const std::vector<int32_t> & prompt, const std::vector<int32_t> & response,
                 std::vector<int32_t> & tokens, std::vector<int32_t> & target_pos) {
    tokens.assign(prompt.begin(), prompt.end());
    tokens.insert(tokens.end(), response.begin(), response.end() - 1);
    target_pos.resize(response.size());
    for (size_t j = 0; j < response.size(); ++j) target_pos[j] = (int32_t) (prompt.size() - 1 + j);
}

} // namespace

std::vector<float> sdpo_trainer::body_hidden(const std::vector<int32_t> & prompt, const std::vector<int32_t> & response) {
    std::vector<int32_t> tokens, target_pos;
    sequence_of(prompt, response, tokens, target_pos);
    std::vector<float> h(response.size() * (size_t) n_embd);
    if (llama_opt_body_eval(student_ctx, tokens.data(), (int32_t) tokens.size(), target_pos.data(), (int32_t) target_pos.size(),
                            nullptr, h.data(), false) != 0) {
        throw std::runtime_error("training forward pass failed");
    }
    ++body_forwards;
    note_train_placement();
    return h;
}

// importance weight of one token (stop-gradient): min(pi_theta(y_t) / pi_old(y_t), clip), pi_theta = the student before
// this step, pi_old = the policy that sampled y (the sampler's log-probs; ratio 1 without them), 1 when the clip is off.
// With one optimizer step per sampled batch the two are the same policy and the ratio is 1 up to numerics; it matters
// when rollouts are stale. Ratios above the clip are counted into `clipped`.
double sdpo_trainer::importance_weight(const train_example & ex, int row, float sampled_logp, int64_t & clipped) const {
    if (cfg.is_clip <= 0) return 1.0;
    const double ratio = ex.behavior_logp.empty() ? 1.0 : std::exp((double) sampled_logp - ex.behavior_logp[row]);
    if (ratio > cfg.is_clip) ++clipped;
    return std::min(ratio, (double) cfg.is_clip);
}

namespace {

// The per-token term of the losses without a teacher (docs in types.ts), as a function of l = log pi_theta(y_t):
//  cross_entropy:   L_t = -w_t l;
//  policy_gradient: L_t = -min(r A_t, clip(r, 1-eps, 1+eps) A_t), r = exp(l - log pi_old(y_t)); pi_old from the
//                   sampler's log-probs, or pi_old = stop-gradient(pi_theta) without them (r = 1, gradient -A_t).
// dlogp = dL_t/dl: -r A_t where the unclipped term is the minimum (dr/dl = r), 0 where the clip binds (a constant).
struct token_term {
    double loss, dlogp, ratio;
    bool clipped;
};

token_term sampled_token_term(const trainer_config & cfg, const train_example & ex, int row, double logp) {
    const double a = ex.token_weights.empty() ? ex.advantage : (double) ex.token_weights[row];
    if (cfg.loss == loss_kind::cross_entropy) return { -a * logp, -a, 1.0, false };
    const double eps = cfg.pg_clip;
    const double r = ex.behavior_logp.empty() ? 1.0 : std::exp(logp - (double) ex.behavior_logp[row]);
    const double unclipped = r * a, clipped = std::clamp(r, 1.0 - eps, 1.0 + eps) * a;
    if (unclipped <= clipped) return { -unclipped, -unclipped, r, false };
    return { -clipped, 0.0, r, true };
}

} // namespace

// The head over response rows [row0, row0+n) of one example, all in this block's logits buffer:
//  - the student's logits = W_out H (the same H the backward pass recomputes), log-softmax over the full vocabulary;
//  - with job.score: the student's top-K ids, log p at them and at y (importance weight), and the teacher's log q at
//    those ids, its tail and log q(y) from `teacher_logits` (trust region: lerp(reference, student at the teacher
//    prompt, eta)); without: the ids and teacher values already in job.s;
//  - the divergence D_t (docs in types.ts) in f64, the loss w_t D_t, and with job.grad dL/dz in place of the logits,
//    then dL/dH = W_out^T dL/dz into job.g;
//  - losses without a teacher (policy_gradient, cross_entropy; teacher_logits null): the term of log p(y_t) alone
//    (sampled_token_term), dL/dz = w dL_t/dlog p (onehot(y_t) - p).
// dL/dz_v = w (p_v [v in S] g_v - p_v c) with g = dD/dp over the ids S (tail included through p_tail = 1 - sum p) and
// c = sum_S p g: written with gp = p g, which stays finite when p underflows.
void sdpo_trainer::head_block(head_job & job, int row0, int n, const float * teacher_logits) {
    const train_example & ex = *job.ex;
    scored_rows & s = *job.s;
    const int k = s.k;
    const size_t V = (size_t) n_vocab;
    float * z = block_logits.data();
    head_logits(job.h + (size_t) row0 * n_embd, n, z);
    const float * tq = teacher_logits;
    if (job.score && teacher_ctx && cfg.teacher == teacher_kind::trust_region) {
        // trust region: teacher logits = lerp(reference logits, student logits at the teacher prompt, eta)
        float * mixed = block_mixed.data();
        head_logits(job.h_teacher + (size_t) row0 * n_embd, n, mixed);
        const float eta = cfg.ema;
        for (size_t e = 0; e < (size_t) n * V; ++e) mixed[e] = teacher_logits[e] + eta * (mixed[e] - teacher_logits[e]);
        tq = mixed;
    }
    const bool tok = cfg.divergence == divergence_kind::sampled_token;
    const double alpha = cfg.jsd_alpha;
    struct totals { double loss = 0, weight_sum = 0; int64_t clipped = 0; };
    // dL/dz of one row in place of its logits: w (p_v [v in ids] gp_v - p_v c), c = sum gp, given gp = dD/dlog p at ids
    auto write_dz = [&](float * zr, double lse, double w, const int32_t * ids, const double * gp, int kk) {
        double c = 0.0;
        for (int a = 0; a < kk; ++a) c += gp[a];
        const float mx = (float) lse; // p_v = exp(z_v - lse) <= 1
        const float wc = (float) (-w * c);
        for (size_t v = 0; v < V; ++v) zr[v] = wc * exp_nonpositive(zr[v] - mx);
        for (int a = 0; a < kk; ++a) {
            // zr[id] holds -w c p_id (from the line above, float); add w gp
            zr[ids[a]] += (float) (w * gp[a]);
        }
    };
    auto one_row = [&](int r, totals & acc) {
        const int row = row0 + r;
        float * zr = z + (size_t) r * V;
        const int32_t y = ex.response[row];
        const double lse = log_sum_exp(zr, n_vocab);
        if (cfg.loss != loss_kind::distill) {
            // policy_gradient / cross_entropy: a term in log pi(y_t) alone (no top-K, no teacher)
            const double lp = (double) zr[y] - lse;
            if (job.score) s.sampled_logp[row] = (float) lp;
            const token_term t = sampled_token_term(cfg, ex, row, lp);
            acc.loss += job.row_weight * t.loss;
            acc.weight_sum += t.ratio;
            acc.clipped += t.clipped ? 1 : 0;
            if (job.grad) write_dz(zr, lse, job.row_weight, &ex.response[row], &t.dlogp, 1);
            return;
        }
        std::vector<double> gp(k);
        const size_t o = (size_t) row * k;
        if (job.score) {
            s.sampled_logp[row] = (float) (zr[y] - lse);
            const auto ids = top_k_ids(zr, n_vocab, k);
            for (int a = 0; a < k; ++a) {
                s.ids[o + a] = ids[a];
                s.student_logp[o + a] = (float) (zr[ids[a]] - lse);
            }
            teacher_row(tq + (size_t) r * V, n_vocab, &s.ids[o], k, y, &s.teacher_logq[o], s.teacher_tail[row], s.sampled_logq[row]);
        }
        const double iw = importance_weight(ex, row, s.sampled_logp[row], acc.clipped);
        const double w = job.row_weight * iw;
        acc.weight_sum += iw;
        // D and gp over the row's ids (TOK: the sampled token only)
        const int kk = tok ? 1 : k;
        const int32_t * ids = tok ? &ex.response[row] : &s.ids[o];
        double d = 0.0;
        if (tok) {
            const double lp = (double) zr[y] - lse, diff = lp - s.sampled_logq[row];
            d = 0.5 * diff * diff;
            gp[0] = diff;
        } else {
            double sp = 0.0;
            std::vector<double> p(k), lp(k);
            for (int a = 0; a < k; ++a) { lp[a] = (double) zr[ids[a]] - lse; p[a] = std::exp(lp[a]); sp += p[a]; }
            const double slack = 1.0 - tail_eps - sp;
            const double pt = tail_eps + std::max(0.0, slack), lpt = std::log(pt);
            const double lqt = s.teacher_tail[row];
            double dpt = 0.0; // dD/dp_tail
            for (int a = 0; a < k; ++a) {
                const double lq = s.teacher_logq[o + a];
                if (cfg.divergence == divergence_kind::reverse_kl) {
                    d += p[a] * (lp[a] - lq);
                    gp[a] = p[a] * (lp[a] - lq + 1.0);
                } else if (cfg.divergence == divergence_kind::forward_kl) {
                    const double q = std::exp(lq);
                    d += q * (lq - lp[a]);
                    gp[a] = -q;
                } else {
                    const double q = std::exp(lq), m = (1.0 - alpha) * p[a] + alpha * q, lm = std::log(m);
                    d += (1.0 - alpha) * p[a] * (lp[a] - lm) + alpha * q * (lq - lm);
                    gp[a] = p[a] * (1.0 - alpha) * (lp[a] - lm);
                }
            }
            if (cfg.divergence == divergence_kind::reverse_kl) {
                d += pt * (lpt - lqt);
                dpt = lpt - lqt + 1.0;
            } else if (cfg.divergence == divergence_kind::forward_kl) {
                const double qt = std::exp(lqt);
                d += qt * (lqt - lpt);
                dpt = -qt / pt;
            } else {
                const double qt = std::exp(lqt), mt = (1.0 - alpha) * pt + alpha * qt, lmt = std::log(mt);
                d += (1.0 - alpha) * pt * (lpt - lmt) + alpha * qt * (lqt - lmt);
                dpt = (1.0 - alpha) * (lpt - lmt);
            }
            // p_tail = eps + relu(1 - eps - sum p): dp_tail/dp_a = -1 where the relu is active
            if (slack > 0) for (int a = 0; a < k; ++a) gp[a] -= p[a] * dpt;
        }
        acc.loss += w * d;
        if (job.grad) write_dz(zr, lse, w, ids, gp.data(), kk);
    };
    // rows are independent (each writes its own slots of s and its own row of the buffer): split them among the
    // trainer's threads in fixed contiguous ranges, totals summed in thread order (deterministic for a thread count)
    std::vector<totals> acc(std::max(1, std::min(cfg.threads, n)));
    for_rows(cfg.threads, n, [&](int r, int t) { one_row(r, acc[t]); });
    for (const auto & a : acc) {
        job.loss += a.loss;
        job.weight_sum += a.weight_sum;
        job.clipped += a.clipped;
    }
    if (job.grad) head_input_grad(z, n, job.g + (size_t) row0 * n_embd);
}

sdpo_trainer::head_job sdpo_trainer::example_pass(const train_example & ex, scored_rows & s, double row_weight, bool grad) {
    const int rows = (int) ex.response.size();
    const int k = cfg.top_k;
    s.k = k;
    s.ids.resize((size_t) rows * k);
    s.student_logp.resize((size_t) rows * k);
    s.teacher_logq.resize((size_t) rows * k);
    s.teacher_tail.resize(rows);
    s.sampled_logq.resize(rows);
    s.sampled_logp.resize(rows);
    const bool distill = cfg.loss == loss_kind::distill;
    std::vector<float> h_teacher;
    if (distill && cfg.teacher == teacher_kind::trust_region) h_teacher = body_hidden(ex.teacher_prompt, ex.response);
    head_job job;
    job.ex = &ex;
    job.s = &s;
    job.h_teacher = h_teacher.empty() ? nullptr : h_teacher.data();
    job.row_weight = row_weight;
    job.score = true;
    job.grad = grad;
    // the teacher's logits come block by block from its own context (its KV cache, F32): each block of rows goes
    // through the student's head while the teacher's logits of the same rows are at hand. A loss without a teacher
    // runs the head alone.
    auto head = [&]() {
        if (!distill) {
            for (int row0 = 0; row0 < rows; row0 += cfg.head_block_rows) head_block(job, row0, std::min(cfg.head_block_rows, rows - row0), nullptr);
            return;
        }
        score_rows(teacher_ctx, ex.teacher_prompt, ex.response, cfg.head_block_rows,
                   [&](int row0, int n, const float * logits) { head_block(job, row0, n, logits); });
    };
    run_head(ex, job, head);
    return job;
}

void sdpo_trainer::run_head(const train_example & ex, head_job & job, const std::function<void()> & head) {
    if (job.grad) {
        body_train(ex, job, head);
        return;
    }
    const std::vector<float> h = body_hidden(ex.student_prompt, ex.response);
    job.h = h.data();
    head();
    job.h = nullptr;
}

// One evaluation of the student's training graph: forward to H, `head` (which reads job.h and writes dL/dH into
// job.g) from the scheduler's callback between the forward and the backward pass, then the backward seeded with it.
// Also with several backends (a GPU build, layers partly on the CPU): the graph makes every reader of G wait for the
// node that the callback writes it into (llama_opt_body_train in the patch), so the forward runs once.
void sdpo_trainer::body_train(const train_example & ex, head_job & job, const std::function<void()> & head) {
    std::vector<int32_t> tokens, target_pos;
    sequence_of(ex.student_prompt, ex.response, tokens, target_pos);
    // made before the evaluation: the training context must not be used from inside its own callback
    if (cfg.transposed_weights && !w_out_t) w_out_t = llama_opt_transposed_weight(student_ctx, w_out);
    struct state { head_job * job; const std::function<void()> * head; std::exception_ptr error; };
    state st{ &job, &head, nullptr };
    auto on_head = [](const float * h, float * g, void * ud) -> bool {
        auto * s = static_cast<state *>(ud);
        s->job->h = h;
        s->job->g = g;
        try {
            (*s->head)();
            return true;
        } catch (...) {
            s->error = std::current_exception();
            return false;
        }
    };
    const int32_t rc = llama_opt_body_train(student_ctx, tokens.data(), (int32_t) tokens.size(), target_pos.data(),
                                            (int32_t) target_pos.size(), on_head, &st);
    job.h = nullptr;
    job.g = nullptr;
    ++body_forwards;
    note_train_placement();
    if (rc == -2 && st.error) std::rethrow_exception(st.error);
    if (rc != 0) throw std::runtime_error("training pass failed");
}

// reverse KL of one example after the update, at the ids and teacher values of the step (sum over rows)
double sdpo_trainer::kl_after_update(const train_example & ex, const scored_rows & s) {
    const int rows = (int) ex.response.size(), k = s.k;
    const std::vector<float> h = body_hidden(ex.student_prompt, ex.response);
    std::vector<float> logp(k);
    double kl = 0.0;
    for (int row0 = 0; row0 < rows; row0 += cfg.head_block_rows) {
        const int n = std::min(cfg.head_block_rows, rows - row0);
        head_logits(h.data() + (size_t) row0 * n_embd, n, block_logits.data());
        for (int r = 0; r < n; ++r) {
            const float * zr = block_logits.data() + (size_t) r * n_vocab;
            const double lse = log_sum_exp(zr, n_vocab);
            const size_t o = (size_t) (row0 + r) * k;
            for (int a = 0; a < k; ++a) logp[a] = (float) (zr[s.ids[o + a]] - lse);
            kl += reverse_kl_row(logp.data(), &s.teacher_logq[o], s.teacher_tail[row0 + r], k);
        }
    }
    return kl;
}

double sdpo_trainer::take_gradient(std::vector<std::vector<float>> & grads) {
    grads.resize(params.size());
    double sq = 0.0;
    for (size_t i = 0; i < params.size(); ++i) {
        ggml_tensor * acc = llama_opt_param_grad(student_ctx, params[i].student);
        if (!acc) { // no backward pass has run yet
            grads[i].assign(params[i].m.size(), 0.0f);
            continue;
        }
        grads[i] = tensor_to_host(acc);
        ggml_backend_tensor_memset(acc, 0, 0, ggml_nbytes(acc));
        for (float g : grads[i]) sq += (double) g * g;
    }
    return std::sqrt(sq);
}

void sdpo_trainer::apply_update(std::vector<std::vector<float>> & grads, double grad_norm) {
    const float clip = cfg.grad_clip > 0 && grad_norm > cfg.grad_clip ? (float) (cfg.grad_clip / grad_norm) : 1.0f;
    const float lr = cfg.lr, decay = 1.0f - cfg.lr * cfg.weight_decay;
    ++adam_t;
    // AdamW as ggml's opt_step_adamw computes it (decoupled weight decay, bias-corrected moments)
    const float beta1 = 0.9f, beta2 = 0.999f, eps = 1e-8f;
    const float beta1h = 1.0f / (1.0f - std::pow(beta1, (float) adam_t));
    const float beta2h = 1.0f / (1.0f - std::pow(beta2, (float) adam_t));
    for (size_t i = 0; i < params.size(); ++i) {
        auto & p = params[i];
        std::vector<float> x = tensor_to_host(p.student);
        const auto & g = grads[i];
        if (cfg.optimizer == optimizer_kind::sgd) {
            for (size_t e = 0; e < x.size(); ++e) x[e] = x[e] * decay - lr * (g[e] * clip);
        } else {
            for (size_t e = 0; e < x.size(); ++e) {
                const float ge = g[e] * clip;
                p.m[e] = p.m[e] * beta1 + ge * (1.0f - beta1);
                p.v[e] = p.v[e] * beta2 + ge * ge * (1.0f - beta2);
                const float mh = p.m[e] * beta1h;
                const float vh = std::sqrt(p.v[e] * beta2h) + eps;
                x[e] = x[e] * decay - lr * mh / vh;
            }
        }
        host_to_tensor(p.student, x);
    }
}

void sdpo_trainer::update_teacher() {
    const float eta = cfg.ema;
    for (auto & p : params) {
        const std::vector<float> s = tensor_to_host(p.student);
        std::vector<float> t = tensor_to_host(p.teacher);
        for (size_t e = 0; e < t.size(); ++e) t[e] = (1.0f - eta) * t[e] + eta * s[e];
        host_to_tensor(p.teacher, t);
    }
}

step_result sdpo_trainer::step(const std::vector<train_example> & batch) {
    const double t0 = now_ms();
    if (batch.empty()) throw std::runtime_error("empty batch");
    const bool distill = cfg.loss == loss_kind::distill;
    for (const auto & ex : batch) {
        if (ex.masked) continue;
        if (ex.student_prompt.empty() || (distill && ex.teacher_prompt.empty()) || ex.response.empty()) {
            throw std::runtime_error(distill ? "an unmasked example needs a student prompt, a teacher prompt and a response"
                                             : "an unmasked example needs a student prompt and a response");
        }
        if (cfg.loss == loss_kind::policy_gradient && !ex.has_advantage && ex.token_weights.empty()) {
            throw std::runtime_error("policy_gradient: every unmasked example needs an advantage or token weights");
        }
        // the teacher prompt is not read by a loss without a teacher (so it does not count towards maxTokens)
        const size_t longest = std::max(ex.student_prompt.size(), distill ? ex.teacher_prompt.size() : 0) + ex.response.size() - 1;
        if (longest > (size_t) cfg.max_tokens) {
            throw std::runtime_error("example of " + std::to_string(longest) + " tokens exceeds maxTokens " + std::to_string(cfg.max_tokens));
        }
        for (const auto * seq : { &ex.student_prompt, &ex.teacher_prompt, &ex.response }) {
            for (int32_t t : *seq) if (t < 0 || t >= n_vocab) throw std::runtime_error("token id out of range");
        }
    }
    reserve_blocks();
    cpu_ops_train.clear();
    cpu_ops_head.clear();
    body_forwards = 0;
    const double n_batch = (double) batch.size();
    step_result r;
    // per example: one evaluation of the body's training graph: its forward to H, then from the scheduler's callback
    // the head block by block beside the teacher's scoring (top-K, teacher values, loss, dL/dH), then its backward
    // seeded with dL/dH
    std::vector<const train_example *> active;
    std::vector<scored_rows> scored;
    double loss = 0.0, weight_sum = 0.0;
    int64_t clipped = 0;
    for (const auto & ex : batch) {
        if (ex.masked) continue;
        active.push_back(&ex);
        scored.emplace_back();
        const head_job job = example_pass(ex, scored.back(), 1.0 / ((double) ex.response.size() * n_batch), true);
        loss += job.loss;
        weight_sum += job.weight_sum;
        clipped += job.clipped;
        r.tokens += (int64_t) ex.response.size();
    }
    double kl = distill ? 0.0 : NAN; // a loss without a teacher has no KL to report
    for (size_t i = 0; distill && i < active.size(); ++i) {
        const int rows = (int) active[i]->response.size(), k = scored[i].k;
        double seq = 0.0;
        for (int j = 0; j < rows; ++j) {
            seq += reverse_kl_row(&scored[i].student_logp[(size_t) j * k], &scored[i].teacher_logq[(size_t) j * k],
                                  scored[i].teacher_tail[j], k);
        }
        kl += seq / rows / n_batch;
    }
    r.kl_before = kl;
    r.is_weight_mean = r.tokens > 0 ? weight_sum / (double) r.tokens : 1.0;
    r.is_clipped = r.tokens > 0 ? (double) clipped / (double) r.tokens : 0.0;
    std::vector<std::vector<float>> grads;
    r.grad_norm = take_gradient(grads);
    r.loss = loss;
    r.skipped = !std::isfinite(r.grad_norm) || !std::isfinite(loss);
    const bool update = !active.empty() && !r.skipped;
    r.kl_after = cfg.measure_kl_after ? r.kl_before : NAN;
    if (update) {
        apply_update(grads, r.grad_norm);
        if (distill && cfg.teacher == teacher_kind::ema) update_teacher();
        if (distill && cfg.measure_kl_after) {
            double after = 0.0;
            for (size_t i = 0; i < active.size(); ++i) {
                after += kl_after_update(*active[i], scored[i]) / (double) active[i]->response.size() / n_batch;
            }
            r.kl_after = after;
        }
    }
    ++step_count;
    r.step = step_count;
    r.adapter_path = adapter_path(step_count);
    if (!llama_adapter_lora_save(student, r.adapter_path.c_str())) throw std::runtime_error("cannot write " + r.adapter_path);
    r.cpu_ops = cpu_ops();
    r.forwards = body_forwards;
    r.ms = now_ms() - t0;
    return r;
}

void sdpo_trainer::reserve_blocks() {
    const size_t n = (size_t) cfg.head_block_rows * (size_t) n_vocab;
    if (block_logits.size() < n) block_logits.resize(n);
    if (teacher_ctx && cfg.teacher == teacher_kind::trust_region && block_mixed.size() < n) block_mixed.resize(n);
}

void sdpo_trainer::write_state_json(const std::string & path) const {
    std::ostringstream rs;
    rs << rng;
    nlohmann::json j = {
        { "version", 1 }, { "step", step_count }, { "adamT", adam_t }, { "rng", rs.str() },
        { "model", cfg.model }, { "loraRank", cfg.rank }, { "loraTargets", cfg.targets },
    };
    std::ofstream f(path);
    f << j.dump(2) << "\n";
    if (!f) throw std::runtime_error("cannot write " + path);
}

void sdpo_trainer::save() {
    const fs::path dir(cfg.state_dir);
    const fs::path tmp = dir / "state.tmp", cur = dir / "state", old = dir / "state.old";
    fs::remove_all(tmp);
    fs::create_directories(tmp);
    if (!llama_adapter_lora_save(student, (tmp / "student.gguf").c_str()) ||
        !llama_adapter_lora_save(teacher, (tmp / "teacher.gguf").c_str())) {
        throw std::runtime_error("cannot write adapters to " + tmp.string());
    }
    save_moments((tmp / "moments.bin").string(), params);
    write_state_json((tmp / "state.json").string());
    // swap directories so a crash leaves either the old or the new complete state
    fs::remove_all(old);
    if (fs::exists(cur)) fs::rename(cur, old);
    fs::rename(tmp, cur);
    fs::remove_all(old);
}

nlohmann::json sdpo_trainer::info() const {
    int64_t n_params = 0;
    for (const auto & p : params) n_params += (int64_t) p.m.size();
    char arch[64] = {0};
    llama_model_meta_val_str(model, "general.architecture", arch, sizeof(arch));
    return {
        { "step", step_count }, { "resumed", resumed }, { "arch", arch }, { "nVocab", n_vocab },
        { "nParams", n_params }, { "nTensors", (int64_t) params.size() },
        { "attention", cfg.attn_blocked ? "blocked" : cfg.attn_fused ? "fused" : "plain" },
        // nodes placed on the CPU are read from the schedulers once a graph is allocated: none is before the first step
        // (the step and bench replies carry them)
        { "cpuOps", nlohmann::json::array() },
    };
}

nlohmann::json sdpo_trainer::bench(int n_tokens) {
    if (n_tokens < 8 || n_tokens > cfg.max_tokens) throw std::runtime_error("bench tokens must be in [8, maxTokens]");
    if (!teacher_ctx) throw std::runtime_error("bench measures teacher scoring: it needs loss distill");
    reserve_blocks();
    cpu_ops_train.clear();
    cpu_ops_head.clear();
    // a quarter prompt, three quarters response: the prototype's 512 tokens / 384 targets shape
    std::mt19937_64 brng(1234);
    std::uniform_int_distribution<int32_t> tok(0, std::min(n_vocab, 32000) - 1);
    train_example ex;
    const int n_prompt = n_tokens / 4;
    for (int i = 0; i < n_prompt; ++i) ex.student_prompt.push_back(tok(brng));
    for (int i = n_prompt; i <= n_tokens; ++i) ex.response.push_back(tok(brng)); // +1: the last token is only a target
    ex.teacher_prompt = ex.student_prompt;
    const int rows = (int) ex.response.size();

    std::vector<int32_t> tokens(ex.student_prompt);
    tokens.insert(tokens.end(), ex.response.begin(), ex.response.end() - 1);
    auto prefill = [&]() {
        llama_memory_clear(llama_get_memory(teacher_ctx), true);
        const int32_t nb = (int32_t) llama_n_batch(teacher_ctx);
        for (int32_t pos = 0; pos < (int32_t) tokens.size(); pos += nb) {
            const int32_t n = std::min<int32_t>(nb, (int32_t) tokens.size() - pos);
            llama_batch b = llama_batch_get_one(tokens.data() + pos, n);
            if (llama_decode(teacher_ctx, b) != 0) throw std::runtime_error("llama_decode failed");
        }
        llama_memory_clear(llama_get_memory(teacher_ctx), true);
    };
    auto timed = [](const std::function<void()> & f) { const double t = now_ms(); f(); return now_ms() - t; };

    // Measurements alternate (prefill, prefill with logits, teacher, teacher, prefill with logits, prefill; forward,
    // step, forward) and ratios use means, so that load from other processes during the run skews both sides alike.
    scored_rows s;
    example_pass(ex, s, 1.0 / rows, false); // warm-up of both contexts; fills the ids and teacher values
    prefill();
    // Teacher scoring = the teacher context's decode of the same tokens in score_rows' chunks with logits at every
    // response row (the full-vocabulary output projection per row), then the step's host work per row (log-sum-exp,
    // values at the student's ids), on the trainer's threads as in the step. Its fair baseline is the same decode
    // (prefill_rows: logits at the same rows, nothing read); prefill (last row only) also leaves out the head.
    double teacher_host_ms = 0;
    auto teacher_score = [&]() {
        score_rows(teacher_ctx, ex.teacher_prompt, ex.response, cfg.head_block_rows, [&](int row0, int n, const float * logits) {
            const double t = now_ms();
            for_rows(cfg.threads, n, [&](int r, int) {
                const int row = row0 + r;
                const size_t o = (size_t) row * s.k;
                teacher_row(logits + (size_t) r * n_vocab, n_vocab, &s.ids[o], s.k, ex.response[row], &s.teacher_logq[o],
                            s.teacher_tail[row], s.sampled_logq[row]);
            });
            teacher_host_ms += now_ms() - t;
        });
    };
    auto prefill_rows = [&]() { score_rows(teacher_ctx, ex.teacher_prompt, ex.response, cfg.head_block_rows, [](int, int, const float *) {}); };
    double prefill_ms = 0, prefill_rows_ms = 0, teacher_ms = 0;
    prefill_ms += timed(prefill) / 2;
    prefill_rows_ms += timed(prefill_rows) / 2;
    teacher_ms += timed(teacher_score) / 2;
    teacher_ms += timed(teacher_score) / 2;
    prefill_rows_ms += timed(prefill_rows) / 2;
    prefill_ms += timed(prefill) / 2;
    teacher_host_ms /= 2;

    // forward: the training forward (body, then the head block by block with the loss); backward: the same with
    // dL/dH per block and the body's forward + backward seeded with it (the step minus teacher scoring)
    auto pass = [&](bool grad) {
        head_job job;
        job.ex = &ex;
        job.s = &s;
        job.row_weight = 1.0 / rows;
        job.score = false;
        job.grad = grad;
        auto head = [&]() {
            for (int row0 = 0; row0 < rows; row0 += cfg.head_block_rows) {
                head_block(job, row0, std::min(cfg.head_block_rows, rows - row0), nullptr);
            }
        };
        run_head(ex, job, head);
    };
    auto forward = [&]() { pass(false); };
    auto backward = [&]() { pass(true); };
    std::vector<std::vector<float>> grads;
    // warm-up of both graphs; the first backward also makes the transposed weights, once per trainer
    forward();
    const double first_backward_ms = timed(backward);
    take_gradient(grads);
    double forward_ms = timed(forward);
    const double backward_ms = timed(backward);
    double update_ms = timed([&]() { apply_update(grads, take_gradient(grads)); });
    const double step_ms = backward_ms + update_ms;
    forward_ms = (forward_ms + timed(forward)) / 2;
    // minor page faults of one whole step: buffers that are freed and faulted in again every step
    rusage ru0{}, ru1{};
    getrusage(RUSAGE_SELF, &ru0);
    const step_result full = step({ ex });
    getrusage(RUSAGE_SELF, &ru1);
    const double full_step_ms = full.ms;
    return {
        { "tokens", n_tokens }, { "targets", rows }, { "threads", cfg.threads },
        { "step_ms", step_ms }, { "forward_ms", forward_ms }, { "ratio", step_ms / forward_ms },
        { "tokens_per_s", n_tokens / (step_ms / 1000.0) },
        { "optimizer_update_ms", update_ms }, { "first_backward_ms", first_backward_ms },
        { "full_step_ms", full_step_ms },
        { "teacher_score_ms", teacher_ms }, { "prefill_ms", prefill_ms }, { "teacher_ratio", teacher_ms / prefill_ms },
        { "prefill_rows_ms", prefill_rows_ms }, { "teacher_host_ms", teacher_host_ms },
        { "teacher_ratio_rows", teacher_ms / prefill_rows_ms },
        { "full_step_minor_faults", (int64_t) (ru1.ru_minflt - ru0.ru_minflt) },
        { "peak_rss_mb", peak_rss_mb() },
        // of the full step (the same graphs as the timed passes)
        { "cpuOps", full.cpu_ops },
        { "forwards", full.forwards }, // body forward passes of that step (see step_result::forwards)
        { "device", cfg.device },
    };
}

// After a training evaluation: the nodes the context's scheduler put on the CPU (llama_opt_cpu_nodes lists nothing
// when the CPU is its only backend), the most per op over the step's graphs.
void sdpo_trainer::note_train_placement() {
    if (cfg.device == "cpu") return;
    llama_opt_cpu_nodes(student_ctx, [](const char * op, int32_t n, void * ud) {
        keep_max(*static_cast<std::map<std::string, int32_t> *>(ud), op, n);
    }, &cpu_ops_train);
}

// "OP×n" per op of the training graphs, then "head OP×n" of the head graphs; empty on the CPU device by definition
nlohmann::json sdpo_trainer::cpu_ops() const {
    nlohmann::json out = nlohmann::json::array();
    if (cfg.device == "cpu") return out;
    for (const auto & it : cpu_ops_train) out.push_back(it.first + "\u00d7" + std::to_string(it.second));
    for (const auto & it : cpu_ops_head) out.push_back("head " + it.first + "\u00d7" + std::to_string(it.second));
    return out;
}
