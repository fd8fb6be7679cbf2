#include "engine/text/jinja/args.h"

#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace loom::jinja {

absl::StatusOr<std::vector<std::optional<Value>>> BindArgs(
    std::string_view what, const CallArgs& args, std::initializer_list<std::string_view> params) {
  std::vector<std::optional<Value>> bound(params.size());
  if (args.positional.size() > params.size()) {
    return absl::InvalidArgumentError(absl::StrCat(std::string(what), " takes at most ",
                                                   params.size(), " argument(s), got ",
                                                   args.positional.size()));
  }
  for (size_t i = 0; i < args.positional.size(); ++i) bound[i] = args.positional[i];
  for (const auto& [name, value] : args.keyword) {
    size_t index = 0;
    for (std::string_view param : params) {
      if (param == name) break;
      ++index;
    }
    if (index == params.size()) {
      return absl::InvalidArgumentError(
          absl::StrCat(std::string(what), " got an unexpected keyword argument '", name, "'"));
    }
    if (bound[index].has_value()) {
      return absl::InvalidArgumentError(
          absl::StrCat(std::string(what), " got multiple values for argument '", name, "'"));
    }
    bound[index] = value;
  }
  return bound;
}

}  // namespace loom::jinja
