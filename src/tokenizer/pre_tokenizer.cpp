// The pre-tokenizer regexes per tokenizer.ggml.pre name. The patterns are those of the
// models' Hugging Face tokenizer.json files as llama.cpp (src/llama-vocab.cpp) lists
// them, with one rewrite for speed noted where it appears.
// NOTE: llama.cpp runs most of these patterns through its own emulation of Unicode
// classes, which differs from Hugging Face's regex engine on rare inputs (for
// deepseek-llm and deepseek-coder, a space before U+2028 LINE SEPARATOR). PCRE2 matches
// Hugging Face tokenizers there, the reference these models were trained with.
#include "tokenizer/pre_tokenizer.h"

#include <string>

#include "tokenizer/utf8.h"
#include "util/error.h"

namespace kvinfer::tokenizer {
namespace {

// GPT-2's pattern: English contractions, letters, digits and other symbols each with an
// optional leading space, and whitespace that does not precede a non-space. Python's
// final "|\s+" is absent, which changes nothing: unmatched whitespace is kept as a gap.
constexpr std::string_view kGpt2Pattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S))";

// Llama 3's pattern. Its tokenizer.json spells the contractions "(?i:'s|'t|...)", but
// llama.cpp writes out the case classes instead, and so does this. The two differ only
// for characters that Unicode case folding maps to these letters, such as U+017F (long s).
constexpr std::string_view kLlama3Pattern =
    R"((?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3})"
    R"(| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

// Qwen2's pattern: Llama 3's with single digits.
constexpr std::string_view kQwen2Pattern =
    R"((?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N})"
    R"(| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

// Cased letters of the scripts DeepSeek LLM's tokenizer groups into words.
constexpr std::string_view kDeepseekLetters =
    R"(A-Za-z\x{B5}\x{C0}-\x{D6}\x{D8}-\x{F6}\x{F8}-\x{1BA}\x{1BC}-\x{1BF}\x{1C4}-\x{293}\x{295}-\x{2AF})"
    R"(\x{370}-\x{373}\x{376}\x{377}\x{37B}-\x{37D}\x{37F}\x{386}\x{388}-\x{38A}\x{38C}\x{38E}-\x{3A1})"
    R"(\x{3A3}-\x{3F5}\x{3F7}-\x{481}\x{48A}-\x{52F}\x{531}-\x{556}\x{10A0}-\x{10C5}\x{13A0}-\x{13F5})"
    R"(\x{13F8}-\x{13FD}\x{1C90}-\x{1CBA}\x{1CBD}-\x{1CBF}\x{1D00}-\x{1D2B}\x{1D6B}-\x{1D77}\x{1D79}-\x{1D9A})"
    R"(\x{1E00}-\x{1F15}\x{1F18}-\x{1F1D}\x{1F20}-\x{1F45}\x{1F48}-\x{1F4D}\x{1F50}-\x{1F57}\x{1F59})"
    R"(\x{1F5B}\x{1F5D}\x{1F5F}-\x{1F7D}\x{1F80}-\x{1FB4}\x{1FB6}-\x{1FBC}\x{1FBE}\x{1FC2}-\x{1FC4})"
    R"(\x{1FC6}-\x{1FCC}\x{1FD0}-\x{1FD3}\x{1FD6}-\x{1FDB}\x{1FE0}-\x{1FEC}\x{1FF2}-\x{1FF4}\x{1FF6}-\x{1FFC})"
    R"(\x{2102}\x{2107}\x{210A}-\x{2113}\x{2115}\x{2119}-\x{211D}\x{2124}\x{2126}\x{2128}\x{212A}-\x{212D})"
    R"(\x{212F}-\x{2134}\x{2139}\x{213C}-\x{213F}\x{2145}-\x{2149}\x{214E}\x{2183}\x{2184}\x{2C00}-\x{2C7B})"
    R"(\x{2C7E}-\x{2CE4}\x{2CEB}-\x{2CEE}\x{2CF2}\x{2CF3}\x{A640}-\x{A66D}\x{A680}-\x{A69B}\x{A722}-\x{A76F})"
    R"(\x{A771}-\x{A787}\x{A78B}-\x{A78E}\x{AB70}-\x{ABBF}\x{FB00}-\x{FB06}\x{FB13}-\x{FB17}\x{FF21}-\x{FF3A})"
    R"(\x{FF41}-\x{FF5A}\x{10400}-\x{1044F}\x{104B0}-\x{104D3}\x{104D8}-\x{104FB}\x{10C80}-\x{10CB2})"
    R"(\x{10CC0}-\x{10CF2}\x{118A0}-\x{118DF}\x{1E900}-\x{1E943})";

// CJK ideographs and Hangul (the ranges as DeepSeek's tokenizer.json writes them).
constexpr std::string_view kDeepseekCjk = R"([\x{4E00}-\x{9FA5}\x{800}-\x{4E00}\x{AC00}-\x{D7FF}]+)";

struct PreTokenizerSpec {
  std::vector<std::string_view> names;
  std::vector<std::string> patterns;
  bool ignore_merges = false;
  bool adds_bos_by_default = false;
};

std::vector<PreTokenizerSpec> build_specs() {
  const std::string gpt2(kGpt2Pattern);
  const std::string letters(kDeepseekLetters);
  std::vector<PreTokenizerSpec> specs;

  specs.push_back({.names = {"gpt2", "gpt-2", "mpt", "olmo", "phi-2"}, .patterns = {gpt2}});

  // Digits one by one, then GPT-2's pattern.
  specs.push_back({.names = {"starcoder", "refact", "smollm", "command-r", "codeshell", "exaone", "minerva-7b"},
                   .patterns = {R"(\p{N})", gpt2}});

  specs.push_back({.names = {"llama-bpe", "llama3", "llama-v3", "falcon3"},
                   .patterns = {std::string(kLlama3Pattern)},
                   .ignore_merges = true,
                   .adds_bos_by_default = true});
  specs.push_back({.names = {"dbrx", "smaug-bpe"}, .patterns = {std::string(kLlama3Pattern)}});
  specs.push_back({.names = {"qwen2", "stablelm2", "deepseek-r1-qwen", "megrez"},
                   .patterns = {std::string(kQwen2Pattern)}});

  // Punctuation runs first, then GPT-2's pattern, then digits in threes.
  specs.push_back({.names = {"falcon"}, .patterns = {R"([\p{P}\$\+<=>\^~\|`]+)", gpt2, R"([0-9][0-9][0-9])"}});
  specs.push_back({.names = {"default"},
                   .patterns = {R"([\p{P}\$\+<=>\^~\|]+)", gpt2, R"(\p{N}+)", R"([0-9][0-9][0-9])"}});

  // The original fourth pattern is "\s+$". Where JIT is unavailable, PCRE2's interpreter
  // retries it at every position of a whitespace run that is not at the end, and each try
  // scans to the run's end. That took about 20 s for 50,000 spaces and a digit (PCRE2
  // 10.42). Requiring no whitespace before the match start finds the same match (the
  // trailing run) but fails at once inside runs.
  specs.push_back({.names = {"deepseek-llm"},
                   .patterns =
                       {"[\r\n]", R"(\s?[)" + letters + "]+",
                        R"(\s?[\x{21}-\x{2F}\x{3A}-\x{7E}\x{FF01}-\x{FF0F}\x{FF1A}-\x{FF5E}\x{2018}-\x{201F}\x{3000}-\x{3002}]+)",
                        R"((?<!\s)\s+$)", std::string(kDeepseekCjk), R"(\p{N}+)"}});
  specs.push_back({.names = {"deepseek-coder"},
                   .patterns = {"[\r\n]", R"(\s?\p{L}+)", R"(\s?\p{P}+)", std::string(kDeepseekCjk), R"(\p{N})"}});
  return specs;
}

const std::vector<PreTokenizerSpec>& specs() {
  static const std::vector<PreTokenizerSpec> instance = build_specs();
  return instance;
}

}  // namespace

PreTokenizer PreTokenizer::from_name(std::string_view name) {
  for (const PreTokenizerSpec& spec : specs()) {
    for (const std::string_view spec_name : spec.names) {
      if (spec_name != name) {
        continue;
      }
      PreTokenizer pre_tokenizer;
      for (const std::string& pattern : spec.patterns) {
        pre_tokenizer.regexes_.emplace_back(pattern);
      }
      pre_tokenizer.ignore_merges_ = spec.ignore_merges;
      pre_tokenizer.adds_bos_by_default_ = spec.adds_bos_by_default;
      return pre_tokenizer;
    }
  }
  fail("unsupported pre-tokenizer \"{}\" in tokenizer.ggml.pre. Supported: {}", name,
       fmt::join(supported_names(), ", "));
}

std::vector<std::string_view> PreTokenizer::supported_names() {
  std::vector<std::string_view> names;
  for (const PreTokenizerSpec& spec : specs()) {
    names.insert(names.end(), spec.names.begin(), spec.names.end());
  }
  return names;
}

void PreTokenizer::split(std::string_view text, std::vector<std::string_view>& words) const {
  // PCRE2 requires well-formed UTF-8, so cut out every byte that is not part of a
  // well-formed character and make it a word of its own.
  size_t run_begin = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    const size_t char_length = utf8_char_length(text, pos);
    if (char_length > 0) {
      pos += char_length;
      continue;
    }
    split_well_formed(text.substr(run_begin, pos - run_begin), words);
    words.push_back(text.substr(pos, 1));
    pos += 1;
    run_begin = pos;
  }
  split_well_formed(text.substr(run_begin), words);
}

void PreTokenizer::split_well_formed(std::string_view text, std::vector<std::string_view>& words) const {
  if (text.empty()) {
    return;
  }

  // Each regex splits every piece left by the previous one. Matches and the gaps
  // between them both become pieces (Hugging Face's "Isolated" split behaviour).
  std::vector<std::string_view> pieces{text};
  std::vector<std::string_view> next_pieces;
  for (const RegexSplitter& regex : regexes_) {
    next_pieces.clear();
    for (const std::string_view piece : pieces) {
      regex.split(piece, next_pieces);
    }
    pieces.swap(next_pieces);
  }
  words.insert(words.end(), pieces.begin(), pieces.end());
}

}  // namespace kvinfer::tokenizer
