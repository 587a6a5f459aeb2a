// Golden tokenizations: for every vocabulary fixture (ggml-vocab-NAME.gguf with its .inp
// and .out files), encode() must produce exactly the recorded token ids of the reference
// tokenizer, and decode() must restore each input.
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "gguf/gguf_file.h"
#include "tokenizer/tokenizer.h"

namespace kvinfer {
namespace {

namespace fs = std::filesystem;

const fs::path kVocabDir = fs::path(KVINFER_FIXTURES_DIR) / "vocab";
constexpr std::string_view kCaseSeparator = "\n__ggml_vocab_test__\n";

struct FixtureCase {
  std::string input;
  std::vector<int32_t> expected;
};

// Names NAME of every ggml-vocab-NAME.gguf in the fixture folder that has both its
// .inp and .out files, sorted.
std::vector<std::string> fixture_vocab_names() {
  std::vector<std::string> names;
  if (!fs::is_directory(kVocabDir)) {
    return names;
  }
  for (const fs::directory_entry& entry : fs::directory_iterator(kVocabDir)) {
    const std::string file_name = entry.path().filename().string();
    if (!file_name.starts_with("ggml-vocab-") || !file_name.ends_with(".gguf")) {
      continue;
    }
    if (fs::exists(entry.path().string() + ".inp") && fs::exists(entry.path().string() + ".out")) {
      names.push_back(file_name.substr(11, file_name.size() - 11 - 5));
    }
  }
  std::sort(names.begin(), names.end());
  return names;
}

fs::path vocab_path(const std::string& name) { return kVocabDir / ("ggml-vocab-" + name + ".gguf"); }

std::string read_bytes(const fs::path& path) {
  std::ifstream stream(path, std::ios::binary);
  std::ostringstream contents;
  contents << stream.rdbuf();
  return contents.str();
}

std::vector<std::string> split(std::string_view text, std::string_view separator) {
  std::vector<std::string> parts;
  size_t begin = 0;
  for (size_t end = text.find(separator); end != std::string_view::npos; end = text.find(separator, begin)) {
    parts.emplace_back(text.substr(begin, end - begin));
    begin = end + separator.size();
  }
  parts.emplace_back(text.substr(begin));
  return parts;
}

std::vector<int32_t> parse_ids(const std::string& line) {
  std::vector<int32_t> ids;
  std::istringstream stream(line);
  int32_t id = 0;
  while (stream >> id) {
    ids.push_back(id);
  }
  return ids;
}

// Reads the cases of a fixture: the .inp strings (each followed by the separator, so
// the split leaves an empty remainder) paired with the .out lines.
std::vector<FixtureCase> read_cases(const fs::path& gguf_path) {
  std::vector<std::string> inputs = split(read_bytes(gguf_path.string() + ".inp"), kCaseSeparator);
  std::vector<std::string> lines = split(read_bytes(gguf_path.string() + ".out"), "\n");
  EXPECT_TRUE(inputs.back().empty()) << "the .inp file does not end with the separator line";
  EXPECT_TRUE(lines.back().empty()) << "the .out file does not end with a newline";
  inputs.pop_back();
  lines.pop_back();
  EXPECT_EQ(inputs.size(), lines.size()) << "the .inp and .out files hold different numbers of cases";

  std::vector<FixtureCase> cases;
  for (size_t i = 0; i < std::min(inputs.size(), lines.size()); ++i) {
    cases.push_back({inputs[i], parse_ids(lines[i])});
  }
  return cases;
}

// Shows text with every byte outside printable ASCII escaped, so failures are readable.
std::string escape(std::string_view text) {
  std::string escaped;
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (c == '\n') {
      escaped += "\\n";
    } else if (c == '\t') {
      escaped += "\\t";
    } else if (c == '\\') {
      escaped += "\\\\";
    } else if (byte >= 0x20 && byte < 0x7F) {
      escaped.push_back(c);
    } else {
      char hex[5];
      std::snprintf(hex, sizeof(hex), "\\x%02X", byte);
      escaped += hex;
    }
  }
  return escaped;
}

std::string format_ids(const std::vector<int32_t>& ids) {
  std::string text;
  for (const int32_t id : ids) {
    if (!text.empty()) {
      text += ' ';
    }
    text += std::to_string(id);
  }
  return text;
}

std::vector<int32_t> to_ints(const std::vector<TokenId>& tokens) {
  std::vector<int32_t> ids;
  for (const TokenId token : tokens) {
    ids.push_back(token.value);
  }
  return ids;
}

class TokenizerFixtureTest : public ::testing::TestWithParam<std::string> {};

TEST_P(TokenizerFixtureTest, EncodeMatchesReference) {
  const gguf::File file(vocab_path(GetParam()).string());
  const std::unique_ptr<Tokenizer> tokenizer = Tokenizer::from_gguf(file);
  const std::vector<FixtureCase> cases = read_cases(vocab_path(GetParam()));
  ASSERT_FALSE(cases.empty());

  size_t n_passed = 0;
  for (size_t i = 0; i < cases.size(); ++i) {
    const std::vector<int32_t> actual = to_ints(tokenizer->encode(cases[i].input, /*parse_special=*/false));
    if (actual == cases[i].expected) {
      ++n_passed;
      continue;
    }
    ADD_FAILURE() << "case " << i << ", input \"" << escape(cases[i].input) << "\"\n"
                  << "  expected: " << format_ids(cases[i].expected) << "\n"
                  << "  actual:   " << format_ids(actual);
  }
  std::printf("[ fixture  ] %s: %zu of %zu cases match\n", GetParam().c_str(), n_passed, cases.size());
}

TEST_P(TokenizerFixtureTest, DecodeRestoresInput) {
  const gguf::File file(vocab_path(GetParam()).string());
  const std::unique_ptr<Tokenizer> tokenizer = Tokenizer::from_gguf(file);

  for (const FixtureCase& fixture_case : read_cases(vocab_path(GetParam()))) {
    const std::vector<TokenId> tokens = tokenizer->encode(fixture_case.input, /*parse_special=*/false);
    EXPECT_EQ(escape(tokenizer->decode(tokens, /*render_special=*/false)), escape(fixture_case.input));
  }
}

INSTANTIATE_TEST_SUITE_P(Vocab, TokenizerFixtureTest, ::testing::ValuesIn(fixture_vocab_names()),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           std::string name = info.param;
                           for (char& c : name) {
                             c = std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
                           }
                           return name;
                         });
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(TokenizerFixtureTest);

TEST(TokenizerFixture, VocabFixturesPresent) {
  if (!fs::is_directory(kVocabDir)) {
    GTEST_SKIP() << "no fixture folder at " << kVocabDir;
  }
  EXPECT_FALSE(fixture_vocab_names().empty()) << "no ggml-vocab-*.gguf with .inp and .out in " << kVocabDir;
}

}  // namespace
}  // namespace kvinfer
