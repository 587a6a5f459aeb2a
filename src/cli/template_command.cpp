// `kvinfer template`: render a chat template and print the prompt it produces, so a
// model's template (or a template file) can be checked without running the model.
// It reads the template and the BOS/EOS token text through gguf::File and renders
// through chat::ChatTemplate; it does not tokenize.
#include <fmt/format.h>

#include <cstdio>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>

#include "chat/chat_template.h"
#include "cli/commands.h"
#include "cli/default_model.h"
#include "gguf/gguf_file.h"
#include "util/error.h"

namespace kvinfer::cli {
namespace {

struct TemplateOptions {
  std::string model_path;
  std::string template_path;
  std::string context_path;
  CLI::Option* model_option = nullptr;
};

// The template and the BOS/EOS token text read from a model file.
struct ModelTemplate {
  std::optional<std::string> source;
  std::string bos_token;
  std::string eos_token;
};

std::string read_text_file(const std::string& path, std::string_view what) {
  std::ifstream file(path, std::ios::binary);
  if (!file) fail("cannot open {} file '{}'", what, path);
  std::ostringstream contents;
  contents << file.rdbuf();
  if (file.bad()) fail("failed to read {} file '{}'", what, path);
  return contents.str();
}

// The text of the token whose id is stored under `id_key`, or "" when the model has no
// such token.
std::string special_token_text(const gguf::File& file, const std::vector<std::string_view>& tokens,
                               std::string_view id_key) {
  const std::optional<uint64_t> id = file.get_uint(id_key);
  if (!id) return {};
  if (*id >= tokens.size()) {
    fail("{}: {} is {}, but tokenizer.ggml.tokens has only {} tokens", file.path(), id_key, *id, tokens.size());
  }
  return std::string(tokens[*id]);
}

ModelTemplate read_model_template(const std::string& path) {
  const gguf::File file(path);
  ModelTemplate model;
  if (const std::optional<std::string_view> source = file.get_string("tokenizer.chat_template")) {
    model.source = std::string(*source);
  }
  const std::vector<std::string_view> tokens = file.get_string_array("tokenizer.ggml.tokens").value_or(
      std::vector<std::string_view>{});
  model.bos_token = special_token_text(file, tokens, "tokenizer.ggml.bos_token_id");
  model.eos_token = special_token_text(file, tokens, "tokenizer.ggml.eos_token_id");
  return model;
}

// A short conversation that exercises the usual roles.
nlohmann::ordered_json example_messages() {
  return nlohmann::ordered_json::array({
      {{"role", "system"}, {"content", "You are a helpful assistant."}},
      {{"role", "user"}, {"content", "What is the capital of France?"}},
      {{"role", "assistant"}, {"content", "The capital of France is Paris."}},
      {{"role", "user"}, {"content", "And of Italy?"}},
  });
}

// The context from --context, a JSON object. The model's bos_token and eos_token are
// added when the file does not set them.
nlohmann::ordered_json read_context(const std::string& path, const ModelTemplate& model) {
  nlohmann::ordered_json context;
  try {
    context = nlohmann::ordered_json::parse(read_text_file(path, "context"));
  } catch (const nlohmann::json::parse_error& error) {
    fail("context file '{}' is not valid JSON: {}", path, error.what());
  }
  if (!context.is_object()) fail("context file '{}' must contain a JSON object, not {}", path, context.type_name());
  if (!context.contains("bos_token")) context["bos_token"] = model.bos_token;
  if (!context.contains("eos_token")) context["eos_token"] = model.eos_token;
  return context;
}

void render_template(const TemplateOptions& options) {
  // The model is read for -m, or for its template when no --template is given.
  const bool use_model = options.model_option->count() > 0 || options.template_path.empty();
  const std::string model_path = options.model_path.empty() ? default_model_path() : options.model_path;
  const ModelTemplate model = use_model ? read_model_template(model_path) : ModelTemplate{};

  std::string source;
  if (!options.template_path.empty()) {
    source = read_text_file(options.template_path, "template");
  } else if (model.source) {
    source = *model.source;
  } else {
    fail("{} has no tokenizer.chat_template; pass a template file with --template", model_path);
  }

  const chat::ChatTemplate chat_template(std::move(source));
  std::string prompt;
  if (!options.context_path.empty()) {
    prompt = chat_template.render(read_context(options.context_path, model));
  } else {
    prompt = chat::render_chat(chat_template, example_messages(), true, model.bos_token, model.eos_token);
  }
  std::fwrite(prompt.data(), 1, prompt.size(), stdout);
  std::fflush(stdout);
}

}  // namespace

void add_template_command(CLI::App& app) {
  auto options = std::make_shared<TemplateOptions>();
  CLI::App* command = app.add_subcommand(
      "template", "Render a chat template and print the prompt: the model's template, or a file with --template");
  options->model_option = command->add_option(
      "-m,--model", options->model_path,
      "GGUF model file whose tokenizer.chat_template and BOS/EOS tokens are used (default: the default model)");
  command->add_option("--template", options->template_path, "Jinja template file to render instead of the model's");
  command->add_option("--context", options->context_path,
                      "JSON file with the template variables (messages, add_generation_prompt, tools, ...); "
                      "without it a short example conversation is rendered with add_generation_prompt true");
  command->callback([options] { render_template(*options); });
}

}  // namespace kvinfer::cli
