// Stop strings matched on detokenized text. Text is held back only while it could still
// be the start of a stop string, and released as soon as it cannot.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace kvinfer {

class StopMatcher {
 public:
  explicit StopMatcher(std::vector<std::string> stop_strings);

  // Adds generated text. Returns the text that can be released now. When a stop string
  // appears, `stopped()` becomes true and the text before it is the last text released.
  std::string push(std::string_view text);

  // Releases everything held back (generation ended without a stop string).
  std::string flush();

  bool stopped() const { return stopped_; }

 private:
  size_t held_back_length() const;

  std::vector<std::string> stop_strings_;
  std::string pending_;
  bool stopped_ = false;
};

}  // namespace kvinfer
