// The engine thread: take commands, plan a step, run one batched forward pass, sample,
// stream events. See engine.h.
#include "engine/engine.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "engine/generator.h"
#include "util/error.h"

namespace kvinfer {
namespace {

KvLayout layout_for(const LlamaModel& model, const EngineOptions& options) {
  const LlamaConfig& c = model.config();
  return KvLayout{c.n_layers, c.n_kv_heads, c.head_dim, options.block_size, options.kv_type};
}

int clip_context(const LlamaModel& model, const EngineOptions& options) {
  if (options.n_context <= 0) fail("invalid context size {}: must be > 0", options.n_context);
  if (options.block_size <= 0) fail("invalid block size {}: must be > 0", options.block_size);
  if (options.max_batch_tokens <= 0) fail("invalid --max-batch-tokens {}: must be > 0", options.max_batch_tokens);
  if (options.max_seqs <= 0) fail("invalid --max-seqs {}: must be > 0", options.max_seqs);
  return std::min(options.n_context, model.config().n_context);
}

int32_t pool_blocks(const EngineOptions& options, int n_context) {
  const int64_t tokens = options.kv_tokens > 0 ? options.kv_tokens : std::max<int64_t>(n_context, 8192);
  const int64_t blocks = (tokens + options.block_size - 1) / options.block_size;
  if (blocks > (1 << 30)) fail("KV cache of {} tokens is too large", tokens);
  return static_cast<int32_t>(blocks);
}

OutputEvent make_event(OutputEvent::Kind kind, RequestId request, int index) {
  OutputEvent event;
  event.kind = kind;
  event.request = request;
  event.index = index;
  return event;
}

}  // namespace

Engine::Engine(const LlamaModel& model, const Tokenizer& tokenizer, const EngineOptions& options)
    : model_(model),
      tokenizer_(tokenizer),
      options_(options),
      n_context_(clip_context(model, options)),
      pool_(options.n_threads),
      kv_(layout_for(model, options), pool_blocks(options, n_context_)),
      kv_manager_(static_cast<int32_t>(kv_.n_blocks()), options.block_size, options.prefix_cache,
                  kv_model_key(model.file(), kv_.layout())),
      scheduler_(kv_manager_, SchedulerConfig{options.max_batch_tokens, options.max_seqs}),
      scratch_(model.config(), options.max_batch_tokens, options.max_seqs + kMaxSamplesPerRequest, n_context_,
               pool_.n_threads()) {
  const size_t max_chunks = static_cast<size_t>(options.max_seqs + kMaxSamplesPerRequest);
  batch_tokens_.reserve(options.max_batch_tokens);
  batch_positions_.reserve(options.max_batch_tokens);
  batch_seq_indices_.reserve(options.max_batch_tokens);
  batch_tables_.reserve(max_chunks);
  logit_indices_.reserve(max_chunks);
  logit_sequences_.reserve(max_chunks);
  plan_.chunks.reserve(max_chunks);
  logits_.resize(max_chunks * model.config().n_vocab);
  logprob_scratch_.resize(model.config().n_vocab);
  publish_stats();  // stats() is valid before the thread runs
  thread_ = std::thread([this] { loop(); });
}

Engine::~Engine() { shutdown(false); }

Engine::Submission Engine::submit(GenerationRequest request, EventCallback callback) {
  // Reject what can never run, with a message naming the value.
  const int n_prompt = static_cast<int>(request.prompt.size());
  auto reject = [](std::string message) { return Submission{RequestId{-1}, std::move(message)}; };
  if (n_prompt == 0) return reject("the prompt is empty: it must contain at least one token");
  if (n_prompt >= n_context_) {
    return reject(fmt::format("the prompt has {} tokens, but the context holds {} (prompt plus at least one generated token)",
                              n_prompt, n_context_));
  }
  if (kv_manager_.blocks_for(n_prompt + 1) > kv_manager_.pool().n_blocks()) {
    return reject(fmt::format("the prompt has {} tokens, but the KV cache holds only {}", n_prompt,
                              static_cast<int64_t>(kv_manager_.pool().n_blocks()) * options_.block_size));
  }
  for (TokenId token : request.prompt) {
    if (token.value < 0 || token.value >= model_.config().n_vocab) return reject(fmt::format("invalid token id {}", token.value));
  }
  if (request.max_tokens < 1) return reject(fmt::format("invalid max_tokens {}: must be >= 1", request.max_tokens));
  if (request.n < 1 || request.n > kMaxSamplesPerRequest) {
    return reject(fmt::format("invalid n {}: must be between 1 and {}", request.n, kMaxSamplesPerRequest));
  }
  if (request.top_logprobs > kMaxTopLogprobs) {
    return reject(fmt::format("invalid top_logprobs {}: must be at most {}", request.top_logprobs, kMaxTopLogprobs));
  }
  if (std::string message = validate(request.sampling); !message.empty()) return reject(message);

  auto state = std::make_unique<RequestState>();
  state->request = std::move(request);
  state->callback = std::move(callback);
  std::lock_guard lock(mutex_);
  if (stopping_) return reject("the engine is shutting down");
  state->id = RequestId{next_request_id_++};
  RequestId id = state->id;
  incoming_.push_back(std::move(state));
  wake_.notify_one();
  return Submission{id, ""};
}

void Engine::cancel(RequestId id) {
  std::lock_guard lock(mutex_);
  cancels_.push_back(id);
  wake_.notify_one();
}

void Engine::shutdown(bool drain) {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    drain_ = drain;
    wake_.notify_one();
  }
  if (thread_.joinable()) thread_.join();
}

EngineStats Engine::stats() const {
  std::lock_guard lock(mutex_);
  return stats_;
}

void Engine::publish_stats() {
  EngineStats stats;
  stats.kv = kv_manager_.stats();
  stats.n_running = scheduler_.n_running();
  stats.n_waiting = scheduler_.n_waiting();
  stats.n_preemptions = scheduler_.n_preemptions();
  stats.n_prompt_tokens = n_prompt_tokens_;
  stats.n_generation_tokens = n_generation_tokens_;
  stats.n_steps = n_steps_;
  std::lock_guard lock(mutex_);
  stats_ = stats;
}

void Engine::loop() {
  publish_stats();
  while (take_commands()) {
    if (!requests_.empty()) step();
    publish_stats();
  }
  // Stopping without draining: cancel whatever is left.
  while (!requests_.empty()) cancel_request(*requests_.begin()->second);
  publish_stats();
}

// Moves queued submissions and cancellations onto the engine thread; waits while idle.
// Returns false when the engine should exit.
bool Engine::take_commands() {
  std::vector<std::unique_ptr<RequestState>> incoming;
  std::vector<RequestId> cancels;
  {
    std::unique_lock lock(mutex_);
    wake_.wait(lock, [&] { return stopping_ || !incoming_.empty() || !cancels_.empty() || !requests_.empty(); });
    incoming.swap(incoming_);
    cancels.swap(cancels_);
    if (stopping_ && !drain_) {
      for (auto& state : incoming) requests_.emplace(state->id.value, std::move(state));
      return false;
    }
  }
  for (auto& state : incoming) start_request(std::move(state));
  for (RequestId id : cancels) {
    auto it = requests_.find(id.value);
    if (it != requests_.end()) cancel_request(*it->second);
  }
  std::lock_guard lock(mutex_);
  return !(stopping_ && requests_.empty() && incoming_.empty());
}

std::unique_ptr<Sequence> Engine::make_sequence(RequestState& state, int index, std::vector<TokenId> tokens) {
  const GenerationRequest& r = state.request;
  auto seq = std::make_unique<Sequence>();
  seq->id = SeqId{next_seq_id_++};
  seq->request = &state;
  seq->index = index;
  seq->n_prompt = static_cast<int>(r.prompt.size());
  seq->tokens = std::move(tokens);
  seq->tokens.reserve(std::min<size_t>(r.prompt.size() + r.max_tokens, n_context_));
  // A sequence also ends ("length") when it would outgrow the whole pool, so it can always
  // run once the sequences ahead of it are preempted.
  const int64_t pool_positions = static_cast<int64_t>(kv_manager_.pool().n_blocks()) * options_.block_size;
  seq->max_positions = std::min({static_cast<int64_t>(r.prompt.size()) + r.max_tokens, static_cast<int64_t>(n_context_), pool_positions});
  seq->cache_salt = r.cache_salt;
  SamplingParams sampling = r.sampling;
  sampling.seed += static_cast<uint64_t>(index);
  seq->sampler = std::make_unique<Sampler>(sampling, model_.config().n_vocab);
  seq->detokenizer = std::make_unique<IncrementalDetokenizer>(tokenizer_);
  seq->stop_matcher = std::make_unique<StopMatcher>(r.stop);
  return seq;
}

void Engine::start_request(std::unique_ptr<RequestState> state) {
  RequestState& r = *state;
  r.usage.prompt_tokens = static_cast<int>(r.request.prompt.size());
  r.sequences.push_back(make_sequence(r, 0, r.request.prompt));
  scheduler_.add_waiting(r.sequences.front().get());
  requests_.emplace(r.id.value, std::move(state));
}

void Engine::cancel_request(RequestState& state) {
  for (auto& seq : state.sequences) {
    if (!seq->finished) finish_sequence(seq.get(), "cancelled", "");
  }
  // A request whose samples were not forked yet still owes n - 1 sequences.
  if (requests_.count(state.id.value) != 0) {
    state.n_finished = state.request.n;
    OutputEvent done = make_event(OutputEvent::Kind::RequestFinished, state.id, 0);
    done.usage = state.usage;
    state.callback(done);
    requests_.erase(state.id.value);
  }
}

void Engine::fail_request(RequestState& state, const std::string& message) {
  for (auto& seq : state.sequences) {
    if (!seq->finished) {
      seq->finished = true;
      scheduler_.remove(seq.get());
    }
  }
  OutputEvent error = make_event(OutputEvent::Kind::Error, state.id, 0);
  error.error = message;
  state.callback(error);
  requests_.erase(state.id.value);
}

void Engine::step() {
  scheduler_.schedule(plan_);
  if (!plan_.never_fit.empty()) {
    // Fail each such request once, and drop its other sequences' chunks from this step
    // first: failing a request destroys its sequences.
    std::vector<std::pair<RequestState*, std::string>> failed;
    for (Sequence* seq : plan_.never_fit) {
      if (std::any_of(failed.begin(), failed.end(), [&](const auto& f) { return f.first == seq->request; })) continue;
      failed.emplace_back(seq->request, fmt::format("the sequence needs {} KV blocks, more than the pool's {}",
                                                    kv_manager_.blocks_for(static_cast<int64_t>(seq->tokens.size())),
                                                    kv_manager_.pool().n_blocks()));
    }
    std::erase_if(plan_.chunks, [&](const ScheduledChunk& chunk) {
      return std::any_of(failed.begin(), failed.end(), [&](const auto& f) { return f.first == chunk.seq->request; });
    });
    for (auto& [request, message] : failed) fail_request(*request, message);
  }
  for (const BlockCopy& copy : plan_.copies) {
    std::memcpy(kv_.block(copy.destination.value), kv_.block(copy.source.value), kv_.layout().block_bytes());
  }
  if (plan_.chunks.empty()) return;
  run_forward();
  ++n_steps_;
}

void Engine::run_forward() {
  batch_tokens_.clear();
  batch_positions_.clear();
  batch_seq_indices_.clear();
  batch_tables_.clear();
  logit_indices_.clear();
  logit_sequences_.clear();

  // Lay the chunks out as one batch; each chunk is its own entry in the table list.
  for (const ScheduledChunk& chunk : plan_.chunks) {
    const int32_t table_idx = static_cast<int32_t>(batch_tables_.size());
    batch_tables_.push_back(kv_manager_.block_table(chunk.seq->id));
    for (int pos = chunk.begin; pos < chunk.end; ++pos) {
      batch_tokens_.push_back(chunk.seq->tokens[pos]);
      batch_positions_.push_back(pos);
      batch_seq_indices_.push_back(table_idx);
    }
    if (chunk.needs_logits) {
      logit_indices_.push_back(static_cast<int32_t>(batch_tokens_.size()) - 1);
      logit_sequences_.push_back(chunk.seq);
    }
    if (chunk.seq->n_computed < chunk.seq->n_prompt) n_prompt_tokens_ += chunk.end - chunk.begin;
  }

  ForwardBatch batch{batch_tokens_, batch_positions_, batch_seq_indices_, batch_tables_, logit_indices_};
  model_.forward(batch, kv_, scratch_, pool_, logits_.data());

  for (const ScheduledChunk& chunk : plan_.chunks) {
    chunk.seq->n_computed = chunk.end;
    kv_manager_.mark_computed(chunk.seq->id, chunk.seq->tokens, chunk.end);
  }
  const size_t n_vocab = static_cast<size_t>(model_.config().n_vocab);
  for (size_t r = 0; r < logit_sequences_.size(); ++r) {
    handle_logits(logit_sequences_[r], std::span<const float>(logits_.data() + r * n_vocab, n_vocab));
  }
}

void Engine::handle_logits(Sequence* seq, std::span<const float> logits) {
  RequestState& state = *seq->request;
  if (seq->finished) return;
  if (seq->index == 0 && state.request.n > 1 && !state.forked) fork_samples(seq, logits);
  sample_token(seq, logits);
}

// Starts the other n - 1 samples of a request once its prompt is computed: they share
// the prompt's blocks (copy-on-write) and sample their first token from the same logits.
void Engine::fork_samples(Sequence* parent, std::span<const float> logits) {
  RequestState& state = *parent->request;
  state.forked = true;
  for (int i = 1; i < state.request.n; ++i) {
    state.sequences.push_back(make_sequence(state, i, parent->tokens));
    Sequence* child = state.sequences.back().get();
    child->n_computed = parent->n_computed;
    child->n_cached_tokens = parent->n_cached_tokens;
    kv_manager_.fork(parent->id, child->id);
    scheduler_.add_running(child);
    sample_token(child, logits);
  }
}

TokenLogprobs Engine::logprobs_of(std::span<const float> logits, TokenId chosen, int top) const {
  // log softmax of the raw logits, before temperature and filters.
  const float max_logit = *std::max_element(logits.begin(), logits.end());
  double sum = 0.0;
  for (float logit : logits) sum += std::exp(static_cast<double>(logit - max_logit));
  const float log_sum = max_logit + static_cast<float>(std::log(sum));

  TokenLogprobs result;
  result.chosen = {chosen, logits[chosen.value] - log_sum};
  if (top > 0) {
    std::vector<int32_t> order(logits.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = static_cast<int32_t>(i);
    std::partial_sort(order.begin(), order.begin() + top, order.end(), [&](int32_t a, int32_t b) {
      return logits[a] != logits[b] ? logits[a] > logits[b] : a < b;
    });
    for (int i = 0; i < top; ++i) result.top.push_back({TokenId{order[i]}, logits[order[i]] - log_sum});
  }
  return result;
}

void Engine::sample_token(Sequence* seq, std::span<const float> logits) {
  RequestState& state = *seq->request;
  const GenerationRequest& r = state.request;
  TokenId token = seq->sampler->sample(logits, seq->tokens);
  seq->tokens.push_back(token);
  ++n_generation_tokens_;

  // Text: end-of-generation tokens print nothing; the stop matcher may hold text back.
  const bool end_of_generation = !r.ignore_eos && tokenizer_.is_end_of_generation(token);
  std::string text = end_of_generation ? "" : seq->detokenizer->push(token);
  std::string released = seq->stop_matcher->push(text);

  std::string finish_reason;
  if (seq->stop_matcher->stopped() || end_of_generation) {
    finish_reason = "stop";
  } else if (seq->n_generated() >= r.max_tokens || static_cast<int64_t>(seq->tokens.size()) >= seq->max_positions) {
    finish_reason = "length";
  }

  if (!end_of_generation) {
    OutputEvent event = make_event(OutputEvent::Kind::Token, state.id, seq->index);
    event.text = std::move(released);
    event.token = token;
    if (r.top_logprobs >= 0) event.logprobs = logprobs_of(logits, token, r.top_logprobs);
    state.callback(event);
    released.clear();
  }
  if (finish_reason.empty()) return;

  // Release whatever is held back: an unfinished character, or text that turned out not
  // to start a stop string.
  std::string tail = released;
  if (!seq->stop_matcher->stopped()) {
    tail += seq->stop_matcher->push(seq->detokenizer->flush());
    tail += seq->stop_matcher->flush();
  }
  finish_sequence(seq, finish_reason, std::move(tail));
}

void Engine::finish_sequence(Sequence* seq, const std::string& reason, std::string text) {
  RequestState& state = *seq->request;
  seq->finished = true;
  scheduler_.remove(seq);
  state.usage.completion_tokens += std::max(0, seq->n_generated());
  if (seq->index == 0) state.usage.cached_tokens = std::max(0, seq->n_cached_tokens);

  OutputEvent event = make_event(OutputEvent::Kind::SequenceFinished, state.id, seq->index);
  event.text = std::move(text);
  event.finish_reason = reason;
  state.callback(event);

  if (++state.n_finished < state.request.n || reason == "cancelled") return;
  OutputEvent done = make_event(OutputEvent::Kind::RequestFinished, state.id, 0);
  done.usage = state.usage;
  state.callback(done);
  requests_.erase(state.id.value);  // destroys `seq`
}

}  // namespace kvinfer
