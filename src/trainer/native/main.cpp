// ttsd-trainer: a long-lived process that trains an SDPO LoRA adapter for the ttsd harness.
// It speaks the framed protocol of protocol.h on stdin/stdout (the client is src/trainer/native-trainer.ts):
//   {"cmd":"init", ...TrainerConfig}   -> {"ok":true, step, resumed, arch, nVocab, nParams}
//   {"cmd":"step", examples:[{s,t,r,masked,l,a,w}]} + payload: int32 s, t, r token ids of each example in order, then
//                                     float32 log pi_old of the response tokens of each example with l = r (l = 0: none),
//                                     then float32 token weights of each example with w = r (w = 0: none); a = the
//                                     example's advantage / weight (absent: none)
//                                     -> {"ok":true, step, loss, klBefore, klAfter, gradNorm, tokens, ms, skipped, adapterPath,
//                                         isWeightMean, isClipped, cpuOps, forwards}
//   {"cmd":"save"} -> {"ok":true}      {"cmd":"bench", tokens} -> {"ok":true, ...timings}      {"cmd":"shutdown"}
// A request that cannot be served answers {"error": "..."}; "fatal": true means the process exits next.
// Logs go to stderr; stdout carries frames only (fd 1 is redirected to stderr so that stray prints cannot
// corrupt the stream).
#include "protocol.h"
#include "sdpo_step.h"

#include "ggml-backend.h"
#include "llama.h"

#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <memory>
#include <stdexcept>

static FILE * open_frame_output() {
    const int fd = dup(STDOUT_FILENO);
    dup2(STDERR_FILENO, STDOUT_FILENO);
    return fdopen(fd, "wb");
}

static void log_to_stderr(ggml_log_level level, const char * text, void *) {
    // warnings and errors only: the client keeps the last stderr lines for its error messages
    if (level >= GGML_LOG_LEVEL_WARN || level == GGML_LOG_LEVEL_CONT) fputs(text, stderr);
}

static std::vector<train_example> read_examples(const frame & f) {
    std::vector<train_example> out;
    const auto & list = f.header.at("examples");
    size_t n_ids = 0, n_logp = 0, n_weights = 0;
    for (const auto & e : list) {
        n_ids += e.at("s").get<size_t>() + e.at("t").get<size_t>() + e.at("r").get<size_t>();
        n_logp += e.value("l", (size_t) 0);
        n_weights += e.value("w", (size_t) 0);
    }
    if (f.payload.size() != (n_ids + n_logp + n_weights) * 4) throw std::runtime_error("step payload size does not match the example sizes");
    const uint8_t * ids = f.payload.data();
    const uint8_t * logp = ids + n_ids * sizeof(int32_t);
    const uint8_t * weights = logp + n_logp * sizeof(float);
    auto take = [](const uint8_t *& p, size_t n, auto element) {
        std::vector<decltype(element)> v(n);
        std::memcpy(v.data(), p, n * sizeof(element));
        p += n * sizeof(element);
        return v;
    };
    for (const auto & e : list) {
        train_example ex;
        ex.student_prompt = take(ids, e.at("s").get<size_t>(), int32_t());
        ex.teacher_prompt = take(ids, e.at("t").get<size_t>(), int32_t());
        ex.response = take(ids, e.at("r").get<size_t>(), int32_t());
        ex.masked = e.at("masked").get<bool>();
        const size_t l = e.value("l", (size_t) 0);
        if (l != 0 && l != ex.response.size()) throw std::runtime_error("behavior log-probs must be one per response token");
        ex.behavior_logp = take(logp, l, float());
        const size_t w = e.value("w", (size_t) 0);
        if (w != 0 && w != ex.response.size()) throw std::runtime_error("token weights must be one per response token");
        ex.token_weights = take(weights, w, float());
        if (e.contains("a")) {
            ex.has_advantage = true;
            ex.advantage = e.at("a").get<double>();
        }
        out.push_back(std::move(ex));
    }
    return out;
}

static nlohmann::json to_json(const step_result & r) {
    return {
        { "ok", true }, { "step", r.step }, { "loss", r.loss }, { "klBefore", r.kl_before }, { "klAfter", r.kl_after },
        { "gradNorm", r.grad_norm }, { "tokens", r.tokens }, { "ms", r.ms }, { "skipped", r.skipped },
        { "adapterPath", r.adapter_path }, { "isWeightMean", r.is_weight_mean }, { "isClipped", r.is_clipped },
        { "cpuOps", r.cpu_ops }, { "forwards", r.forwards },
    };
}

// Device of the init config (TrainerConfig.device / gpuLayers): 'cuda' / 'vulkan' ask for the GGML_CUDA / GGML_VULKAN
// build, and a trainer without a device of that backend refuses it here rather than silently training on the CPU.
static void check_device(const nlohmann::json & init) {
    const std::string device = init.value("device", std::string("cpu"));
    const int gpu_layers = init.value("gpuLayers", 0);
    if (device != "cpu" && device != "cuda" && device != "vulkan") throw std::invalid_argument("device must be cpu, cuda or vulkan, got " + device);
    if (gpu_layers < -1) throw std::invalid_argument("gpuLayers must be -1 (all) or a layer count");
    if (device == "cpu") {
        if (gpu_layers != 0) throw std::invalid_argument("gpuLayers needs device cuda or vulkan");
        return;
    }
    // by the backend's registered name ("CUDA", "Vulkan") and the device's declared type
    const std::string reg_name = device == "cuda" ? "CUDA" : "Vulkan";
    for (size_t i = 0; i < ggml_backend_dev_count(); ++i) {
        ggml_backend_dev_t dev = ggml_backend_dev_get(i);
        const auto type = ggml_backend_dev_type(dev);
        ggml_backend_reg_t reg = ggml_backend_dev_backend_reg(dev);
        if ((type == GGML_BACKEND_DEVICE_TYPE_GPU || type == GGML_BACKEND_DEVICE_TYPE_IGPU) && reg && reg_name == ggml_backend_reg_name(reg)) return;
    }
    const bool built = ggml_backend_reg_by_name(reg_name.c_str()) != nullptr;
    throw std::invalid_argument(
        "device " + device + ": " +
        (!built ? "this trainer was built without " + reg_name + " (ttsd trainer build --" + device + " builds one)"
                : "no " + reg_name + " device found" +
                      (device == "vulkan" ? " (ggml-vulkan lists CPU-type devices such as Mesa's lavapipe only when GGML_VK_VISIBLE_DEVICES names them)" : "")));
}

int main() {
    FILE * out = open_frame_output();
    llama_log_set(log_to_stderr, nullptr);
    llama_backend_init();

    std::unique_ptr<sdpo_trainer> trainer;
    frame f;
    try {
        if (!read_frame(stdin, f)) return 0;
        if (f.header.value("cmd", "") != "init") throw std::invalid_argument("first request must be init");
        check_device(f.header);
        trainer = std::make_unique<sdpo_trainer>(parse_config(f.header));
    } catch (const std::exception & e) {
        write_frame(out, { { "error", e.what() }, { "fatal", true } });
        return 3;
    }
    nlohmann::json ready = trainer->info();
    ready["ok"] = true;
    write_frame(out, ready);

    while (true) {
        try {
            if (!read_frame(stdin, f)) break;
        } catch (const std::exception & e) {
            write_frame(out, { { "error", std::string("bad frame: ") + e.what() }, { "fatal", true } });
            return 4;
        }
        const std::string cmd = f.header.value("cmd", "");
        try {
            if (cmd == "step") {
                write_frame(out, to_json(trainer->step(read_examples(f))));
            } else if (cmd == "save") {
                trainer->save();
                write_frame(out, { { "ok", true } });
            } else if (cmd == "bench") {
                nlohmann::json r = trainer->bench(f.header.at("tokens").get<int>());
                r["ok"] = true;
                write_frame(out, r);
            } else if (cmd == "shutdown") {
                write_frame(out, { { "ok", true } });
                break;
            } else {
                write_frame(out, { { "error", "unknown command '" + cmd + "'" } });
            }
        } catch (const std::exception & e) {
            write_frame(out, { { "error", e.what() } });
        }
    }
    trainer.reset();
    llama_backend_free();
    return 0;
}
