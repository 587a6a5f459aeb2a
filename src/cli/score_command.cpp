// `kvinfer score`: teacher-forced evaluation of a token sequence. Prints the perplexity
// and can write every position's logits, for comparisons against a reference engine.
#include <cmath>
#include <cstdio>
#include <iostream>
#include <iterator>
#include <sstream>
#include <string>

#include <fmt/format.h>

#include "cli/commands.h"
#include "cli/model_options.h"
#include "util/error.h"

namespace kvinfer::cli {
namespace {

struct ScoreOptions {
  ModelOptions model;
  std::string logits_path;
};

std::vector<TokenId> read_token_ids(std::istream& in, int n_vocab) {
  std::vector<TokenId> tokens;
  std::string word;
  while (in >> word) {
    size_t consumed = 0;
    long long value = -1;
    try {
      value = std::stoll(word, &consumed);
    } catch (const std::exception&) {
      consumed = 0;
    }
    if (consumed != word.size() || value < 0 || value >= n_vocab) {
      fail("invalid token id '{}' on standard input: expected an integer in [0, {})", word, n_vocab);
    }
    tokens.push_back(TokenId{static_cast<int32_t>(value)});
  }
  return tokens;
}

// Mean negative log-likelihood of each next token, as exp() of it (perplexity).
double perplexity(const std::vector<TokenId>& tokens, const std::vector<float>& logits, int n_vocab) {
  double total = 0.0;
  for (size_t i = 0; i + 1 < tokens.size(); ++i) {
    const float* row = logits.data() + i * n_vocab;
    float max_logit = *std::max_element(row, row + n_vocab);
    double sum = 0.0;
    for (int j = 0; j < n_vocab; ++j) sum += std::exp(static_cast<double>(row[j] - max_logit));
    total += std::log(sum) + max_logit - row[tokens[i + 1].value];
  }
  return std::exp(total / static_cast<double>(tokens.size() - 1));
}

void score(const ScoreOptions& options) {
  LoadedModel loaded = load_model(options.model);
  const int n_vocab = loaded.model->config().n_vocab;
  std::vector<TokenId> tokens = read_token_ids(std::cin, n_vocab);
  if (tokens.size() < 2) fail("standard input holds {} token ids; scoring needs at least 2", tokens.size());

  GeneratorOptions generator_opts = generator_options(options.model, *loaded.model);
  if (static_cast<int64_t>(tokens.size()) > generator_opts.n_context) {
    fail("{} token ids do not fit the context of {} tokens; pass a larger -c (at most {})", tokens.size(),
         generator_opts.n_context, loaded.model->config().n_context);
  }
  generator_opts.kv_tokens = std::max<int64_t>(generator_opts.kv_tokens, static_cast<int64_t>(tokens.size()));
  generator_opts.prefix_cache = false;
  generator_opts.max_logit_rows = generator_opts.max_batch_tokens;
  Generator generator(*loaded.model, generator_opts);

  // Open the output first, so a bad path fails before the computation.
  std::FILE* out = nullptr;
  if (!options.logits_path.empty()) {
    out = std::fopen(options.logits_path.c_str(), "wb");
    if (out == nullptr) fail("cannot write '{}': {}", options.logits_path, std::strerror(errno));
  }
  std::vector<float> logits(tokens.size() * static_cast<size_t>(n_vocab));
  generator.score(tokens, logits.data());
  fmt::print("tokens: {}, perplexity: {:.4f}\n", tokens.size(), perplexity(tokens, logits, n_vocab));

  if (out != nullptr) {
    size_t written = std::fwrite(logits.data(), sizeof(float), logits.size(), out);
    bool closed = std::fclose(out) == 0;
    if (written != logits.size() || !closed) fail("cannot write '{}': disk full or I/O error", options.logits_path);
  }
}

}  // namespace

void add_score_command(CLI::App& app) {
  auto options = std::make_shared<ScoreOptions>();
  CLI::App* command = app.add_subcommand(
      "score", "Teacher-forced scoring of token ids read from standard input: perplexity and, optionally, raw logits");
  add_model_options(*command, options->model);
  command->add_option("--logits-out", options->logits_path,
                      "Write the logits after every token as little-endian float32, [n_tokens, n_vocab], to this file");
  command->callback([options] { score(*options); });
}

}  // namespace kvinfer::cli
