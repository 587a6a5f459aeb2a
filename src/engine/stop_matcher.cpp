// Searches only the pending text, which is at most the longest stop string plus the new
// text, so matching costs O(new text x stop strings) per token.
#include "engine/stop_matcher.h"

#include <algorithm>

namespace kvinfer {

StopMatcher::StopMatcher(std::vector<std::string> stop_strings) : stop_strings_(std::move(stop_strings)) {
  std::erase_if(stop_strings_, [](const std::string& s) { return s.empty(); });
}

// Longest suffix of the pending text that is a proper prefix of some stop string.
size_t StopMatcher::held_back_length() const {
  size_t longest = 0;
  for (const std::string& stop : stop_strings_) {
    const size_t max_length = std::min(stop.size() - 1, pending_.size());
    for (size_t length = max_length; length > longest; --length) {
      if (pending_.compare(pending_.size() - length, length, stop, 0, length) == 0) {
        longest = length;
        break;
      }
    }
  }
  return longest;
}

std::string StopMatcher::push(std::string_view text) {
  if (stopped_) return "";
  pending_ += text;

  // The earliest stop string wins; the text before it is released, the rest dropped.
  size_t first_match = std::string::npos;
  for (const std::string& stop : stop_strings_) first_match = std::min(first_match, pending_.find(stop));
  if (first_match != std::string::npos) {
    stopped_ = true;
    std::string released = pending_.substr(0, first_match);
    pending_.clear();
    return released;
  }

  const size_t keep = held_back_length();
  std::string released = pending_.substr(0, pending_.size() - keep);
  pending_.erase(0, pending_.size() - keep);
  return released;
}

std::string StopMatcher::flush() {
  std::string released;
  released.swap(pending_);
  return stopped_ ? "" : released;
}

}  // namespace kvinfer
