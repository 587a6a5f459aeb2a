// One compiled PCRE2 pattern (UTF mode with Unicode properties, JIT-compiled where the
// platform supports it) that splits text into its matches and the gaps between them.
// It does not validate UTF-8: callers pass only well-formed text.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace kvinfer::tokenizer {

class RegexSplitter {
 public:
  // Compiles `pattern`. Throws Error naming the pattern and PCRE2's message when it is
  // invalid.
  explicit RegexSplitter(const std::string& pattern);
  ~RegexSplitter();
  RegexSplitter(RegexSplitter&&) noexcept;
  RegexSplitter& operator=(RegexSplitter&&) noexcept;

  // Appends to `pieces`, in order, every match of the pattern in `text` and every
  // non-empty gap between matches, so the pieces concatenate to `text`. `text` is the
  // whole subject: lookarounds see nothing outside it. Empty matches are skipped.
  // Precondition: `text` is well-formed UTF-8. Throws Error when PCRE2 fails to match
  // (a match or memory limit), naming the pattern.
  void split(std::string_view text, std::vector<std::string_view>& pieces) const;

 private:
  struct Compiled;
  std::string pattern_;
  std::unique_ptr<Compiled> compiled_;
};

}  // namespace kvinfer::tokenizer
