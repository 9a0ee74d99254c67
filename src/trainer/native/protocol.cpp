#include "protocol.h"

#include <stdexcept>

static bool read_exact(FILE * in, void * dst, size_t n, bool allow_eof) {
    const size_t got = fread(dst, 1, n, in);
    if (got == n) return true;
    if (got == 0 && allow_eof && feof(in)) return false;
    throw std::runtime_error("truncated frame on stdin");
}

static uint32_t read_u32(FILE * in, bool allow_eof, bool & eof) {
    uint8_t b[4];
    eof = !read_exact(in, b, 4, allow_eof);
    return eof ? 0 : (uint32_t) b[0] | (uint32_t) b[1] << 8 | (uint32_t) b[2] << 16 | (uint32_t) b[3] << 24;
}

bool read_frame(FILE * in, frame & out) {
    bool eof = false;
    const uint32_t n_header = read_u32(in, true, eof);
    if (eof) return false;
    std::string text(n_header, '\0');
    read_exact(in, text.data(), n_header, false);
    out.header = nlohmann::json::parse(text);
    const uint32_t n_payload = read_u32(in, false, eof);
    out.payload.resize(n_payload);
    if (n_payload > 0) read_exact(in, out.payload.data(), n_payload, false);
    return true;
}

static void write_u32(FILE * out, uint32_t v) {
    const uint8_t b[4] = { (uint8_t) v, (uint8_t) (v >> 8), (uint8_t) (v >> 16), (uint8_t) (v >> 24) };
    fwrite(b, 1, 4, out);
}

void write_frame(FILE * out, const nlohmann::json & header, const std::vector<uint8_t> & payload) {
    // non-finite numbers are not JSON: they travel as null and the client reads null as NaN
    const std::string text = header.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    write_u32(out, (uint32_t) text.size());
    fwrite(text.data(), 1, text.size(), out);
    write_u32(out, (uint32_t) payload.size());
    if (!payload.empty()) fwrite(payload.data(), 1, payload.size(), out);
    fflush(out);
}
