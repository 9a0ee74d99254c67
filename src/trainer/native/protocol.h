// Framed messages over stdin/stdout between the ttsd trainer and its TypeScript client
// (src/trainer/protocol.ts). A frame is:
//   uint32 LE header length, header (UTF-8 JSON object), uint32 LE payload length, payload bytes.
// The payload carries bulk numbers (int32 token ids, float32 log-probs) so that the header stays small.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

struct frame {
    nlohmann::json header;
    std::vector<uint8_t> payload;
};

// false on a clean end of input (the client closed stdin)
bool read_frame(FILE * in, frame & out);
void write_frame(FILE * out, const nlohmann::json & header, const std::vector<uint8_t> & payload = {});
