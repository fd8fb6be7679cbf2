// A parsed Jinja template, rendered the way transformers renders chat templates.
//
// This is the jinja library's entry point: Parse() once, Render() many times. The
// dialect is jinja2's as transformers configures it (trim_blocks, lstrip_blocks, the
// immutable sandbox, loopcontrols, its tojson/raise_exception/strftime_now); see
// lexer.h, parser.h, filters.h, predicates.h, methods.h and builtins.h for what is
// supported, and budget.h for the limits that make rendering untrusted templates safe.
//
// Thread-safety: a Template is immutable; Render() may run concurrently from any thread.
// Copies share the parsed tree.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/text/jinja/ast.h"
#include "engine/text/jinja/budget.h"
#include "engine/text/jinja/value.h"
#include "nlohmann/json.hpp"

namespace loom::jinja {

class Template {
 public:
  // Parses `source`. `name` prefixes error messages: "NAME:LINE: message".
  // Errors: InvalidArgument for syntax errors and unsupported tags, filters and tests.
  static absl::StatusOr<Template> Parse(std::string_view source, std::string name = "template");

  // Renders with `context` as the top-level variables.
  // Errors: InvalidArgument "NAME:LINE: message" for runtime errors (undefined values
  // used, type errors, raise_exception(message)); ResourceExhausted past `limits`.
  absl::StatusOr<std::string> Render(std::vector<std::pair<std::string, Value>> context,
                                     const RenderLimits& limits = {}) const;

  // As above, with the members of the JSON object `context` as the variables.
  // Errors: also InvalidArgument when `context` is not an object or nests too deeply.
  absl::StatusOr<std::string> RenderJson(const nlohmann::ordered_json& context,
                                         const RenderLimits& limits = {}) const;

  const std::string& name() const { return *name_; }

 private:
  Template(std::shared_ptr<const std::string> name, std::shared_ptr<const Body> body)
      : name_(std::move(name)), body_(std::move(body)) {}

  std::shared_ptr<const std::string> name_;
  std::shared_ptr<const Body> body_;
};

}  // namespace loom::jinja
