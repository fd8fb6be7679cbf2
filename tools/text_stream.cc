#include "tools/text_stream.h"

#include <string_view>

namespace loom {
namespace {

constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD in UTF-8

}  // namespace

std::string TextStream::Push(int32_t id) {
  ids_.push_back(id);
  return Emit(/*final=*/false);
}

std::string TextStream::Flush() { return Emit(/*final=*/true); }

std::string TextStream::Emit(bool final) {
  auto text = tokenizer_.Decode(ids_, /*skip_special_tokens=*/true);
  if (!text.ok()) return "";
  std::string_view view(*text);
  if (!final && view.ends_with(kReplacement)) view.remove_suffix(kReplacement.size());
  if (view.size() <= emitted_) return "";
  std::string fresh(view.substr(emitted_));
  emitted_ = view.size();
  return fresh;
}

}  // namespace loom
