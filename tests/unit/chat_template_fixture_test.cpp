// Golden chat templates: every case of every fixture folder (template.jinja and
// cases.json, rendered by Python's jinja2 as Hugging Face's apply_chat_template sets it
// up) must render byte for byte as `expected`, or fail with exactly the `error` message
// the template raises. strftime_now() formats 2026-01-15, the date the fixtures were
// rendered with.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "chat/chat_template.h"

namespace kvinfer::chat {
namespace {

namespace fs = std::filesystem;

const fs::path kTemplatesDir = fs::path(KVINFER_FIXTURES_DIR) / "chat-templates";

std::string read_file(const fs::path& path) {
  std::ifstream file(path, std::ios::binary);
  std::ostringstream contents;
  contents << file.rdbuf();
  return contents.str();
}

// Noon UTC on 2026-01-15, so the local date is the 15th in every time zone from
// UTC-11 to UTC+11.
std::chrono::system_clock::time_point fixture_now() {
  using namespace std::chrono;
  return sys_days{year{2026} / January / 15} + hours{12};
}

std::vector<std::string> fixture_names() {
  std::vector<std::string> names;
  if (!fs::is_directory(kTemplatesDir)) return names;
  for (const fs::directory_entry& entry : fs::directory_iterator(kTemplatesDir)) {
    if (fs::exists(entry.path() / "template.jinja") && fs::exists(entry.path() / "cases.json")) {
      names.push_back(entry.path().filename().string());
    }
  }
  std::sort(names.begin(), names.end());
  return names;
}

class ChatTemplateFixtureTest : public ::testing::TestWithParam<std::string> {};

TEST_P(ChatTemplateFixtureTest, RendersEveryCase) {
  const fs::path dir = kTemplatesDir / GetParam();
  ChatTemplate chat_template(read_file(dir / "template.jinja"));
  chat_template.set_clock(fixture_now);
  const nlohmann::ordered_json cases = nlohmann::ordered_json::parse(read_file(dir / "cases.json"));
  ASSERT_TRUE(cases.is_array()) << dir / "cases.json";
  ASSERT_FALSE(cases.empty()) << dir / "cases.json";

  for (size_t case_idx = 0; case_idx < cases.size(); ++case_idx) {
    const nlohmann::ordered_json& test_case = cases[case_idx];
    const std::string where = GetParam() + " case " + std::to_string(case_idx);
    if (test_case.contains("expected")) {
      const std::string expected = test_case["expected"].get<std::string>();
      try {
        EXPECT_EQ(chat_template.render(test_case["input"]), expected) << where;
      } catch (const ChatTemplateError& error) {
        ADD_FAILURE() << where << ": expected\n" << expected << "\nbut rendering failed: " << error.what();
      }
      continue;
    }

    const std::string expected_error = test_case["error"].get<std::string>();
    try {
      const std::string actual = chat_template.render(test_case["input"]);
      ADD_FAILURE() << where << ": expected the error '" << expected_error << "' but rendered\n" << actual;
    } catch (const ChatTemplateError& error) {
      EXPECT_EQ(error.kind(), ChatTemplateErrorKind::raised) << where << ": " << error.what();
      EXPECT_EQ(std::string(error.what()), expected_error) << where;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Fixtures, ChatTemplateFixtureTest, ::testing::ValuesIn(fixture_names()),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           std::string name = info.param;
                           for (char& c : name) {
                             if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
                           }
                           return name;
                         });

TEST(ChatTemplateFixtures, FolderHasTemplates) {
  EXPECT_GE(fixture_names().size(), 8u) << "no chat template fixtures under " << kTemplatesDir;
}

}  // namespace
}  // namespace kvinfer::chat
