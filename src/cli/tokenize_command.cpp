// `kvinfer tokenize` and `kvinfer detokenize`: token ids of standard input, and text of
// token ids, for inspecting and scripting the tokenizer.
#include <algorithm>
#include <charconv>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "cli/default_model.h"
#include "gguf/gguf_file.h"
#include "tokenizer/tokenizer.h"
#include "util/error.h"

namespace kvinfer::cli {
namespace {

struct TokenizeOptions {
  std::string model_path;
  bool raw = false;
};

// Reads all of standard input, byte for byte.
std::string read_stdin() {
  std::string input;
  char buffer[1 << 16];
  size_t n_read = 0;
  while ((n_read = std::fread(buffer, 1, sizeof(buffer), stdin)) > 0) {
    input.append(buffer, n_read);
  }
  if (std::ferror(stdin)) {
    fail("failed to read standard input");
  }
  return input;
}

void write_stdout(std::string_view bytes) {
  if (std::fwrite(bytes.data(), 1, bytes.size(), stdout) != bytes.size() || std::fflush(stdout) != 0) {
    fail("failed to write standard output");
  }
}

std::unique_ptr<Tokenizer> load_tokenizer(const std::string& model_path) {
  const gguf::File file(model_path);
  return Tokenizer::from_gguf(file);
}

void run_tokenize(const TokenizeOptions& options) {
  const std::unique_ptr<Tokenizer> tokenizer = load_tokenizer(options.model_path);
  const std::string text = read_stdin();
  const std::vector<TokenId> tokens =
      options.raw ? tokenizer->encode(text, /*parse_special=*/false) : tokenizer->encode_prompt(text);

  std::string line;
  for (const TokenId token : tokens) {
    if (!line.empty()) {
      line += ' ';
    }
    line += std::to_string(token.value);
  }
  line += '\n';
  write_stdout(line);
}

// Parses whitespace-separated token ids, checking each against the vocabulary.
std::vector<TokenId> parse_token_ids(std::string_view text, const Tokenizer& tokenizer) {
  std::vector<TokenId> tokens;
  size_t pos = 0;
  while (true) {
    pos = text.find_first_not_of(" \t\r\n\v\f", pos);
    if (pos == std::string_view::npos) {
      break;
    }
    const size_t end = std::min(text.find_first_of(" \t\r\n\v\f", pos), text.size());
    const std::string_view word = text.substr(pos, end - pos);

    int32_t value = 0;
    const auto [parse_end, error] = std::from_chars(word.data(), word.data() + word.size(), value);
    if (error != std::errc() || parse_end != word.data() + word.size() || !tokenizer.contains(TokenId{value})) {
      fail("invalid token id \"{}\": expected an integer from 0 to {}", word, tokenizer.n_vocab() - 1);
    }
    tokens.push_back(TokenId{value});
    pos = end;
  }
  return tokens;
}

void run_detokenize(const std::string& model_path) {
  const std::unique_ptr<Tokenizer> tokenizer = load_tokenizer(model_path);
  const std::vector<TokenId> tokens = parse_token_ids(read_stdin(), *tokenizer);
  write_stdout(tokenizer->decode(tokens, /*render_special=*/true));
}

}  // namespace

void add_tokenize_commands(CLI::App& app) {
  auto tokenize_options = std::make_shared<TokenizeOptions>();
  tokenize_options->model_path = default_model_path();
  CLI::App* tokenize = app.add_subcommand(
      "tokenize", "Print the token ids of standard input (read in full, byte for byte) on one line");
  tokenize->add_option("-m,--model", tokenize_options->model_path, "GGUF model file")->capture_default_str();
  tokenize->add_flag("--raw", tokenize_options->raw,
                     "Tokenize as plain text: add no BOS and treat special token text as ordinary text. "
                     "Without it, standard input is a raw prompt: BOS when the model adds one, special "
                     "tokens such as <|im_start|> recognised");
  tokenize->callback([tokenize_options] { run_tokenize(*tokenize_options); });

  auto detokenize_model_path = std::make_shared<std::string>(default_model_path());
  CLI::App* detokenize = app.add_subcommand(
      "detokenize", "Write the text of the whitespace-separated token ids on standard input; special tokens "
                    "are written as their text");
  detokenize->add_option("-m,--model", *detokenize_model_path, "GGUF model file")->capture_default_str();
  detokenize->callback([detokenize_model_path] { run_detokenize(*detokenize_model_path); });
}

}  // namespace kvinfer::cli
