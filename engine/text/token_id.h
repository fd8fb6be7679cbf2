// The integer type of token ids, shared by the tokenizer and the engine.
#pragma once

#include <cstdint>

namespace loom {

using TokenId = int32_t;

}  // namespace loom
