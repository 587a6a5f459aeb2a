// Pre-tokenization for byte-level BPE: splits text into the words that BPE then merges
// within, using the regular expressions tied to each tokenizer.ggml.pre name. It does not
// use the vocabulary.
#pragma once

#include <string_view>
#include <vector>

#include "tokenizer/regex_splitter.h"

namespace kvinfer::tokenizer {

class PreTokenizer {
 public:
  // Builds the pre-tokenizer for a tokenizer.ggml.pre value. Throws Error naming `name`
  // and listing the supported names when it is not one of them.
  static PreTokenizer from_name(std::string_view name);

  // Returns every name from_name() accepts.
  static std::vector<std::string_view> supported_names();

  // Appends the words of `text` to `words`, in order, so that they concatenate to
  // `text`. Bytes that are not part of well-formed UTF-8 each become a word of their own,
  // and the regexes run on the well-formed runs between them.
  void split(std::string_view text, std::vector<std::string_view>& words) const;

  // True when a word that is itself a vocabulary entry becomes that token without
  // merging (Hugging Face's ignore_merges, set for Llama 3).
  bool ignore_merges() const { return ignore_merges_; }

  // Whether models with this pre-tokenizer add BOS when tokenizer.ggml.add_bos_token is
  // absent.
  bool adds_bos_by_default() const { return adds_bos_by_default_; }

 private:
  void split_well_formed(std::string_view text, std::vector<std::string_view>& words) const;

  // Applied in sequence: each regex splits every piece the previous one produced.
  std::vector<RegexSplitter> regexes_;
  bool ignore_merges_ = false;
  bool adds_bos_by_default_ = false;
};

}  // namespace kvinfer::tokenizer
