// The gRPC server end to end: a real server on loopback (bundled model, CPU backend)
// and real gRPC clients. Covers concurrency against solo runs, client cancellation,
// a table of malformed requests, deadlines, queue overflow, API keys, TLS and sessions.
#include "server/server.h"

#include <gmock/gmock.h>
#include <google/protobuf/descriptor.pb.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <sstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "engine/chat/builtin_templates.h"
#include "grpc/reflection/v1alpha/reflection.grpc.pb.h"
#include "loom/v1/generation.grpc.pb.h"
#include "tests/engine/model_test_util.h"

namespace loom {
namespace {

using v1::GenerateRequest;
using v1::GenerateResponse;

struct Stream {
  std::vector<uint32_t> ids;
  std::string text;
  GenerateResponse last;
  int messages = 0;
  grpc::Status status;
};

struct ServerSetup {
  EngineOptions engine{.block_size = 16, .session_len = 512, .max_batch_size = 16};
  EngineConfig config;
  ServerOptions options;
  ServedModelOptions served;
};

class ServerTest : public ::testing::Test {
 protected:
  void StartServer(ServerSetup setup = {}) {
    auto model = LoadServedModel(testing::BundledModelDir(), "tiny", setup.engine, setup.config,
                                 setup.served);
    ASSERT_TRUE(model.ok()) << model.status();
    ModelRegistry models;
    models.Add(*std::move(model));
    setup.options.port = 0;
    setup.options.metrics_port = -1;  // metrics_test covers them
    auto server = Server::Start(std::move(models), setup.options);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    if (!setup.options.tls.has_value()) {
      stub_ = v1::Generation::NewStub(
          grpc::CreateChannel(Target(), grpc::InsecureChannelCredentials()));
    }
  }

  std::string Target() const { return absl::StrCat("127.0.0.1:", server_->port()); }
  Engine& engine() { return *server_->models().models().front()->engine; }

  static void Authorize(grpc::ClientContext& context, const std::string& key) {
    context.AddMetadata("authorization", "Bearer " + key);
  }

  Stream Generate(const GenerateRequest& request,
                  std::function<void(grpc::ClientContext&)> setup = nullptr,
                  v1::Generation::Stub* stub = nullptr) {
    grpc::ClientContext context;
    if (setup) setup(context);
    return Read((stub ? stub : stub_.get())->Generate(&context, request).get());
  }

  static Stream Read(grpc::ClientReader<GenerateResponse>* reader) {
    Stream s;
    GenerateResponse response;
    while (reader->Read(&response)) {
      ++s.messages;
      s.ids.insert(s.ids.end(), response.token_ids().begin(), response.token_ids().end());
      s.text += response.text();
      s.last = response;
    }
    s.status = reader->Finish();
    return s;
  }

  static GenerateRequest Greedy(std::vector<uint32_t> prompt, uint32_t max_tokens) {
    GenerateRequest r;
    for (uint32_t id : prompt) r.mutable_tokens()->add_ids(id);
    r.mutable_sampling()->set_temperature(0.0f);
    r.mutable_sampling()->set_max_tokens(max_tokens);
    r.mutable_sampling()->set_ignore_eos(true);
    return r;
  }

  static std::vector<uint32_t> RandomPrompt(std::mt19937& rng, int length) {
    std::uniform_int_distribution<uint32_t> token(0, 2042);  // below the special tokens
    std::vector<uint32_t> ids(length);
    for (auto& id : ids) id = token(rng);
    return ids;
  }

  // Waits (bounded) until the engine holds no active block and runs nothing: cancelled
  // calls end on the client before the engine has seen the cancel.
  void ExpectEngineIdle() {
    const absl::Time deadline = absl::Now() + absl::Seconds(20);
    EngineStats stats = engine().stats();
    while ((stats.num_blocks_active != 0 || stats.num_requests_running != 0 ||
            stats.num_requests_waiting != 0) &&
           absl::Now() < deadline) {
      absl::SleepFor(absl::Milliseconds(10));
      stats = engine().stats();
    }
    EXPECT_EQ(stats.num_blocks_active, 0);
    EXPECT_EQ(stats.num_requests_running, 0);
    EXPECT_EQ(stats.num_requests_waiting, 0);
  }

  // A request that keeps the engine's only batch slot busy until cancelled.
  std::unique_ptr<grpc::ClientContext> StartBlocker(
      std::unique_ptr<grpc::ClientReader<GenerateResponse>>& reader) {
    auto context = std::make_unique<grpc::ClientContext>();
    reader = stub_->Generate(context.get(), Greedy({1, 2, 3}, 500));
    GenerateResponse first;
    EXPECT_TRUE(reader->Read(&first));  // it is running; wait for the stats to say so
    const absl::Time deadline = absl::Now() + absl::Seconds(10);
    while (engine().stats().num_requests_running != 1 && absl::Now() < deadline) {
      absl::SleepFor(absl::Milliseconds(1));
    }
    return context;
  }

  std::unique_ptr<Server> server_;
  std::unique_ptr<v1::Generation::Stub> stub_;
};

TEST_F(ServerTest, SixtyFourConcurrentStreamsMatchTheirSoloRuns) {
  StartServer();
  std::mt19937 rng(21);
  std::vector<GenerateRequest> requests;
  std::vector<Stream> solo;
  for (int i = 0; i < 64; ++i) {
    requests.push_back(Greedy(RandomPrompt(rng, 1 + rng() % 60), 4 + rng() % 24));
    solo.push_back(Generate(requests.back()));  // alone: nothing else in flight
    ASSERT_TRUE(solo.back().status.ok()) << solo.back().status.error_message();
  }
  std::vector<Stream> concurrent(64);
  std::vector<std::thread> clients;
  for (int i = 0; i < 64; ++i) {
    clients.emplace_back([&, i] { concurrent[i] = Generate(requests[i]); });
  }
  for (auto& t : clients) t.join();
  for (int i = 0; i < 64; ++i) {
    ASSERT_TRUE(concurrent[i].status.ok()) << concurrent[i].status.error_message();
    EXPECT_EQ(concurrent[i].ids, solo[i].ids) << "request " << i;
    EXPECT_EQ(concurrent[i].text, solo[i].text) << "request " << i;
    EXPECT_EQ(concurrent[i].last.finish_reason(), v1::FINISH_REASON_LENGTH);
    EXPECT_EQ(concurrent[i].last.usage().completion_tokens(), requests[i].sampling().max_tokens());
    EXPECT_EQ(concurrent[i].last.usage().prompt_tokens(),
              static_cast<uint32_t>(requests[i].tokens().ids_size()));
  }
  ExpectEngineIdle();
}

TEST_F(ServerTest, ClientsCancellingAtRandomPointsReturnEveryBlock) {
  StartServer();
  std::mt19937 rng(22);
  std::vector<GenerateRequest> requests;
  std::vector<int> cancel_after;  // messages to read before cancelling; -1: never
  for (int i = 0; i < 64; ++i) {
    requests.push_back(Greedy(RandomPrompt(rng, 1 + rng() % 60), 60));
    cancel_after.push_back(rng() % 10 < 3 ? static_cast<int>(rng() % 5) : -1);
  }
  std::vector<grpc::Status> statuses(64);
  std::vector<std::thread> clients;
  for (int i = 0; i < 64; ++i) {
    clients.emplace_back([&, i] {
      grpc::ClientContext context;
      auto reader = stub_->Generate(&context, requests[i]);
      GenerateResponse response;
      int read = 0;
      while (reader->Read(&response)) {
        if (++read > cancel_after[i] && cancel_after[i] >= 0) context.TryCancel();
      }
      if (cancel_after[i] == 0) context.TryCancel();
      statuses[i] = reader->Finish();
    });
  }
  for (auto& t : clients) t.join();
  int cancelled = 0;
  for (int i = 0; i < 64; ++i) {
    if (cancel_after[i] < 0) {
      EXPECT_TRUE(statuses[i].ok()) << i << ": " << statuses[i].error_message();
    } else {
      cancelled += statuses[i].error_code() == grpc::StatusCode::CANCELLED;
    }
  }
  EXPECT_GT(cancelled, 0);
  ExpectEngineIdle();
  EXPECT_GT(engine().stats().requests_cancelled, 0);
}

struct BadCase {
  std::string name;
  std::function<grpc::Status(v1::Generation::Stub&)> call;
  grpc::StatusCode code;
  std::string mentions;  // a word the message must contain
};

grpc::Status CallGenerate(v1::Generation::Stub& stub, const GenerateRequest& request) {
  grpc::ClientContext context;
  auto reader = stub.Generate(&context, request);
  GenerateResponse response;
  while (reader->Read(&response)) {
  }
  return reader->Finish();
}

grpc::Status CallChat(v1::Generation::Stub& stub, const v1::ChatRequest& request) {
  grpc::ClientContext context;
  auto reader = stub.Chat(&context, request);
  GenerateResponse response;
  while (reader->Read(&response)) {
  }
  return reader->Finish();
}

TEST_F(ServerTest, MalformedRequestsGetTheirExactStatusAndTheServerGoesOn) {
  StartServer({.engine = {.block_size = 16, .session_len = 256, .max_batch_size = 4}});
  using Edit = std::function<void(GenerateRequest&)>;
  auto generate = [](Edit edit) {
    return [edit](v1::Generation::Stub& stub) {
      GenerateRequest r;
      r.set_text("ROMEO:");
      r.mutable_sampling()->set_max_tokens(4);
      edit(r);
      return CallGenerate(stub, r);
    };
  };
  using ChatEdit = std::function<void(v1::ChatRequest&)>;
  auto chat = [](ChatEdit edit) {
    return [edit](v1::Generation::Stub& stub) {
      v1::ChatRequest r;
      auto* m = r.add_messages();
      m->set_role("user");
      m->set_content("Speak.");
      r.mutable_sampling()->set_max_tokens(4);
      edit(r);
      return CallChat(stub, r);
    };
  };
  const auto kInvalid = grpc::StatusCode::INVALID_ARGUMENT;
  std::vector<BadCase> cases = {
      {"no prompt", generate([](auto& r) { r.clear_prompt(); }), kInvalid, "prompt"},
      {"empty text", generate([](auto& r) { r.set_text(""); }), kInvalid, "prompt"},
      {"empty tokens", generate([](auto& r) { r.mutable_tokens(); }), kInvalid, "tokens"},
      {"token outside vocab", generate([](auto& r) { r.mutable_tokens()->add_ids(1u << 20); }),
       kInvalid, "vocabulary"},
      {"huge token id", generate([](auto& r) { r.mutable_tokens()->add_ids(4294967295u); }),
       kInvalid, "prompt.tokens.ids[0]"},
      {"negative temperature",
       generate([](auto& r) { r.mutable_sampling()->set_temperature(-0.5f); }), kInvalid,
       "temperature"},
      {"NaN temperature",
       generate([](auto& r) { r.mutable_sampling()->set_temperature(std::nanf("")); }), kInvalid,
       "temperature"},
      {"top_p zero", generate([](auto& r) { r.mutable_sampling()->set_top_p(0.0f); }), kInvalid,
       "top_p"},
      {"top_p above one", generate([](auto& r) { r.mutable_sampling()->set_top_p(1.5f); }),
       kInvalid, "(0, 1]"},
      {"negative top_k", generate([](auto& r) { r.mutable_sampling()->set_top_k(-3); }), kInvalid,
       "top_k"},
      {"min_p above one", generate([](auto& r) { r.mutable_sampling()->set_min_p(2.0f); }),
       kInvalid, "min_p"},
      {"zero repetition penalty",
       generate([](auto& r) { r.mutable_sampling()->set_repetition_penalty(0.0f); }), kInvalid,
       "repetition_penalty"},
      {"presence penalty too big",
       generate([](auto& r) { r.mutable_sampling()->set_presence_penalty(3.0f); }), kInvalid,
       "presence_penalty"},
      {"frequency penalty too small",
       generate([](auto& r) { r.mutable_sampling()->set_frequency_penalty(-2.5f); }), kInvalid,
       "frequency_penalty"},
      {"max_tokens zero", generate([](auto& r) { r.mutable_sampling()->set_max_tokens(0); }),
       kInvalid, "max_tokens"},
      {"max_tokens over the limit",
       generate([](auto& r) { r.mutable_sampling()->set_max_tokens(100000); }), kInvalid,
       "[1, 256]"},
      {"prompt + max_tokens over the context",
       generate([](auto& r) { r.mutable_sampling()->set_max_tokens(255); }), kInvalid,
       "exceeds session_len 256"},
      {"long prompt over the context", generate([](auto& r) {
         r.clear_prompt();
         for (int i = 0; i < 300; ++i) r.mutable_tokens()->add_ids(5);
       }),
       kInvalid, "300 tokens"},
      {"empty stop string", generate([](auto& r) { r.mutable_sampling()->add_stop(""); }), kInvalid,
       "stop[0]"},
      {"too many stop strings", generate([](auto& r) {
         for (int i = 0; i < 17; ++i) r.mutable_sampling()->add_stop(absl::StrCat("w", i));
       }),
       kInvalid, "at most 16"},
      {"stop string too long",
       generate([](auto& r) { r.mutable_sampling()->add_stop(std::string(300, 'x')); }), kInvalid,
       "stop[0]"},
      {"stop token outside vocab",
       generate([](auto& r) { r.mutable_sampling()->add_stop_token_ids(999999); }), kInvalid,
       "stop_token_ids[0]"},
      {"too many logprobs", generate([](auto& r) { r.mutable_sampling()->set_logprobs(21); }),
       kInvalid, "logprobs"},
      {"request id too long", generate([](auto& r) { r.set_request_id(std::string(300, 'r')); }),
       kInvalid, "request_id"},
      {"session id too long", generate([](auto& r) { r.set_session_id(std::string(300, 's')); }),
       kInvalid, "session_id"},
      {"end_session without a session", generate([](auto& r) { r.set_end_session(true); }),
       kInvalid, "end_session"},
      {"unknown model", generate([](auto& r) { r.set_model("gpt-5"); }),
       grpc::StatusCode::NOT_FOUND, "gpt-5"},
      {"chat without messages", chat([](auto& r) { r.clear_messages(); }), kInvalid, "messages"},
      {"chat with an invalid role",
       chat([](auto& r) { r.mutable_messages(0)->set_role("wizard"); }), kInvalid,
       "messages[0].role"},
      {"chat with an empty role", chat([](auto& r) { r.mutable_messages(0)->set_role(""); }),
       kInvalid, "messages[0].role"},
      {"chat with a bad temperature",
       chat([](auto& r) { r.mutable_sampling()->set_temperature(-1.0f); }), kInvalid,
       "temperature"},
      {"chat with an unknown model", chat([](auto& r) { r.set_model("nope"); }),
       grpc::StatusCode::NOT_FOUND, "nope"},
      {"chat over the context", chat([](auto& r) { r.mutable_sampling()->set_max_tokens(256); }),
       kInvalid, "session_len"},
      {"tokenize an unknown model",
       [](v1::Generation::Stub& stub) {
         grpc::ClientContext context;
         v1::TokenizeRequest r;
         r.set_model("missing");
         r.set_text("hi");
         v1::TokenizeResponse response;
         return stub.Tokenize(&context, r, &response);
       },
       grpc::StatusCode::NOT_FOUND, "missing"},
  };
  ASSERT_GE(cases.size(), 30u);
  for (const BadCase& c : cases) {
    const grpc::Status status = c.call(*stub_);
    EXPECT_EQ(status.error_code(), c.code) << c.name << ": " << status.error_message();
    EXPECT_NE(status.error_message().find(c.mentions), std::string::npos)
        << c.name << ": '" << status.error_message() << "' does not mention '" << c.mentions << "'";
  }
  // Still serving, with nothing leaked.
  Stream ok = Generate(Greedy({2043, 866, 25}, 8));
  EXPECT_TRUE(ok.status.ok()) << ok.status.error_message();
  EXPECT_EQ(ok.ids.size(), 8u);
  ExpectEngineIdle();
}

TEST_F(ServerTest, DeadlinePassingInTheQueueEndsTheCallBeforePrefill) {
  StartServer({.engine = {.block_size = 16, .session_len = 1024, .max_batch_size = 1}});
  std::unique_ptr<grpc::ClientReader<GenerateResponse>> blocker;
  auto blocker_context = StartBlocker(blocker);
  const int64_t queries_before = engine().stats().prefix_cache_queries;

  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(200));
  Stream late = Read(stub_->Generate(&context, Greedy({7, 8, 9}, 4)).get());
  EXPECT_EQ(late.status.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  EXPECT_TRUE(late.ids.empty());

  blocker_context->TryCancel();
  EXPECT_EQ(blocker->Finish().error_code(), grpc::StatusCode::CANCELLED);
  ExpectEngineIdle();
  const EngineStats stats = engine().stats();
  EXPECT_EQ(stats.requests_failed, 1);                    // the deadline, seen before any prefill
  EXPECT_EQ(stats.prefix_cache_queries, queries_before);  // it was never admitted
}

TEST_F(ServerTest, FullQueueGetsResourceExhausted) {
  StartServer({.engine = {.block_size = 16, .session_len = 1024, .max_batch_size = 1},
               .config = {.max_queued_requests = 2}});
  std::unique_ptr<grpc::ClientReader<GenerateResponse>> blocker;
  auto blocker_context = StartBlocker(blocker);
  // Two wait behind it; the third finds the queue full.
  std::vector<std::unique_ptr<grpc::ClientContext>> contexts;
  std::vector<std::unique_ptr<grpc::ClientReader<GenerateResponse>>> waiting;
  for (int i = 0; i < 2; ++i) {
    contexts.push_back(std::make_unique<grpc::ClientContext>());
    waiting.push_back(stub_->Generate(contexts.back().get(), Greedy({4, 5}, 4)));
  }
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (engine().stats().num_requests_waiting < 2 && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(5));
  }
  Stream rejected = Generate(Greedy({6, 7}, 4));
  EXPECT_EQ(rejected.status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED)
      << rejected.status.error_message();
  EXPECT_NE(rejected.status.error_message().find("max_queued_requests"), std::string::npos);

  blocker_context->TryCancel();
  blocker->Finish();
  for (auto& reader : waiting) {
    GenerateResponse response;
    while (reader->Read(&response)) {
    }
    EXPECT_TRUE(reader->Finish().ok());
  }
  ExpectEngineIdle();
}

TEST_F(ServerTest, ApiKeysGuardEveryRpc) {
  ServerSetup setup;
  auto keys = ApiKeys::Create({"s3cret", "other"});
  ASSERT_TRUE(keys.ok());
  setup.options.api_keys = *keys;
  StartServer(setup);
  GenerateRequest request = Greedy({2043, 866, 25}, 4);
  for (const std::string& key : {std::string(), std::string("wrong"), std::string("s3cre")}) {
    Stream s = Generate(request, [&](grpc::ClientContext& c) {
      if (!key.empty()) Authorize(c, key);
    });
    EXPECT_EQ(s.status.error_code(), grpc::StatusCode::UNAUTHENTICATED) << key;
    EXPECT_EQ(s.status.error_message().find("s3cret"), std::string::npos);
  }
  {
    grpc::ClientContext context;
    v1::ListModelsResponse response;
    EXPECT_EQ(stub_->ListModels(&context, {}, &response).error_code(),
              grpc::StatusCode::UNAUTHENTICATED);
  }
  {
    grpc::ClientContext context;
    v1::TokenizeRequest tokenize;
    tokenize.set_text("hi");
    v1::TokenizeResponse response;
    EXPECT_EQ(stub_->Tokenize(&context, tokenize, &response).error_code(),
              grpc::StatusCode::UNAUTHENTICATED);
  }
  {
    v1::ChatRequest chat;
    chat.add_messages()->set_content("hi");
    chat.mutable_messages(0)->set_role("user");
    EXPECT_EQ(CallChat(*stub_, chat).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  }
  for (const std::string key : {"s3cret", "other"}) {
    Stream s = Generate(request, [&](grpc::ClientContext& c) { Authorize(c, key); });
    EXPECT_TRUE(s.status.ok()) << s.status.error_message();
    EXPECT_EQ(s.ids.size(), 4u);
  }
  grpc::ClientContext context;
  Authorize(context, "other");
  v1::ListModelsResponse models;
  ASSERT_TRUE(stub_->ListModels(&context, {}, &models).ok());
  ASSERT_EQ(models.models_size(), 1);
  EXPECT_EQ(models.models(0).name(), "tiny");
  EXPECT_EQ(models.models(0).max_context(), 512u);
}

// Writes a self-signed certificate for 127.0.0.1/localhost with openssl.
bool MakeCertificate(const std::filesystem::path& dir, const std::string& name) {
  const std::string command = absl::StrCat(
      "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=localhost -addext "
      "subjectAltName=DNS:localhost,IP:127.0.0.1 -keyout ",
      (dir / (name + ".key")).string(), " -out ", (dir / (name + ".pem")).string(),
      " >/dev/null 2>&1");
  return std::system(command.c_str()) == 0;
}

std::string ReadText(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

TEST_F(ServerTest, MutualTlsServesOnlyClientsWithACertificate) {
  const auto dir = std::filesystem::temp_directory_path() / absl::StrCat("loom_tls_", getpid());
  std::filesystem::create_directories(dir);
  ASSERT_TRUE(MakeCertificate(dir, "server") && MakeCertificate(dir, "client"))
      << "openssl could not make test certificates";
  ServerSetup setup;
  setup.options.tls = TlsOptions{.cert_file = (dir / "server.pem").string(),
                                 .key_file = (dir / "server.key").string(),
                                 .client_ca_file = (dir / "client.pem").string()};
  StartServer(setup);
  const GenerateRequest request = Greedy({2043, 866, 25}, 4);

  grpc::SslCredentialsOptions with_cert{.pem_root_certs = ReadText(dir / "server.pem"),
                                        .pem_private_key = ReadText(dir / "client.key"),
                                        .pem_cert_chain = ReadText(dir / "client.pem")};
  auto good =
      v1::Generation::NewStub(grpc::CreateChannel(Target(), grpc::SslCredentials(with_cert)));
  Stream ok = Generate(request, nullptr, good.get());
  EXPECT_TRUE(ok.status.ok()) << ok.status.error_message();
  EXPECT_EQ(ok.ids.size(), 4u);

  grpc::SslCredentialsOptions no_cert{.pem_root_certs = ReadText(dir / "server.pem")};
  auto anonymous =
      v1::Generation::NewStub(grpc::CreateChannel(Target(), grpc::SslCredentials(no_cert)));
  EXPECT_FALSE(Generate(request, nullptr, anonymous.get()).status.ok());
  auto plain =
      v1::Generation::NewStub(grpc::CreateChannel(Target(), grpc::InsecureChannelCredentials()));
  EXPECT_FALSE(Generate(request, nullptr, plain.get()).status.ok());
  std::filesystem::remove_all(dir);
}

TEST_F(ServerTest, SessionTurnsReuseTheirKvOverGrpc) {
  StartServer({.config = {.enable_prefix_caching = false}});
  GenerateRequest first;
  first.set_text("ROMEO: Is the day so young?");
  first.set_session_id("conversation-1");
  first.mutable_sampling()->set_temperature(0.0f);
  first.mutable_sampling()->set_max_tokens(6);
  first.mutable_sampling()->set_ignore_eos(true);
  Stream one = Generate(first);
  ASSERT_TRUE(one.status.ok()) << one.status.error_message();
  const uint32_t history = one.last.usage().prompt_tokens() + 6;

  GenerateRequest second = first;
  second.set_text(" JULIET:");
  second.set_end_session(true);
  Stream two = Generate(second);
  ASSERT_TRUE(two.status.ok()) << two.status.error_message();
  EXPECT_GT(two.last.usage().prompt_tokens(), history);
  EXPECT_EQ(two.last.usage().cached_prompt_tokens(), history - 1);
  ExpectEngineIdle();
  EXPECT_EQ(engine().stats().num_sessions, 0);
}

TEST_F(ServerTest, ChatRendersTheTemplateAndStreams) {
  StartServer();
  v1::ChatRequest chat;
  auto* m = chat.add_messages();
  m->set_role("user");
  m->set_content("Speak, ROMEO.");
  chat.mutable_sampling()->set_temperature(0.0f);
  chat.mutable_sampling()->set_max_tokens(5);
  chat.set_request_id("chat-7");
  grpc::ClientContext context;
  Stream s = Read(stub_->Chat(&context, chat).get());
  ASSERT_TRUE(s.status.ok()) << s.status.error_message();
  EXPECT_EQ(s.last.request_id(), "chat-7");
  EXPECT_GT(s.last.usage().prompt_tokens(), 5u);  // BOS, headers and the message

  grpc::ClientContext tokenize_context;
  v1::TokenizeRequest tokenize;
  tokenize.set_text("ROMEO:");
  v1::TokenizeResponse ids;
  ASSERT_TRUE(stub_->Tokenize(&tokenize_context, tokenize, &ids).ok());
  EXPECT_GE(ids.ids_size(), 2);
}

TEST_F(ServerTest, ModelDefaultStopAppliesUnlessTheRequestSetsItsOwn) {
  ServerSetup setup;
  setup.served.sampling.stop = {"noted."};  // as a model YAML's sampling.stop
  StartServer(setup);
  GenerateRequest request;
  request.set_text("ROMEO:");  // greedy: " I have, I am noted.\n\nROMEO:\nI am a man, ..."
  request.mutable_sampling()->set_temperature(0.0f);
  request.mutable_sampling()->set_max_tokens(40);
  Stream by_default = Generate(request);
  ASSERT_TRUE(by_default.status.ok()) << by_default.status.error_message();
  EXPECT_EQ(by_default.text, " I have, I am ");
  EXPECT_EQ(by_default.last.finish_reason(), v1::FINISH_REASON_STOP);

  request.mutable_sampling()->add_stop(",");
  Stream own = Generate(request);
  ASSERT_TRUE(own.status.ok()) << own.status.error_message();
  EXPECT_EQ(own.text, " I have");
}

TEST_F(ServerTest, ChatStopsAtTheNamedTemplatesStopWords) {
  ServerSetup setup;
  std::optional<NamedChatTemplate> named = FindBuiltinChatTemplate("llama3");
  ASSERT_TRUE(named.has_value());
  named->stop_words = {"\n"};  // as a model YAML's chat_template would set them
  setup.served.chat_template = *named;
  StartServer(setup);
  v1::ChatRequest chat;
  auto* m = chat.add_messages();
  m->set_role("user");
  m->set_content("Speak, ROMEO.");
  chat.mutable_sampling()->set_temperature(0.0f);
  chat.mutable_sampling()->set_max_tokens(200);
  grpc::ClientContext context;
  Stream s = Read(stub_->Chat(&context, chat).get());
  ASSERT_TRUE(s.status.ok()) << s.status.error_message();
  EXPECT_EQ(s.last.finish_reason(), v1::FINISH_REASON_STOP) << s.text;
  // In a byte-level vocabulary "\n" is no token's string (that is "Ċ"), so it is a stop
  // string: the reply ends before the first newline, which is not part of the text.
  EXPECT_EQ(s.text.find('\n'), std::string::npos) << s.text;
  EXPECT_LT(s.ids.size(), 200u);
}

namespace rpb = grpc::reflection::v1alpha;

// Sends `requests` on one reflection stream and returns the responses and the status.
std::pair<std::vector<rpb::ServerReflectionResponse>, grpc::Status> Reflect(
    const std::string& target, const std::vector<rpb::ServerReflectionRequest>& requests,
    const std::string& api_key = "") {
  auto stub = rpb::ServerReflection::NewStub(
      grpc::CreateChannel(target, grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  if (!api_key.empty()) context.AddMetadata("authorization", "Bearer " + api_key);
  auto stream = stub->ServerReflectionInfo(&context);
  std::vector<rpb::ServerReflectionResponse> responses;
  for (const auto& request : requests) {
    if (!stream->Write(request)) break;
    rpb::ServerReflectionResponse response;
    if (!stream->Read(&response)) break;
    responses.push_back(response);
  }
  stream->WritesDone();
  return {responses, stream->Finish()};
}

TEST_F(ServerTest, ReflectionDescribesTheApiBehindTheApiKeys) {
  ServerSetup setup;
  auto keys = ApiKeys::Create({"k3y"});
  ASSERT_TRUE(keys.ok());
  setup.options.api_keys = *keys;
  StartServer(setup);
  rpb::ServerReflectionRequest list, symbol, missing;
  list.set_list_services("");
  symbol.set_file_containing_symbol("loom.v1.Generation");
  missing.set_file_containing_symbol("loom.v1.Nope");

  auto [denied, denied_status] = Reflect(Target(), {list});
  EXPECT_EQ(denied_status.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_TRUE(denied.empty());

  auto [responses, status] = Reflect(Target(), {list, symbol, missing}, "k3y");
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_EQ(responses.size(), 3u);
  std::vector<std::string> services;
  for (const auto& s : responses[0].list_services_response().service()) {
    services.push_back(s.name());
  }
  EXPECT_THAT(services, ::testing::Contains("loom.v1.Generation"));
  EXPECT_THAT(services, ::testing::Contains("grpc.health.v1.Health"));
  ASSERT_GE(responses[1].file_descriptor_response().file_descriptor_proto_size(), 1);
  google::protobuf::FileDescriptorProto file;
  ASSERT_TRUE(
      file.ParseFromString(responses[1].file_descriptor_response().file_descriptor_proto(0)));
  EXPECT_EQ(file.name(), "loom/v1/generation.proto");
  ASSERT_EQ(file.service_size(), 1);
  EXPECT_EQ(file.service(0).method_size(), 4);
  EXPECT_EQ(responses[2].error_response().error_code(), grpc::StatusCode::NOT_FOUND);
}

}  // namespace
}  // namespace loom
