#include "engine/text/jinja/template.h"

#include "absl/status/status.h"
#include "engine/text/jinja/interpreter.h"
#include "engine/text/jinja/lexer.h"
#include "engine/text/jinja/parser.h"

namespace loom::jinja {

absl::StatusOr<Template> Template::Parse(std::string_view source, std::string name) {
  absl::StatusOr<std::vector<Token>> tokens = Lex(source, name);
  if (!tokens.ok()) return tokens.status();
  absl::StatusOr<Body> body = jinja::Parse(*std::move(tokens), name);
  if (!body.ok()) return body.status();
  return Template(std::make_shared<const std::string>(std::move(name)),
                  std::make_shared<const Body>(*std::move(body)));
}

absl::StatusOr<std::string> Template::Render(std::vector<std::pair<std::string, Value>> context,
                                             const RenderLimits& limits) const {
  Budget budget(limits);
  Interpreter interpreter(*name_, budget);
  return interpreter.Render(*body_, std::move(context));
}

absl::StatusOr<std::string> Template::RenderJson(const nlohmann::ordered_json& context,
                                                 const RenderLimits& limits) const {
  if (!context.is_object()) {
    return absl::InvalidArgumentError("template context must be a JSON object");
  }
  std::vector<std::pair<std::string, Value>> variables;
  for (const auto& [key, json] : context.items()) {
    absl::StatusOr<Value> value = Value::FromJson(json);
    if (!value.ok()) return value.status();
    variables.emplace_back(key, *std::move(value));
  }
  return Render(std::move(variables), limits);
}

}  // namespace loom::jinja
