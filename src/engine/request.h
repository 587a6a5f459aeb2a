// Generation requests that clients submit to the engine, and the events it streams back.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "engine/sampler.h"
#include "util/ids.h"

namespace kvinfer {

using RequestId = StrongId<struct RequestIdTag, int64_t>;

struct GenerationRequest {
  std::vector<TokenId> prompt;
  SamplingParams sampling;  // sequence i of n samples with seed sampling.seed + i
  int max_tokens = 16;
  int n = 1;                      // samples; they share the prompt's KV blocks
  std::vector<std::string> stop;  // stop strings, matched on the generated text
  bool ignore_eos = false;        // keep generating past end-of-generation tokens
  int top_logprobs = -1;          // -1: no log-probabilities; 0: the chosen token's; k: and the top k
  std::string cache_salt;         // prefix-cache isolation key; "" shares with every request
};

struct TokenLogprob {
  TokenId token;
  float logprob = 0.0f;
};

// Log-probabilities of one generated token: the chosen one and the most likely ones.
struct TokenLogprobs {
  TokenLogprob chosen;
  std::vector<TokenLogprob> top;
};

struct Usage {
  int prompt_tokens = 0;
  int completion_tokens = 0;  // summed over the request's sequences
  int cached_tokens = 0;      // prompt tokens read from the prefix cache
};

// One event of a request's stream. Events of one sequence arrive in order.
struct OutputEvent {
  enum class Kind {
    Token,             // a generated token, with any text it released
    SequenceFinished,  // sequence `index` ended: finish_reason is set, text holds the last released text
    RequestFinished,   // every sequence ended: usage is set; the last event of the request
    Error,             // the request failed: error is set; the last event of the request
  };
  Kind kind = Kind::Token;
  RequestId request;
  int index = 0;              // sequence within the request, [0, n)
  std::string text;           // newly released text (complete UTF-8, never part of a stop string)
  TokenId token{-1};          // Token events: the token
  TokenLogprobs logprobs;     // Token events, when requested
  std::string finish_reason;  // "stop", "length" or "cancelled"
  Usage usage;
  std::string error;
};

}  // namespace kvinfer
