#include "tools/chat_command.h"

#include <iostream>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "server/chat_request.h"
#include "server/served_model.h"
#include "tools/bundled_model.h"
#include "tools/chat_repl.h"

namespace loom {
namespace {

struct ChatFlags {
  std::string model_dir;
  std::optional<std::string> system;
  std::optional<float> temperature;
  std::optional<float> top_p;
  std::optional<int> top_k;
  std::optional<uint32_t> max_tokens;
  int session_len = 0;
};

// One local conversation: an engine session whose KV stays between turns.
class LocalChat {
 public:
  LocalChat(ServedModel* model, const ChatFlags& flags) : model_(model), flags_(flags) {}

  absl::Status Turn(const std::string& text, std::ostream& out) {
    v1::ChatRequest proto;
    if (first_turn_ && flags_.system.has_value()) {
      v1::ChatMessage* system = proto.add_messages();
      system->set_role("system");
      system->set_content(*flags_.system);
    }
    v1::ChatMessage* user = proto.add_messages();
    user->set_role("user");
    user->set_content(text);
    proto.set_session_id(SessionId());
    v1::SamplingParams& s = *proto.mutable_sampling();
    if (flags_.temperature) s.set_temperature(*flags_.temperature);
    if (flags_.top_p) s.set_top_p(*flags_.top_p);
    if (flags_.top_k) s.set_top_k(*flags_.top_k);
    if (flags_.max_tokens) s.set_max_tokens(*flags_.max_tokens);
    auto request = BuildChatRequest(proto, *model_);
    if (!request.ok()) return request.status();
    auto status = Stream(*std::move(request), out);
    first_turn_ = false;
    return status;
  }

  absl::Status Reset() {
    if (first_turn_) return absl::OkStatus();
    Request end;
    end.session_id = SessionId();
    end.end_session = true;
    absl::Status status = Stream(std::move(end), std::cout);
    ++conversation_;
    first_turn_ = true;
    return status;
  }

 private:
  std::string SessionId() const { return absl::StrCat("chat-", conversation_); }

  absl::Status Stream(Request request, std::ostream& out) {
    auto channel = model_->engine->Submit(std::move(request));
    if (!channel.ok()) return channel.status();
    while (std::optional<RequestOutput> o = (*channel)->Next()) {
      out << o->text << std::flush;
      if (!o->status.ok()) return o->status;
    }
    return absl::OkStatus();
  }

  ServedModel* model_;
  const ChatFlags& flags_;
  int conversation_ = 0;
  bool first_turn_ = true;
};

absl::Status RunChat(const ChatFlags& flags) {
  std::filesystem::path dir = flags.model_dir;
  if (dir.empty()) {
    auto bundled = BundledModelDir();
    if (!bundled.ok()) return bundled.status();
    dir = *bundled;
  }
  auto model =
      LoadServedModel(dir, "", EngineOptions{.session_len = flags.session_len, .max_batch_size = 1},
                      EngineConfig{});
  if (!model.ok()) return model.status();
  std::cout << "loom chat: " << model->name << " (" << model->chat->Describe() << ")\n";
  LocalChat chat(&*model, flags);
  return RunChatRepl(ChatRepl{.turn = [&](const std::string& text,
                                          std::ostream& out) { return chat.Turn(text, out); },
                              .reset = [&] { return chat.Reset(); }},
                     std::cin, std::cout, std::cerr);
}

}  // namespace

void AddChatCommand(CLI::App& app, int& exit_code) {
  auto flags = std::make_shared<ChatFlags>();
  CLI::App* cmd = app.add_subcommand("chat", "Chat with a model in the terminal (no server)");
  cmd->add_option("MODEL_DIR", flags->model_dir,
                  "Hugging Face model directory (default: the bundled tiny model)");
  cmd->add_option("--system", flags->system, "System prompt of each conversation");
  cmd->add_option("--temperature", flags->temperature, "0 = greedy")->check(CLI::NonNegativeNumber);
  cmd->add_option("--top-p", flags->top_p, "Nucleus mass in (0, 1]");
  cmd->add_option("--top-k", flags->top_k, "Keep the k most likely tokens (0 = off)");
  cmd->add_option("--max-tokens", flags->max_tokens, "Most tokens per reply");
  cmd->add_option("--session-len", flags->session_len,
                  "Longest conversation in tokens (0: the model's max_position_embeddings)");
  cmd->callback([flags, &exit_code] {
    if (auto status = RunChat(*flags); !status.ok()) {
      std::cerr << "loom chat: " << status.message() << "\n";
      exit_code = 1;
    }
  });
}

}  // namespace loom
