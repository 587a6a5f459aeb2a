// The server's request parser, response builder and metrics, without HTTP: the parser
// and the response builder use the default model's tokenizer and chat template.
#include <gtest/gtest.h>

#include <filesystem>
#include <memory>
#include <string>

#include "chat/chat_template.h"
#include "gguf/gguf_file.h"
#include "server/metrics.h"
#include "server/openai_request.h"
#include "server/openai_response.h"
#include "tokenizer/tokenizer.h"

namespace kvinfer::server {
namespace {

const std::filesystem::path kModel = std::filesystem::path(KVINFER_MODELS_DIR) / "SmolLM2-135M-Instruct.Q4_1.gguf";

class ServerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!std::filesystem::exists(kModel)) return;
    file_ = new gguf::File(kModel.string());
    tokenizer_ = Tokenizer::from_gguf(*file_).release();
    template_ = new chat::ChatTemplate(std::string(*file_->get_string("tokenizer.chat_template")));
  }
  static void TearDownTestSuite() {
    delete template_;
    delete tokenizer_;
    delete file_;
  }
  void SetUp() override {
    if (tokenizer_ == nullptr) GTEST_SKIP() << "default model not installed: " << kModel;
  }

  RequestParser parser(int n_context = 256) const { return RequestParser(*tokenizer_, template_, ParserOptions{n_context}); }

  static gguf::File* file_;
  static Tokenizer* tokenizer_;
  static chat::ChatTemplate* template_;
};

gguf::File* ServerTest::file_ = nullptr;
Tokenizer* ServerTest::tokenizer_ = nullptr;
chat::ChatTemplate* ServerTest::template_ = nullptr;

TEST_F(ServerTest, ChatRequestRendersTemplate) {
  auto parsed = parser().parse(Endpoint::ChatCompletions, R"({"messages": [{"role": "user", "content": "Hi"}]})");
  ASSERT_TRUE(std::holds_alternative<CompletionCall>(parsed)) << std::get<ApiError>(parsed).message;
  const CompletionCall& call = std::get<CompletionCall>(parsed);
  const std::string expected = "<|im_start|>system\n";
  EXPECT_EQ(tokenizer_->decode(call.generation.prompt, true).substr(0, expected.size()), expected);
  EXPECT_EQ(tokenizer_->decode(call.generation.prompt, true).substr(tokenizer_->decode(call.generation.prompt, true).size() - 22),
            "<|im_start|>assistant\n");
  // OpenAI's sampling defaults, and a reply that may fill the context.
  EXPECT_EQ(call.generation.sampling.temperature, 1.0f);
  EXPECT_EQ(call.generation.sampling.top_p, 1.0f);
  EXPECT_EQ(call.generation.sampling.top_k, 0);
  EXPECT_EQ(call.generation.sampling.min_p, 0.0f);
  EXPECT_EQ(call.generation.max_tokens, 256 - static_cast<int>(call.generation.prompt.size()));
  EXPECT_EQ(call.generation.top_logprobs, -1);
  EXPECT_FALSE(call.stream);
}

TEST_F(ServerTest, CompletionRequestFields) {
  auto parsed = parser().parse(Endpoint::Completions, R"({"prompt": "The capital of France is", "max_tokens": 7,
      "temperature": 0, "seed": 42, "n": 2, "stop": ["\n", "."], "logprobs": 3, "stream": true,
      "stream_options": {"include_usage": true}, "top_k": 5, "min_p": 0.1, "repetition_penalty": 1.2,
      "ignore_eos": true, "cache_salt": "user-1"})");
  ASSERT_TRUE(std::holds_alternative<CompletionCall>(parsed)) << std::get<ApiError>(parsed).message;
  const CompletionCall& call = std::get<CompletionCall>(parsed);
  const GenerationRequest& request = call.generation;
  EXPECT_EQ(request.prompt, tokenizer_->encode_prompt("The capital of France is"));
  EXPECT_EQ(request.max_tokens, 7);
  EXPECT_EQ(request.sampling.temperature, 0.0f);
  EXPECT_EQ(request.sampling.seed, 42u);
  EXPECT_EQ(request.n, 2);
  EXPECT_EQ(request.stop, (std::vector<std::string>{"\n", "."}));
  EXPECT_EQ(request.top_logprobs, 3);
  EXPECT_EQ(request.sampling.top_k, 5);
  EXPECT_FLOAT_EQ(request.sampling.min_p, 0.1f);
  EXPECT_FLOAT_EQ(request.sampling.repetition_penalty, 1.2f);
  EXPECT_TRUE(request.ignore_eos);
  EXPECT_EQ(request.cache_salt, "user-1");
  EXPECT_TRUE(call.stream);
  EXPECT_TRUE(call.include_usage);
  EXPECT_TRUE(call.logprobs);
}

TEST_F(ServerTest, CompletionDefaultsToSixteenTokens) {
  auto parsed = parser().parse(Endpoint::Completions, R"({"prompt": [504, 3575]})");
  ASSERT_TRUE(std::holds_alternative<CompletionCall>(parsed));
  EXPECT_EQ(std::get<CompletionCall>(parsed).generation.max_tokens, 16);
  EXPECT_EQ(std::get<CompletionCall>(parsed).generation.prompt, (std::vector<TokenId>{TokenId{504}, TokenId{3575}}));
}

TEST_F(ServerTest, InvalidRequestsNameTheField) {
  struct Case {
    Endpoint endpoint;
    const char* body;
    const char* param;  // "" for errors about the whole body
  };
  const Case cases[] = {
      {Endpoint::Completions, "", ""},
      {Endpoint::Completions, "{", ""},
      {Endpoint::Completions, "42", ""},
      {Endpoint::Completions, R"({"prompt": "x", "temperature": 1e999})", ""},
      {Endpoint::Completions, R"({})", "prompt"},
      {Endpoint::Completions, R"({"prompt": ""})", "prompt"},
      {Endpoint::Completions, R"({"prompt": [-1]})", "prompt"},
      {Endpoint::Completions, R"({"prompt": ["a", "b"]})", "prompt"},
      {Endpoint::Completions, R"({"prompt": "x", "echo": true})", "echo"},
      {Endpoint::Completions, R"({"prompt": "x", "logprobs": 21})", "logprobs"},
      {Endpoint::Completions, R"({"prompt": "x", "best_of": 3})", "best_of"},
      {Endpoint::Completions, R"({"prompt": "x", "stream_options": {"include_usage": true}})", "stream_options"},
      {Endpoint::Completions, R"({"prompt": "x", "n": 2.5})", "n"},
      {Endpoint::Completions, R"({"prompt": "x", "top_p": 0})", "top_p"},
      {Endpoint::Completions, R"({"prompt": "x", "seed": 1.5})", "seed"},
      {Endpoint::Completions, R"({"prompt": "x", "stop": [""]})", "stop"},
      {Endpoint::Completions, R"({"prompt": "x", "logit_bias": {"5": 1}})", "logit_bias"},
      {Endpoint::ChatCompletions, R"({"messages": []})", "messages"},
      {Endpoint::ChatCompletions, R"({"messages": [{"role": "user"}], "tools": [{"type": "function"}]})", "tools"},
      {Endpoint::ChatCompletions, R"({"messages": [{"role": "robot", "content": "x"}]})", "messages[0].role"},
      {Endpoint::ChatCompletions, R"({"messages": [{"role": "user", "content": [{"type": "text"}]}]})",
       "messages[0].content[0].text"},
      {Endpoint::ChatCompletions, R"({"messages": [{"role": "user", "content": "x"}], "response_format": {"type": "json_object"}})",
       "response_format"},
  };
  for (const Case& c : cases) {
    auto parsed = parser().parse(c.endpoint, c.body);
    ASSERT_TRUE(std::holds_alternative<ApiError>(parsed)) << c.body;
    const ApiError& error = std::get<ApiError>(parsed);
    EXPECT_EQ(error.status, 400) << c.body;
    EXPECT_EQ(error.param, c.param) << c.body << ": " << error.message;
    EXPECT_EQ(error.message.find('\n'), std::string::npos) << error.message;
  }
}

TEST_F(ServerTest, PromptLongerThanContext) {
  std::string body = R"({"prompt": ")";
  for (int i = 0; i < 100; ++i) body += "hello hello ";
  body += R"("})";
  auto parsed = parser(64).parse(Endpoint::Completions, body);
  ASSERT_TRUE(std::holds_alternative<ApiError>(parsed));
  EXPECT_EQ(std::get<ApiError>(parsed).code, "context_length_exceeded");
}

TEST_F(ServerTest, DeepNestingRejectedBeforeParsing) {
  auto parsed = parser().parse(Endpoint::Completions, std::string(1'000'000, '['));
  ASSERT_TRUE(std::holds_alternative<ApiError>(parsed));
  EXPECT_NE(std::get<ApiError>(parsed).message.find("nests deeper"), std::string::npos);
}

OutputEvent event(OutputEvent::Kind kind, int index, std::string text) {
  OutputEvent result;
  result.kind = kind;
  result.index = index;
  result.text = std::move(text);
  return result;
}

TEST_F(ServerTest, StreamAndBodyCarryTheSameText) {
  CompletionCall call;
  call.endpoint = Endpoint::ChatCompletions;
  call.stream = true;
  call.include_usage = true;
  std::vector<OutputEvent> events = {event(OutputEvent::Kind::Token, 0, "Hel"), event(OutputEvent::Kind::Token, 0, "lo"),
                                     event(OutputEvent::Kind::SequenceFinished, 0, "!")};
  events[2].finish_reason = "stop";
  OutputEvent finished = event(OutputEvent::Kind::RequestFinished, 0, "");
  finished.usage = Usage{5, 3, 2};
  events.push_back(finished);

  CompletionResponse streamed(call, *tokenizer_, "m", 1);
  CompletionResponse whole(call, *tokenizer_, "m", 1);
  std::string sse = streamed.stream_start();
  for (const OutputEvent& e : events) {
    sse += streamed.stream_event(e);
    whole.record(e);
  }
  EXPECT_TRUE(streamed.finished());
  EXPECT_TRUE(whole.finished());

  // Concatenate the deltas of every `data:` event.
  std::string text;
  int n_events = 0;
  size_t start = 0;
  while (start < sse.size()) {
    const size_t end = sse.find("\n\n", start);
    ASSERT_NE(end, std::string::npos);
    const std::string line = sse.substr(start, end - start);
    ASSERT_EQ(line.rfind("data: ", 0), 0u) << line;
    ++n_events;
    const std::string payload = line.substr(6);
    if (payload != "[DONE]") {
      auto chunk = nlohmann::json::parse(payload);
      for (const auto& choice : chunk["choices"]) text += choice["delta"].value("content", "");
    }
    start = end + 2;
  }
  EXPECT_EQ(n_events, 7);  // role, 2 tokens, last text, finish, usage, [DONE]
  EXPECT_EQ(text, "Hello!");
  EXPECT_TRUE(sse.ends_with("data: [DONE]\n\n"));
  EXPECT_NE(sse.find(R"("usage":{"prompt_tokens":5,"completion_tokens":3,"total_tokens":8,"prompt_tokens_details":{"cached_tokens":2}})"),
            std::string::npos);

  const nlohmann::ordered_json body = whole.body();
  EXPECT_EQ(body["choices"][0]["message"]["content"], "Hello!");
  EXPECT_EQ(body["choices"][0]["finish_reason"], "stop");
  EXPECT_EQ(body["object"], "chat.completion");
}

TEST(ServerJsonTest, InvalidUtf8BecomesReplacementCharacter) {
  EXPECT_EQ(dump_json(nlohmann::ordered_json("a\xff")), "\"a\xef\xbf\xbd\"");
}

TEST(ServerMetricsTest, HistogramBucketsAreCumulative) {
  Histogram histogram({0.1, 1.0});
  histogram.observe(0.05);
  histogram.observe(0.5);
  histogram.observe(0.5);
  histogram.observe(7.0);
  std::string out;
  histogram.render("latency_seconds", out);
  EXPECT_EQ(out,
            "latency_seconds_bucket{le=\"0.1\"} 1\n"
            "latency_seconds_bucket{le=\"1\"} 3\n"
            "latency_seconds_bucket{le=\"+Inf\"} 4\n"
            "latency_seconds_sum 8.05\n"
            "latency_seconds_count 4\n");
}

TEST(ServerMetricsTest, ExpositionNamesEveryMetric) {
  ServerMetrics metrics;
  metrics.observe_time_to_first_token(0.2);
  metrics.count_finished("length");
  EngineStats stats;
  stats.kv.n_blocks_total = 64;
  stats.kv.n_blocks_used = 3;
  const std::string text = metrics.render(stats);
  for (const char* line : {"kvinfer_kv_pool_blocks 64\n", "kvinfer_kv_blocks_used 3\n", "kvinfer_requests_running 0\n",
                           "kvinfer_sequences_finished_total{finish_reason=\"length\"} 1\n",
                           "kvinfer_time_to_first_token_seconds_count 1\n", "# TYPE kvinfer_preemptions_total counter\n"}) {
    EXPECT_NE(text.find(line), std::string::npos) << line;
  }
}

}  // namespace
}  // namespace kvinfer::server
