// One generation stream: its tokens so far and how many of them have K/V in the cache.
// The scheduler reads the token counts; the engine owns the per-sequence sampling state.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "engine/request.h"
#include "engine/sampler.h"
#include "engine/stop_matcher.h"
#include "tokenizer/tokenizer.h"
#include "util/ids.h"

namespace kvinfer {

struct RequestState;

struct Sequence {
  SeqId id;
  RequestState* request = nullptr;
  int index = 0;                // within the request, [0, n)
  std::vector<TokenId> tokens;  // prompt, then generated tokens
  int n_prompt = 0;
  int n_computed = 0;           // leading tokens whose K/V are in the cache
  int64_t max_positions = 0;    // prompt + max_tokens, capped by the context and the pool size
  std::string cache_salt;
  int n_cached_tokens = -1;     // prompt tokens found in the prefix cache at first admission
  bool finished = false;

  // Generation state, owned by the engine.
  std::unique_ptr<Sampler> sampler;
  std::unique_ptr<IncrementalDetokenizer> detokenizer;
  std::unique_ptr<StopMatcher> stop_matcher;
  int n_generated() const { return static_cast<int>(tokens.size()) - n_prompt; }

  // True while more than the last token lacks K/V: the prompt is still being prefilled.
  bool prefilling() const { return n_computed + 1 < static_cast<int>(tokens.size()); }
};

}  // namespace kvinfer
