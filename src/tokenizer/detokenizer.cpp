// IncrementalDetokenizer, which keeps back only a trailing UTF-8 prefix that later bytes
// can still complete.
#include <utility>

#include "tokenizer/tokenizer.h"
#include "tokenizer/utf8.h"

namespace kvinfer {

std::string IncrementalDetokenizer::push(TokenId token) {
  pending_ += tokenizer_->piece_view(token, render_special_);

  // Release everything except a trailing partial character that later bytes could still
  // complete. An invalid byte can never complete, so it is released at once.
  const size_t n_held = tokenizer::utf8_incomplete_suffix_length(pending_);
  std::string complete = pending_.substr(0, pending_.size() - n_held);
  pending_.erase(0, pending_.size() - n_held);
  return complete;
}

std::string IncrementalDetokenizer::flush() { return std::exchange(pending_, std::string()); }

}  // namespace kvinfer
