// PCRE2 wrapper for the pre-tokenizer. Match data is kept per thread, so one compiled
// pattern serves concurrent encode() calls without locks or per-call allocation.
#include "tokenizer/regex_splitter.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <algorithm>
#include <new>

#include "tokenizer/utf8.h"
#include "util/error.h"

namespace kvinfer::tokenizer {
namespace {

std::string pcre2_message(int error_code) {
  PCRE2_UCHAR buffer[256];
  const int length = pcre2_get_error_message(error_code, buffer, sizeof(buffer));
  return length < 0 ? fmt::format("PCRE2 error {}", error_code) : std::string(reinterpret_cast<char*>(buffer));
}

// Match data for one thread. A single ovector pair is enough because only the overall
// match is read. pcre2_match() then returns 0 instead of the group count.
struct ThreadMatchData {
  pcre2_match_data* data = pcre2_match_data_create(1, nullptr);

  ThreadMatchData() {
    if (data == nullptr) {
      throw std::bad_alloc();
    }
  }
  ~ThreadMatchData() { pcre2_match_data_free(data); }
  ThreadMatchData(const ThreadMatchData&) = delete;
  ThreadMatchData& operator=(const ThreadMatchData&) = delete;
};

pcre2_match_data* thread_match_data() {
  thread_local ThreadMatchData match_data;
  return match_data.data;
}

}  // namespace

struct RegexSplitter::Compiled {
  pcre2_code* code = nullptr;
  ~Compiled() { pcre2_code_free(code); }
};

RegexSplitter::RegexSplitter(const std::string& pattern) : pattern_(pattern), compiled_(std::make_unique<Compiled>()) {
  int error_code = 0;
  PCRE2_SIZE error_offset = 0;
  const uint32_t options = PCRE2_UTF | PCRE2_UCP | PCRE2_DOLLAR_ENDONLY;
  compiled_->code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(), options, &error_code,
                                  &error_offset, nullptr);
  if (compiled_->code == nullptr) {
    fail("invalid pre-tokenizer regex \"{}\" at offset {}: {}", pattern, error_offset, pcre2_message(error_code));
  }

  // JIT is an optimisation only: where it is unavailable, pcre2_match() interprets.
  pcre2_jit_compile(compiled_->code, PCRE2_JIT_COMPLETE);
}

RegexSplitter::~RegexSplitter() = default;
RegexSplitter::RegexSplitter(RegexSplitter&&) noexcept = default;
RegexSplitter& RegexSplitter::operator=(RegexSplitter&&) noexcept = default;

void RegexSplitter::split(std::string_view text, std::vector<std::string_view>& pieces) const {
  pcre2_match_data* match_data = thread_match_data();
  const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data());
  size_t gap_begin = 0;
  size_t search_from = 0;

  while (search_from < text.size()) {
    const int rc = pcre2_match(compiled_->code, subject, text.size(), search_from, PCRE2_NO_UTF_CHECK, match_data,
                               nullptr);
    if (rc == PCRE2_ERROR_NOMATCH) {
      break;
    }
    if (rc < 0) {
      fail("pre-tokenizer regex \"{}\" failed on a text of {} bytes: {}", pattern_, text.size(), pcre2_message(rc));
    }

    const PCRE2_SIZE* ovector = pcre2_get_ovector_pointer(match_data);
    const size_t match_begin = ovector[0];
    const size_t match_end = ovector[1];

    // An empty match splits nothing: search again one character further on.
    if (match_end == match_begin) {
      if (match_begin >= text.size()) {
        break;
      }
      search_from = match_begin + std::max<size_t>(1, utf8_char_length(text, match_begin));
      continue;
    }

    if (match_begin > gap_begin) {
      pieces.push_back(text.substr(gap_begin, match_begin - gap_begin));
    }
    pieces.push_back(text.substr(match_begin, match_end - match_begin));
    gap_begin = match_end;
    search_from = match_end;
  }

  if (gap_begin < text.size()) {
    pieces.push_back(text.substr(gap_begin));
  }
}

}  // namespace kvinfer::tokenizer
