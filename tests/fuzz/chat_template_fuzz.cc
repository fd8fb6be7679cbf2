// Rendering arbitrary templates: never crashes, never exceeds the output bound; any
// failure is a Status.
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "engine/text/jinja/chat_template.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace loom;
  const std::string_view source(reinterpret_cast<const char*>(data), size);
  auto chat_template = ChatTemplate::Parse(source);
  if (!chat_template.ok()) return 0;
  const std::vector<ChatMessage> messages = {
      {.role = "system", .content = "Be brief."},
      {.role = "user", .content = "Hello!"},
      {.role = "assistant", .content = "Hi."},
      {.role = "user", .content = "你好 👍"},
  };
  for (bool generation_prompt : {false, true}) {
    ChatTemplate::Options options;
    options.add_generation_prompt = generation_prompt;
    auto text = chat_template->Render(messages, options);
    if (text.ok()) {
      fuzz::Require(text->size() <= options.limits.max_output_bytes, "output within its bound");
    }
  }
  return 0;
}
