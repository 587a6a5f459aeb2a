// Tokenizer behaviour beyond the golden fixtures: pathological inputs (speed and round
// trips), pre-tokenizer splits, special tokens of the default model, metadata errors,
// and the incremental detokenizer.
#include <gtest/gtest.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "gguf/gguf_file.h"
#include "tokenizer/byte_unicode.h"
#include "tokenizer/pre_tokenizer.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/utf8.h"
#include "util/error.h"

namespace kvinfer {
namespace {

namespace fs = std::filesystem;

const fs::path kVocabDir = fs::path(KVINFER_FIXTURES_DIR) / "vocab";
const fs::path kDefaultModel = fs::path(KVINFER_MODELS_DIR) / "SmolLM2-135M-Instruct.Q4_1.gguf";

// Loose bound per pathological input: a guard against quadratic behaviour, far above
// the few milliseconds these inputs take.
constexpr double kMaxSecondsPerInput = 5.0;

fs::path fixture_path(const std::string& name) { return kVocabDir / ("ggml-vocab-" + name + ".gguf"); }

std::unique_ptr<Tokenizer> load_tokenizer(const fs::path& path) {
  const gguf::File file(path.string());
  return Tokenizer::from_gguf(file);
}

Vocabulary load_vocabulary(const fs::path& path) {
  const gguf::File file(path.string());
  return read_vocabulary(file);
}

// Shows text with every byte outside printable ASCII escaped, so failures are readable.
std::string escape(std::string_view text) {
  std::string escaped;
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte >= 0x20 && byte < 0x7F && c != '\\') {
      escaped.push_back(c);
    } else {
      char hex[5];
      std::snprintf(hex, sizeof(hex), "\\x%02X", byte);
      escaped += hex;
    }
  }
  return escaped;
}

std::string all_bytes() {
  std::string bytes;
  for (int byte = 0; byte < 256; ++byte) {
    bytes.push_back(static_cast<char>(byte));
  }
  return bytes;
}

struct NamedInput {
  std::string name;
  std::string text;
};

std::vector<NamedInput> pathological_inputs() {
  return {
      {"100000 letters", std::string(100000, 'a')},
      {"20000 newlines", std::string(20000, '\n')},
      {"50000 spaces then a word", std::string(50000, ' ') + "word"},
      {"50000 spaces then a digit", std::string(50000, ' ') + "7"},
      {"50000 tabs and spaces", [] {
         std::string text;
         for (int i = 0; i < 25000; ++i) {
           text += "\t ";
         }
         return text + "x";
       }()},
      {"invalid UTF-8", "ok \xff\xfe \xc3( \xe2\x82 \xed\xa0\x80 \xf4\x90\x80\x80 \xc0\xaf end\xe2"},
      {"every byte value", all_bytes() + all_bytes()},
  };
}

bool is_valid_utf8(std::string_view text) {
  for (size_t pos = 0; pos < text.size();) {
    const size_t length = tokenizer::utf8_char_length(text, pos);
    if (length == 0) {
      return false;
    }
    pos += length;
  }
  return true;
}

// ---- pathological inputs through whole tokenizers ----

class TokenizerPathologicalTest : public ::testing::TestWithParam<std::string> {
 protected:
  fs::path model_path() const {
    return GetParam() == "default-model" ? kDefaultModel : fixture_path(GetParam());
  }
};

// Returns the text decode(encode(text)) must give. Vocabularies lack tokens for some
// bytes (SmolLM2's has none for 0x04 or 0xFF): such a byte is dropped from well-formed
// text and becomes U+FFFD when it is outside well-formed UTF-8. Every other byte survives.
std::string expected_round_trip(const Tokenizer& tokenizer, std::string_view text) {
  std::array<bool, 256> is_representable{};
  for (int byte = 0; byte < 256; ++byte) {
    const std::string single(1, static_cast<char>(byte));
    is_representable[byte] = tokenizer.decode(tokenizer.encode(single, false), false) == single;
  }

  std::string expected;
  for (size_t pos = 0; pos < text.size();) {
    const size_t length = tokenizer::utf8_char_length(text, pos);
    if (length == 0) {
      const auto byte = static_cast<uint8_t>(text[pos]);
      expected += is_representable[byte] ? std::string(1, text[pos]) : std::string("\xef\xbf\xbd");
      pos += 1;
      continue;
    }
    for (size_t i = pos; i < pos + length; ++i) {
      if (is_representable[static_cast<uint8_t>(text[i])]) {
        expected.push_back(text[i]);
      }
    }
    pos += length;
  }
  return expected;
}

TEST_P(TokenizerPathologicalTest, EncodesFastAndRoundTrips) {
  if (!fs::exists(model_path())) {
    GTEST_SKIP() << "missing " << model_path();
  }
  const std::unique_ptr<Tokenizer> tokenizer = load_tokenizer(model_path());

  for (const NamedInput& input : pathological_inputs()) {
    SCOPED_TRACE(input.name);
    const auto start = std::chrono::steady_clock::now();
    const std::vector<TokenId> tokens = tokenizer->encode(input.text, /*parse_special=*/false);
    const std::string decoded = tokenizer->decode(tokens, /*render_special=*/false);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

    EXPECT_FALSE(tokens.empty());
    const std::string expected = expected_round_trip(*tokenizer, input.text);
    EXPECT_EQ(decoded.size(), expected.size());
    EXPECT_TRUE(decoded == expected) << "decoded:  " << escape(decoded).substr(0, 300) << "\nexpected: "
                                     << escape(expected).substr(0, 300);
    EXPECT_LT(seconds, kMaxSecondsPerInput);
    std::printf("[ timing   ] %s, %s: %zu tokens in %.1f ms\n", GetParam().c_str(), input.name.c_str(),
                tokens.size(), seconds * 1e3);
  }
}

TEST(TokenizerRoundTrip, FullByteVocabulariesRestoreEveryByte) {
  // GPT-2's vocabulary has a token for every byte's character, and Llama's has <0xXX>
  // byte tokens, so arbitrary bytes survive exactly.
  for (const std::string name : {"gpt-2", "llama-spm"}) {
    SCOPED_TRACE(name);
    const std::unique_ptr<Tokenizer> tokenizer = load_tokenizer(fixture_path(name));
    const std::string text = "x\xff\xc0\x80 " + all_bytes() + " \xe2\x82";
    EXPECT_EQ(escape(tokenizer->decode(tokenizer->encode(text, false), false)), escape(text));
  }
}

TEST(TokenizerRoundTrip, UnrepresentableBytesFollowReference) {
  if (!fs::exists(kDefaultModel)) {
    GTEST_SKIP() << "missing " << kDefaultModel;
  }
  const std::unique_ptr<Tokenizer> tokenizer = load_tokenizer(kDefaultModel);
  // SmolLM2 has no token for 0x04 or 0xFF: the control character is dropped from
  // well-formed text, the stray byte becomes U+FFFD.
  EXPECT_EQ(tokenizer->decode(tokenizer->encode("a\x04" "b", false), false), "ab");
  EXPECT_EQ(tokenizer->decode(tokenizer->encode("a\xff" "b", false), false), "a\xef\xbf\xbd" "b");
}

INSTANTIATE_TEST_SUITE_P(Vocab, TokenizerPathologicalTest,
                         ::testing::Values("gpt-2", "starcoder", "deepseek-llm", "llama-spm", "default-model"),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           std::string name = info.param;
                           for (char& c : name) {
                             c = std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
                           }
                           return name;
                         });

// ---- pre-tokenizer ----

std::vector<std::string> split_words(const tokenizer::PreTokenizer& pre_tokenizer, std::string_view text) {
  std::vector<std::string_view> views;
  pre_tokenizer.split(text, views);
  return std::vector<std::string>(views.begin(), views.end());
}

TEST(PreTokenizer, EveryNameSplitsPathologicalInputsFast) {
  for (const std::string_view name : tokenizer::PreTokenizer::supported_names()) {
    const tokenizer::PreTokenizer pre_tokenizer = tokenizer::PreTokenizer::from_name(name);
    for (const NamedInput& input : pathological_inputs()) {
      SCOPED_TRACE(std::string(name) + ", " + input.name);
      const auto start = std::chrono::steady_clock::now();
      const std::vector<std::string> words = split_words(pre_tokenizer, input.text);
      const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

      std::string joined;
      for (const std::string& word : words) {
        EXPECT_FALSE(word.empty());
        joined += word;
      }
      EXPECT_TRUE(joined == input.text);
      EXPECT_LT(seconds, kMaxSecondsPerInput);
    }
  }
}

TEST(PreTokenizer, Gpt2SplitsContractionsAndSpaces) {
  const auto pre_tokenizer = tokenizer::PreTokenizer::from_name("gpt2");
  EXPECT_EQ(split_words(pre_tokenizer, "Hello world's  end 42!"),
            (std::vector<std::string>{"Hello", " world", "'s", " ", " end", " 42", "!"}));
}

TEST(PreTokenizer, DigitGroupingDiffersByModel) {
  EXPECT_EQ(split_words(tokenizer::PreTokenizer::from_name("llama-bpe"), "12345"),
            (std::vector<std::string>{"123", "45"}));
  EXPECT_EQ(split_words(tokenizer::PreTokenizer::from_name("qwen2"), "12345"),
            (std::vector<std::string>{"1", "2", "3", "4", "5"}));
  EXPECT_EQ(split_words(tokenizer::PreTokenizer::from_name("smollm"), "12 ab"),
            (std::vector<std::string>{"1", "2", " ab"}));
  EXPECT_EQ(split_words(tokenizer::PreTokenizer::from_name("falcon"), "1234"),
            (std::vector<std::string>{"123", "4"}));
}

TEST(PreTokenizer, Llama3KeepsSpaceBeforeWord) {
  EXPECT_EQ(split_words(tokenizer::PreTokenizer::from_name("llama-bpe"), "   Hello\n\n x"),
            (std::vector<std::string>{"  ", " Hello", "\n\n", " x"}));
}

TEST(PreTokenizer, DeepseekAppliesRegexesInSequence) {
  EXPECT_EQ(split_words(tokenizer::PreTokenizer::from_name("deepseek-llm"), "Hi\n\nthere 123  "),
            (std::vector<std::string>{"Hi", "\n", "\n", "there", " ", "123", "  "}));
  EXPECT_EQ(split_words(tokenizer::PreTokenizer::from_name("deepseek-coder"), "ab, 12"),
            (std::vector<std::string>{"ab", ",", " ", "1", "2"}));
}

TEST(PreTokenizer, InvalidBytesBecomeOwnWords) {
  EXPECT_EQ(split_words(tokenizer::PreTokenizer::from_name("gpt2"), "ab\xff\xfe cd"),
            (std::vector<std::string>{"ab", "\xff", "\xfe", " cd"}));
}

TEST(PreTokenizer, UnknownNameIsError) {
  try {
    tokenizer::PreTokenizer::from_name("no-such-pre");
    FAIL() << "expected Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("\"no-such-pre\""), std::string::npos) << e.what();
  }
}

// ---- metadata errors ----

std::string construction_error(const Vocabulary& vocab) {
  try {
    Tokenizer::from_vocabulary(vocab);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(TokenizerMetadata, UnknownPreTokenizerIsError) {
  Vocabulary vocab = load_vocabulary(fixture_path("gpt-2"));
  vocab.pre = "no-such-pre";
  const std::string message = construction_error(vocab);
  EXPECT_NE(message.find("no-such-pre"), std::string::npos) << message;
  EXPECT_NE(message.find("tokenizer.ggml.pre"), std::string::npos) << message;
}

TEST(TokenizerMetadata, MissingPreTokenizerIsError) {
  Vocabulary vocab = load_vocabulary(fixture_path("gpt-2"));
  vocab.pre.clear();
  EXPECT_NE(construction_error(vocab).find("tokenizer.ggml.pre is missing"), std::string::npos);
}

TEST(TokenizerMetadata, UnknownModelIsError) {
  Vocabulary vocab = load_vocabulary(fixture_path("gpt-2"));
  vocab.model = "bogus";
  EXPECT_NE(construction_error(vocab).find("\"bogus\""), std::string::npos);
}

TEST(TokenizerMetadata, SpecialIdOutsideVocabularyIsError) {
  Vocabulary vocab = load_vocabulary(fixture_path("gpt-2"));
  vocab.eos_id = 50257;
  const std::string message = construction_error(vocab);
  EXPECT_NE(message.find("tokenizer.ggml.eos_token_id = 50257"), std::string::npos) << message;
}

TEST(TokenizerMetadata, AddBosDefaultsByModel) {
  // The gpt-2 fixture has no add_bos key, and the llama-spm fixture's key is dropped here.
  EXPECT_FALSE(load_tokenizer(fixture_path("gpt-2"))->add_bos());
  Vocabulary spm = load_vocabulary(fixture_path("llama-spm"));
  spm.add_bos.reset();
  EXPECT_TRUE(Tokenizer::from_vocabulary(spm)->add_bos());
}

// ---- special tokens on the default model ----

class DefaultModelTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fs::exists(kDefaultModel)) {
      GTEST_SKIP() << "missing " << kDefaultModel;
    }
    tokenizer_ = load_tokenizer(kDefaultModel);
    im_start_ = tokenizer_->find_token("<|im_start|>").value();
    im_end_ = tokenizer_->find_token("<|im_end|>").value();
  }

  bool contains(const std::vector<TokenId>& tokens, TokenId token) const {
    return std::find(tokens.begin(), tokens.end(), token) != tokens.end();
  }

  std::unique_ptr<Tokenizer> tokenizer_;
  TokenId im_start_;
  TokenId im_end_;
};

TEST_F(DefaultModelTest, ParsesSpecialTokensOnlyWhenAsked) {
  const std::string text = "<|im_start|>user\nHi there<|im_end|>\n";

  const std::vector<TokenId> parsed = tokenizer_->encode(text, /*parse_special=*/true);
  ASSERT_FALSE(parsed.empty());
  EXPECT_EQ(parsed.front(), im_start_);
  EXPECT_TRUE(contains(parsed, im_end_));
  EXPECT_EQ(tokenizer_->decode(parsed, /*render_special=*/true), text);

  const std::vector<TokenId> plain = tokenizer_->encode(text, /*parse_special=*/false);
  EXPECT_FALSE(contains(plain, im_start_));
  EXPECT_FALSE(contains(plain, im_end_));
  EXPECT_GT(plain.size(), parsed.size());
  EXPECT_EQ(tokenizer_->decode(plain, /*render_special=*/false), text);
}

TEST_F(DefaultModelTest, EncodePromptAddsNoBos) {
  // SmolLM2 sets tokenizer.ggml.add_bos_token = false.
  EXPECT_FALSE(tokenizer_->add_bos());
  const std::string text = "<|im_start|>assistant\n";
  EXPECT_EQ(tokenizer_->encode_prompt(text), tokenizer_->encode(text, /*parse_special=*/true));
}

TEST_F(DefaultModelTest, ControlTokensRenderOnlyWhenAsked) {
  EXPECT_EQ(tokenizer_->token_to_piece(im_start_, /*render_special=*/false), "");
  EXPECT_EQ(tokenizer_->token_to_piece(im_start_, /*render_special=*/true), "<|im_start|>");
  EXPECT_EQ(tokenizer_->token_type(im_start_), TokenType::CONTROL);
}

TEST_F(DefaultModelTest, EndOfGenerationSet) {
  EXPECT_EQ(tokenizer_->eos(), im_end_);
  EXPECT_TRUE(tokenizer_->is_end_of_generation(im_end_));
  EXPECT_TRUE(tokenizer_->is_end_of_generation(tokenizer_->find_token("<|endoftext|>").value()));
  EXPECT_FALSE(tokenizer_->is_end_of_generation(im_start_));
  EXPECT_FALSE(tokenizer_->is_end_of_generation(tokenizer_->encode("Hello", false).front()));
}

TEST_F(DefaultModelTest, TokenIdOutsideVocabularyIsError) {
  EXPECT_THROW(tokenizer_->token_to_piece(TokenId{tokenizer_->n_vocab()}, false), Error);
  EXPECT_THROW(tokenizer_->token_to_piece(TokenId{-1}, false), Error);
}

TEST_F(DefaultModelTest, ConcurrentEncodesAgree) {
  const std::string text = "The quick brown fox 🦊 jumps over 12345 lazy dogs.\n\n  Done!";
  const std::vector<TokenId> expected = tokenizer_->encode(text, true);

  std::vector<std::vector<TokenId>> results(4);
  std::vector<std::thread> threads;
  for (auto& result : results) {
    threads.emplace_back([&] {
      for (int i = 0; i < 200; ++i) {
        result = tokenizer_->encode(text, true);
      }
    });
  }
  for (std::thread& thread : threads) {
    thread.join();
  }
  for (const auto& result : results) {
    EXPECT_EQ(result, expected);
  }
}

// ---- SentencePiece specifics ----

TEST(SpmTokenizer, SpacePrefixAfterSpecialToken) {
  const std::unique_ptr<Tokenizer> tokenizer = load_tokenizer(fixture_path("llama-spm"));
  const TokenId bos = tokenizer->bos();
  const std::vector<TokenId> tokens = tokenizer->encode("<s>Hello", /*parse_special=*/true);
  ASSERT_EQ(tokens.size(), 2u);
  EXPECT_EQ(tokens[0], bos);
  EXPECT_EQ(tokenizer->token_text(tokens[1]), "\xe2\x96\x81Hello");
  EXPECT_EQ(tokenizer->encode_prompt("Hello").front(), bos);
}

TEST(SpmTokenizer, ByteFallbackForUnknownCharacters) {
  const std::unique_ptr<Tokenizer> tokenizer = load_tokenizer(fixture_path("llama-spm"));
  // U+10FFFF is not in the vocabulary, so it becomes its four byte tokens.
  const std::vector<TokenId> tokens = tokenizer->encode("\xf4\x8f\xbf\xbf", false);
  ASSERT_GE(tokens.size(), 4u);
  const std::vector<TokenId> tail(tokens.end() - 4, tokens.end());
  for (size_t i = 0; i < tail.size(); ++i) {
    EXPECT_EQ(tokenizer->token_type(tail[i]), TokenType::BYTE);
  }
  EXPECT_EQ(tokenizer->token_text(tail[0]), "<0xF4>");
}

// ---- incremental detokenizer ----

std::vector<TokenId> gpt2_byte_tokens(const Tokenizer& tokenizer, std::string_view bytes) {
  std::vector<TokenId> tokens;
  for (const char c : bytes) {
    tokens.push_back(tokenizer.find_token(tokenizer::byte_to_unicode(static_cast<uint8_t>(c))).value());
  }
  return tokens;
}

TEST(IncrementalDetokenizer, HoldsEmojiSplitAcrossByteTokens) {
  const std::unique_ptr<Tokenizer> tokenizer = load_tokenizer(fixture_path("gpt-2"));
  const std::string emoji = "\xf0\x9f\xa6\x99";  // U+1F999 LLAMA
  const std::vector<TokenId> tokens = gpt2_byte_tokens(*tokenizer, emoji);

  IncrementalDetokenizer detokenizer(*tokenizer);
  EXPECT_EQ(detokenizer.push(tokens[0]), "");
  EXPECT_EQ(detokenizer.push(tokens[1]), "");
  EXPECT_EQ(detokenizer.push(tokens[2]), "");
  EXPECT_EQ(detokenizer.push(tokens[3]), emoji);
  EXPECT_EQ(detokenizer.flush(), "");
}

TEST(IncrementalDetokenizer, HoldsSpmByteTokens) {
  const std::unique_ptr<Tokenizer> tokenizer = load_tokenizer(fixture_path("llama-spm"));
  IncrementalDetokenizer detokenizer(*tokenizer);
  EXPECT_EQ(detokenizer.push(tokenizer->find_token("<0xE2>").value()), "");
  EXPECT_EQ(detokenizer.push(tokenizer->find_token("<0x82>").value()), "");
  EXPECT_EQ(detokenizer.push(tokenizer->find_token("<0xAC>").value()), "\xe2\x82\xac");  // U+20AC EURO SIGN
}

TEST(IncrementalDetokenizer, StreamedTextIsAlwaysWholeCharacters) {
  const std::unique_ptr<Tokenizer> tokenizer = load_tokenizer(fixture_path("gpt-2"));
  const std::string text = "Emoji 🦙🚀 and CJK 我想在 and Khmer ឡើងលើ, mixed.";
  IncrementalDetokenizer detokenizer(*tokenizer);

  std::string streamed;
  for (const TokenId token : tokenizer->encode(text, false)) {
    const std::string released = detokenizer.push(token);
    EXPECT_TRUE(is_valid_utf8(released)) << escape(released);
    streamed += released;
  }
  streamed += detokenizer.flush();
  EXPECT_EQ(streamed, text);
}

TEST(IncrementalDetokenizer, ReleasesBytesThatCanNeverComplete) {
  const std::unique_ptr<Tokenizer> tokenizer = load_tokenizer(fixture_path("gpt-2"));
  IncrementalDetokenizer detokenizer(*tokenizer);

  // 0xFF never starts a character: released at once.
  EXPECT_EQ(detokenizer.push(gpt2_byte_tokens(*tokenizer, "\xff")[0]), "\xff");

  // A lead byte is held until the next byte shows it cannot complete.
  EXPECT_EQ(detokenizer.push(gpt2_byte_tokens(*tokenizer, "\xe2")[0]), "");
  EXPECT_EQ(detokenizer.push(gpt2_byte_tokens(*tokenizer, "A")[0]), "\xe2"
                                                                    "A");

  // E0 followed by 80 would be an overlong form: released, not held.
  EXPECT_EQ(detokenizer.push(gpt2_byte_tokens(*tokenizer, "\xe0")[0]), "");
  EXPECT_EQ(detokenizer.push(gpt2_byte_tokens(*tokenizer, "\x80")[0]), "\xe0\x80");
}

TEST(IncrementalDetokenizer, FlushReturnsHeldBytes) {
  const std::unique_ptr<Tokenizer> tokenizer = load_tokenizer(fixture_path("gpt-2"));
  IncrementalDetokenizer detokenizer(*tokenizer);
  for (const TokenId token : gpt2_byte_tokens(*tokenizer, "ok\xf0\x9f")) {
    detokenizer.push(token);
  }
  EXPECT_EQ(detokenizer.flush(), "\xf0\x9f");
  EXPECT_EQ(detokenizer.flush(), "");
}

// ---- UTF-8 helpers ----

TEST(Utf8, CharLength) {
  EXPECT_EQ(tokenizer::utf8_char_length("a", 0), 1u);
  EXPECT_EQ(tokenizer::utf8_char_length("\xc3\xa9", 0), 2u);
  EXPECT_EQ(tokenizer::utf8_char_length("\xe2\x82\xac", 0), 3u);
  EXPECT_EQ(tokenizer::utf8_char_length("\xf0\x9f\xa6\x99", 0), 4u);
  EXPECT_EQ(tokenizer::utf8_char_length("\x80", 0), 0u);              // continuation byte
  EXPECT_EQ(tokenizer::utf8_char_length("\xc0\xaf", 0), 0u);          // overlong
  EXPECT_EQ(tokenizer::utf8_char_length("\xe0\x80\xaf", 0), 0u);      // overlong
  EXPECT_EQ(tokenizer::utf8_char_length("\xed\xa0\x80", 0), 0u);      // surrogate
  EXPECT_EQ(tokenizer::utf8_char_length("\xf4\x90\x80\x80", 0), 0u);  // past U+10FFFF
  EXPECT_EQ(tokenizer::utf8_char_length("\xe2\x82", 0), 0u);          // cut off
}

TEST(Utf8, IncompleteSuffixLength) {
  EXPECT_EQ(tokenizer::utf8_incomplete_suffix_length(""), 0u);
  EXPECT_EQ(tokenizer::utf8_incomplete_suffix_length("abc"), 0u);
  EXPECT_EQ(tokenizer::utf8_incomplete_suffix_length("a\xe2"), 1u);
  EXPECT_EQ(tokenizer::utf8_incomplete_suffix_length("a\xe2\x82"), 2u);
  EXPECT_EQ(tokenizer::utf8_incomplete_suffix_length("a\xe2\x82\xac"), 0u);
  EXPECT_EQ(tokenizer::utf8_incomplete_suffix_length("\xf0\x9f\xa6"), 3u);
  EXPECT_EQ(tokenizer::utf8_incomplete_suffix_length("\xe0\x80"), 0u);  // can never complete
  EXPECT_EQ(tokenizer::utf8_incomplete_suffix_length("\x80\x80\x80"), 0u);
  EXPECT_EQ(tokenizer::utf8_incomplete_suffix_length("\xff"), 0u);
}

TEST(ByteUnicode, MapsEveryByteAndBack) {
  for (int byte = 0; byte < 256; ++byte) {
    const std::string_view mapped = tokenizer::byte_to_unicode(static_cast<uint8_t>(byte));
    size_t n_consumed = 0;
    EXPECT_EQ(tokenizer::unicode_to_byte(mapped, n_consumed), static_cast<uint8_t>(byte));
    EXPECT_EQ(n_consumed, mapped.size());
  }
  EXPECT_EQ(tokenizer::byte_to_unicode(' '), "\xc4\xa0");  // U+0120, GPT-2's space
  EXPECT_EQ(tokenizer::byte_to_unicode('A'), "A");
}

}  // namespace
}  // namespace kvinfer
