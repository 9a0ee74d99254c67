#include "lora_state.h"

#include "ggml.h"
#include "ggml-backend.h"
#include "gguf.h"
#include "llama-adapter.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <memory>
#include <set>
#include <stdexcept>

namespace {

struct gguf_deleter { void operator()(gguf_context * g) const { gguf_free(g); } };
struct ggml_deleter { void operator()(ggml_context * c) const { ggml_free(c); } };
using gguf_ptr = std::unique_ptr<gguf_context, gguf_deleter>;
using ggml_ptr = std::unique_ptr<ggml_context, ggml_deleter>;

std::string get_str(const gguf_context * g, const std::string & key) {
    const int64_t i = gguf_find_key(g, key.c_str());
    if (i < 0 || gguf_get_kv_type(g, i) != GGUF_TYPE_STRING) return "";
    return gguf_get_val_str(g, i);
}

int64_t get_int(const gguf_context * g, const std::string & key) {
    const int64_t i = gguf_find_key(g, key.c_str());
    if (i < 0) return 0;
    switch (gguf_get_kv_type(g, i)) {
        case GGUF_TYPE_UINT32: return gguf_get_val_u32(g, i);
        case GGUF_TYPE_INT32:  return gguf_get_val_i32(g, i);
        case GGUF_TYPE_UINT64: return (int64_t) gguf_get_val_u64(g, i);
        default: return 0;
    }
}

} // namespace

std::string check_supported_architecture(const std::string & model_path) {
    gguf_init_params ip = { /*no_alloc =*/ true, /*ctx =*/ nullptr };
    gguf_ptr g(gguf_init_from_file(model_path.c_str(), ip));
    if (!g) return "cannot read GGUF model " + model_path;
    const std::string arch = get_str(g.get(), "general.architecture");
    // dense models whose graphs use only ops with a backward pass (rms_norm, rope, silu/swiglu, softmax attention)
    static const std::set<std::string> supported = { "qwen2", "qwen3", "llama" };
    if (!supported.count(arch)) {
        return "unsupported architecture '" + arch + "' (the trainer supports dense qwen2, qwen3 and llama models; "
               "MoE and GELU models have ops without a backward pass in ggml)";
    }
    if (get_int(g.get(), arch + ".expert_count") > 0) {
        return "unsupported model: mixture-of-experts '" + arch + "' (MUL_MAT_ID has no backward pass in ggml)";
    }
    return "";
}

void write_fresh_lora(const std::string & model_path, const fresh_lora_spec & spec, std::mt19937_64 & rng,
                      const std::string & out_path) {
    ggml_context * meta_raw = nullptr;
    gguf_init_params ip = { /*no_alloc =*/ true, /*ctx =*/ &meta_raw };
    gguf_ptr model(gguf_init_from_file(model_path.c_str(), ip));
    ggml_ptr meta(meta_raw);
    if (!model) throw std::runtime_error("cannot read GGUF model " + model_path);

    struct pair_shape { std::string base; int64_t n_in, n_out; };
    std::vector<pair_shape> pairs;
    for (int64_t i = 0; i < gguf_get_n_tensors(model.get()); ++i) {
        const std::string name = gguf_get_tensor_name(model.get(), i);
        // blk.<n>.<target>.weight
        if (name.rfind("blk.", 0) != 0 || name.size() < 7 || name.substr(name.size() - 7) != ".weight") continue;
        const size_t dot = name.find('.', 4);
        const std::string target = name.substr(dot + 1, name.size() - 7 - dot - 1);
        if (std::find(spec.targets.begin(), spec.targets.end(), target) == spec.targets.end()) continue;
        const ggml_tensor * t = ggml_get_tensor(meta.get(), name.c_str());
        if (!t || ggml_n_dims(t) != 2) continue;
        pairs.push_back({ name, t->ne[0], t->ne[1] });
    }
    for (const auto & target : spec.targets) {
        const bool found = std::any_of(pairs.begin(), pairs.end(), [&](const pair_shape & p) {
            return p.base.find("." + target + ".weight") != std::string::npos;
        });
        if (!found) throw std::runtime_error("LoRA target '" + target + "' matches no blk.N." + target + ".weight tensor in the model");
    }
    std::sort(pairs.begin(), pairs.end(), [](const pair_shape & a, const pair_shape & b) { return a.base < b.base; });

    gguf_ptr out(gguf_init_empty());
    gguf_set_val_str(out.get(), "general.type", "adapter");
    gguf_set_val_str(out.get(), "general.architecture", get_str(model.get(), "general.architecture").c_str());
    gguf_set_val_str(out.get(), "adapter.type", "lora");
    gguf_set_val_f32(out.get(), "adapter.lora.alpha", spec.alpha);

    ggml_init_params cp = { (pairs.size()*2 + 1)*ggml_tensor_overhead(), nullptr, true };
    ggml_ptr ctx(ggml_init(cp));
    std::vector<std::vector<float>> datas;
    datas.reserve(pairs.size()*2);
    const int64_t r = spec.rank;
    for (const auto & p : pairs) {
        ggml_tensor * a = ggml_new_tensor_2d(ctx.get(), GGML_TYPE_F32, p.n_in, r);
        ggml_tensor * b = ggml_new_tensor_2d(ctx.get(), GGML_TYPE_F32, r, p.n_out);
        ggml_set_name(a, (p.base + ".lora_a").c_str());
        ggml_set_name(b, (p.base + ".lora_b").c_str());
        const double bound = 1.0 / std::sqrt((double) p.n_in);
        std::uniform_real_distribution<double> u(-bound, bound);
        datas.emplace_back(p.n_in * r);
        for (float & x : datas.back()) x = (float) u(rng);
        a->data = datas.back().data();
        datas.emplace_back(r * p.n_out, 0.0f);
        b->data = datas.back().data();
        gguf_add_tensor(out.get(), a);
        gguf_add_tensor(out.get(), b);
    }
    if (!gguf_write_to_file(out.get(), out_path.c_str(), false)) {
        throw std::runtime_error("cannot write " + out_path);
    }
}

std::vector<lora_param> collect_params(const llama_adapter_lora & student, const llama_adapter_lora & teacher) {
    std::vector<lora_param> out;
    for (const auto & it : student.ab_map) {
        auto tw = teacher.ab_map.find(it.first);
        if (tw == teacher.ab_map.end()) throw std::runtime_error("teacher adapter lacks " + it.first);
        for (int ab = 0; ab < 2; ++ab) {
            lora_param p;
            p.student = ab == 0 ? it.second.a : it.second.b;
            p.teacher = ab == 0 ? tw->second.a : tw->second.b;
            p.name = p.student->name;
            if (p.student->type != GGML_TYPE_F32 || !ggml_are_same_shape(p.student, p.teacher)) {
                throw std::runtime_error("adapter tensor " + p.name + " must be F32 and match the teacher's shape");
            }
            p.m.assign(ggml_nelements(p.student), 0.0f);
            p.v.assign(ggml_nelements(p.student), 0.0f);
            out.push_back(std::move(p));
        }
    }
    std::sort(out.begin(), out.end(), [](const lora_param & a, const lora_param & b) { return a.name < b.name; });
    return out;
}

std::vector<float> tensor_to_host(const ggml_tensor * t) {
    std::vector<float> out(ggml_nelements(t));
    ggml_backend_tensor_get(t, out.data(), 0, ggml_nbytes(t));
    return out;
}

void host_to_tensor(ggml_tensor * t, const std::vector<float> & data) {
    ggml_backend_tensor_set(t, data.data(), 0, ggml_nbytes(t));
}

static const char moments_magic[8] = { 'T', 'T', 'S', 'D', 'A', 'D', 'M', '1' };

void save_moments(const std::string & path, const std::vector<lora_param> & params) {
    std::ofstream f(path, std::ios::binary);
    f.write(moments_magic, 8);
    const uint64_t n = params.size();
    f.write((const char *) &n, 8);
    for (const auto & p : params) {
        const uint64_t len = p.name.size(), count = p.m.size();
        f.write((const char *) &len, 8);
        f.write(p.name.data(), (std::streamsize) len);
        f.write((const char *) &count, 8);
        f.write((const char *) p.m.data(), (std::streamsize) (count * sizeof(float)));
        f.write((const char *) p.v.data(), (std::streamsize) (count * sizeof(float)));
    }
    if (!f) throw std::runtime_error("cannot write " + path);
}

void load_moments(const std::string & path, std::vector<lora_param> & params) {
    std::ifstream f(path, std::ios::binary);
    char magic[8];
    uint64_t n = 0;
    f.read(magic, 8);
    f.read((char *) &n, 8);
    if (!f || memcmp(magic, moments_magic, 8) != 0 || n != params.size()) {
        throw std::runtime_error("optimizer state " + path + " is missing or belongs to another adapter layout");
    }
    for (auto & p : params) {
        uint64_t len = 0, count = 0;
        f.read((char *) &len, 8);
        std::string name(len, '\0');
        f.read(name.data(), (std::streamsize) len);
        f.read((char *) &count, 8);
        if (!f || name != p.name || count != p.m.size()) {
            throw std::runtime_error("optimizer state " + path + " does not match adapter tensor " + p.name);
        }
        f.read((char *) p.m.data(), (std::streamsize) (count * sizeof(float)));
        f.read((char *) p.v.data(), (std::streamsize) (count * sizeof(float)));
    }
    if (!f) throw std::runtime_error("optimizer state " + path + " is truncated");
}
