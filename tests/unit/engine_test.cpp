// The continuous-batching engine on the real default model: a request's greedy tokens
// are identical alone, batched, chunked and cached; cancellations free every block.
#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <map>
#include <mutex>
#include <random>
#include <thread>

#include "engine/engine.h"
#include "gguf/gguf_file.h"

namespace kvinfer {
namespace {

const std::filesystem::path kModel = std::filesystem::path(KVINFER_MODELS_DIR) / "SmolLM2-135M-Instruct.Q4_1.gguf";

// What one request streamed back.
struct Collected {
  std::map<int, std::vector<int32_t>> tokens;  // by sequence index
  std::map<int, std::string> text;
  std::map<int, std::string> finish_reason;
  Usage usage;
  std::string error;
  bool done = false;
};

class EngineTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!std::filesystem::exists(kModel)) return;
    file_ = std::make_shared<const gguf::File>(kModel.string());
    model_ = LlamaModel::load(file_).release();
    tokenizer_ = Tokenizer::from_gguf(*file_).release();
  }

  void SetUp() override {
    if (model_ == nullptr) GTEST_SKIP() << "default model not installed: " << kModel;
  }

  std::unique_ptr<Engine> make_engine(int max_batch_tokens = 512, int max_seqs = 16, bool prefix_cache = true,
                                      int64_t kv_tokens = 8192) {
    EngineOptions options;
    options.n_threads = 2;
    options.n_context = 2048;
    options.kv_tokens = kv_tokens;
    options.max_batch_tokens = max_batch_tokens;
    options.max_seqs = max_seqs;
    options.prefix_cache = prefix_cache;
    return std::make_unique<Engine>(*model_, *tokenizer_, options);
  }

  static GenerationRequest greedy(const std::string& prompt, int max_tokens) {
    GenerationRequest request;
    request.prompt = tokenizer_->encode_prompt(prompt);
    request.sampling.temperature = 0.0f;
    request.max_tokens = max_tokens;
    return request;
  }

  // Submits and returns a slot that fills as events arrive.
  std::shared_ptr<Collected> submit(Engine& engine, GenerationRequest request, RequestId* id = nullptr) {
    auto collected = std::make_shared<Collected>();
    Engine::Submission submission = engine.submit(std::move(request), [this, collected](const OutputEvent& event) {
      std::lock_guard lock(mutex_);
      if (event.kind == OutputEvent::Kind::Token) collected->tokens[event.index].push_back(event.token.value);
      collected->text[event.index] += event.text;
      if (event.kind == OutputEvent::Kind::SequenceFinished) collected->finish_reason[event.index] = event.finish_reason;
      if (event.kind == OutputEvent::Kind::RequestFinished) collected->usage = event.usage;
      if (event.kind == OutputEvent::Kind::Error) collected->error = event.error;
      if (event.kind == OutputEvent::Kind::RequestFinished || event.kind == OutputEvent::Kind::Error) collected->done = true;
      changed_.notify_all();
    });
    EXPECT_EQ(submission.error, "");
    if (id != nullptr) *id = submission.id;
    return collected;
  }

  void wait_until(const std::function<bool()>& condition) {
    std::unique_lock lock(mutex_);
    ASSERT_TRUE(changed_.wait_for(lock, std::chrono::seconds(120), condition)) << "timed out";
  }

  std::vector<int32_t> run_alone(const std::string& prompt, int max_tokens) {
    auto engine = make_engine();
    auto result = submit(*engine, greedy(prompt, max_tokens));
    wait_until([&] { return result->done; });
    return result->tokens[0];
  }

  static inline std::shared_ptr<const gguf::File> file_;
  static inline LlamaModel* model_ = nullptr;
  static inline Tokenizer* tokenizer_ = nullptr;
  std::mutex mutex_;
  std::condition_variable changed_;
};

const char* kPrompt =
    "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\nWrite two sentences about the "
    "moon and its phases.<|im_end|>\n<|im_start|>assistant\n";
const char* kOthers[] = {
    "<|im_start|>user\nName three fruits.<|im_end|>\n<|im_start|>assistant\n",
    "The history of mathematics begins with",
    "<|im_start|>user\nWhat is 12 times 12?<|im_end|>\n<|im_start|>assistant\n",
    "def add(a, b):\n",
};

TEST_F(EngineTest, BatchedWithOthersSameTokens) {
  std::vector<int32_t> alone = run_alone(kPrompt, 40);
  auto engine = make_engine();
  std::vector<std::shared_ptr<Collected>> others;
  others.push_back(submit(*engine, greedy(kOthers[0], 30)));
  others.push_back(submit(*engine, greedy(kOthers[1], 50)));
  auto target = submit(*engine, greedy(kPrompt, 40));
  others.push_back(submit(*engine, greedy(kOthers[2], 20)));
  wait_until([&] { return target->done && others.back()->done; });
  EXPECT_EQ(target->tokens[0], alone);
}

TEST_F(EngineTest, OthersArrivingWhileDecodingSameTokens) {
  std::vector<int32_t> alone = run_alone(kPrompt, 40);
  auto engine = make_engine();
  auto target = submit(*engine, greedy(kPrompt, 40));
  wait_until([&] { return target->tokens[0].size() >= 5; });
  auto first = submit(*engine, greedy(kOthers[1], 60));
  auto second = submit(*engine, greedy(kOthers[3], 30));
  wait_until([&] { return target->done && first->done && second->done; });
  EXPECT_EQ(target->tokens[0], alone);
}

TEST_F(EngineTest, ChunkedPromptSameTokens) {
  std::vector<int32_t> alone = run_alone(kPrompt, 32);
  auto engine = make_engine(5);  // 5 tokens per step: the prompt takes several steps
  auto target = submit(*engine, greedy(kPrompt, 32));
  auto other = submit(*engine, greedy(kOthers[0], 10));
  wait_until([&] { return target->done && other->done; });
  EXPECT_EQ(target->tokens[0], alone);
}

TEST_F(EngineTest, CachedPrefixSameTokens) {
  auto engine = make_engine();
  auto first = submit(*engine, greedy(kPrompt, 32));
  wait_until([&] { return first->done; });
  auto second = submit(*engine, greedy(kPrompt, 32));
  wait_until([&] { return second->done; });
  EXPECT_EQ(first->usage.cached_tokens, 0);
  EXPECT_GT(second->usage.cached_tokens, 0);
  EXPECT_EQ(second->tokens[0], first->tokens[0]);

  auto uncached_engine = make_engine(512, 16, false);
  auto uncached = submit(*uncached_engine, greedy(kPrompt, 32));
  wait_until([&] { return uncached->done; });
  EXPECT_EQ(uncached->tokens[0], first->tokens[0]);
}

TEST_F(EngineTest, PreemptionDoesNotChangeOutput) {
  std::vector<int32_t> alone = run_alone(kOthers[1], 60);

  // 12 blocks of 16: four sequences growing to ~70 tokens each cannot all fit.
  auto engine = make_engine(512, 16, true, 12 * 16);
  std::vector<std::shared_ptr<Collected>> results;
  for (int i = 0; i < 4; ++i) results.push_back(submit(*engine, greedy(kOthers[1], 60)));
  wait_until([&] { return std::all_of(results.begin(), results.end(), [](auto& r) { return r->done; }); });
  engine->shutdown(true);
  EXPECT_GT(engine->stats().n_preemptions, 0);
  for (auto& result : results) EXPECT_EQ(result->tokens[0], alone);
}

TEST_F(EngineTest, SequencesLongerThanPoolEndWithLength) {
  // A pool of 4 blocks (64 positions) and 4 samples that each want 100 tokens: every
  // sample stops at the pool's size, and the samples take turns through preemption.
  auto engine = make_engine(512, 16, true, 4 * 16);
  GenerationRequest request = greedy("Hello", 100);
  request.n = 4;
  request.ignore_eos = true;
  auto result = submit(*engine, request);
  wait_until([&] { return result->done; });
  engine->shutdown(true);
  EXPECT_EQ(result->error, "");
  ASSERT_EQ(result->finish_reason.size(), 4u);
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(result->finish_reason[i], "length");
    EXPECT_EQ(result->tokens[i].size() + request.prompt.size(), 64u);
  }
  EXPECT_EQ(engine->stats().kv.n_blocks_used, 0);
}

TEST_F(EngineTest, SeededSamplingSameUnderConcurrency) {
  GenerationRequest request = greedy(kOthers[0], 24);
  request.sampling.temperature = 0.9f;
  request.sampling.seed = 1234;
  auto solo_engine = make_engine();
  auto solo = submit(*solo_engine, request);
  wait_until([&] { return solo->done; });

  auto engine = make_engine();
  auto noise = submit(*engine, greedy(kOthers[1], 40));
  auto busy = submit(*engine, request);
  wait_until([&] { return busy->done && noise->done; });
  EXPECT_EQ(busy->tokens[0], solo->tokens[0]);
}

TEST_F(EngineTest, SamplesShareThePromptAndDiffer) {
  GenerationRequest request = greedy(kOthers[0], 16);
  request.n = 3;
  request.sampling.temperature = 1.0f;
  request.sampling.top_k = 0;
  request.sampling.top_p = 1.0f;
  request.sampling.min_p = 0.0f;
  request.sampling.seed = 5;
  auto engine = make_engine();
  auto result = submit(*engine, request);
  wait_until([&] { return result->done; });
  ASSERT_EQ(result->finish_reason.size(), 3u);
  EXPECT_TRUE(result->tokens[0] != result->tokens[1] || result->tokens[1] != result->tokens[2]);
  EXPECT_EQ(result->usage.prompt_tokens, static_cast<int>(request.prompt.size()));
}

TEST_F(EngineTest, StopStringEndsAndIsNotEmitted) {
  // The free-running text, then the same request stopped at a word from its middle.
  auto engine = make_engine();
  auto free_run = submit(*engine, greedy(kPrompt, 40));
  wait_until([&] { return free_run->done; });
  const std::string full = free_run->text[0];
  ASSERT_GT(full.size(), 20u);
  const std::string stop = full.substr(full.size() / 2, 3);
  const std::string expected = full.substr(0, full.find(stop));

  GenerationRequest request = greedy(kPrompt, 40);
  request.stop = {"never appears", stop};
  auto stopped = submit(*engine, request);
  wait_until([&] { return stopped->done; });
  EXPECT_EQ(stopped->finish_reason[0], "stop");
  EXPECT_EQ(stopped->text[0], expected);
}

TEST_F(EngineTest, LogprobsOfChosenAndTopTokens) {
  GenerationRequest request = greedy(kOthers[0], 4);
  request.top_logprobs = 3;
  auto engine = make_engine();
  std::vector<TokenLogprobs> logprobs;
  bool done = false;
  Engine::Submission submission = engine->submit(request, [&](const OutputEvent& event) {
    std::lock_guard lock(mutex_);
    if (event.kind == OutputEvent::Kind::Token) logprobs.push_back(event.logprobs);
    if (event.kind == OutputEvent::Kind::RequestFinished) {
      done = true;
      changed_.notify_all();
    }
  });
  ASSERT_EQ(submission.error, "");
  wait_until([&] { return done; });
  ASSERT_FALSE(logprobs.empty());
  for (const TokenLogprobs& entry : logprobs) {
    ASSERT_EQ(entry.top.size(), 3u);
    EXPECT_EQ(entry.top[0].token, entry.chosen.token);  // greedy picks the most likely
    EXPECT_LE(entry.chosen.logprob, 0.0f);
    EXPECT_GE(entry.top[0].logprob, entry.top[1].logprob);
  }
}

TEST_F(EngineTest, InvalidRequestsRejectedAtOnce) {
  auto engine = make_engine();
  GenerationRequest empty = greedy("x", 4);
  empty.prompt.clear();
  EXPECT_NE(engine->submit(empty, [](const OutputEvent&) {}).error, "");

  GenerationRequest too_long = greedy("x", 4);
  too_long.prompt.assign(4096, TokenId{42});
  EXPECT_NE(engine->submit(too_long, [](const OutputEvent&) {}).error.find("context"), std::string::npos);

  GenerationRequest bad_n = greedy("x", 4);
  bad_n.n = 0;
  EXPECT_NE(engine->submit(bad_n, [](const OutputEvent&) {}).error, "");

  GenerationRequest bad_temperature = greedy("x", 4);
  bad_temperature.sampling.temperature = -1.0f;
  EXPECT_NE(engine->submit(bad_temperature, [](const OutputEvent&) {}).error, "");
}

TEST_F(EngineTest, RandomCancellationsFreeEveryBlock) {
  auto engine = make_engine(64, 8, true, 2048);
  std::mt19937 rng(3);
  std::vector<RequestId> ids(20);
  std::vector<std::shared_ptr<Collected>> results;
  std::vector<bool> cancelled(20, false);
  for (int i = 0; i < 20; ++i) {
    GenerationRequest request = greedy(kOthers[i % 4], 20 + 5 * (i % 5));
    request.ignore_eos = true;
    results.push_back(submit(*engine, request, &ids[i]));
  }
  for (int i = 0; i < 20; i += 2) {
    std::this_thread::sleep_for(std::chrono::milliseconds(rng() % 30));
    engine->cancel(ids[i]);
    cancelled[i] = true;
  }
  wait_until([&] { return std::all_of(results.begin(), results.end(), [](auto& r) { return r->done; }); });
  engine->shutdown(true);

  for (int i = 0; i < 20; ++i) {
    EXPECT_EQ(results[i]->error, "") << "request " << i;
    if (!cancelled[i]) {
      EXPECT_EQ(results[i]->finish_reason[0], "length") << "request " << i;
      EXPECT_EQ(results[i]->tokens[0].size(), static_cast<size_t>(20 + 5 * (i % 5))) << "request " << i;
    }
  }
  EXPECT_EQ(engine->stats().kv.n_blocks_used, 0);
  EXPECT_EQ(engine->stats().n_running, 0u);
}

}  // namespace
}  // namespace kvinfer
