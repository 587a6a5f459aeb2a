// Entry point of the `kvinfer` binary: dispatches to subcommands and turns every error
// into one line on standard error and a non-zero exit.
#include <cstdio>
#include <exception>
#include <string>

#include "cli/commands.h"
#include "util/error.h"

namespace {

// Returns the names of the registered subcommands, comma-separated.
std::string subcommand_names(CLI::App& app) {
  std::string names;
  for (const CLI::App* command : app.get_subcommands({})) {
    if (!names.empty()) names += ", ";
    names += command->get_name();
  }
  return names;
}

bool has_subcommand(CLI::App& app, const std::string& name) {
  for (const CLI::App* command : app.get_subcommands({})) {
    if (command->check_name(name)) return true;
  }
  return false;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"kvinfer: LLM inference on the CPU, built around the KV cache"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "kvinfer 0.1.0");
  kvinfer::cli::add_inspect_command(app);
  kvinfer::cli::add_tokenize_commands(app);
  kvinfer::cli::add_run_command(app);
  kvinfer::cli::add_score_command(app);
  kvinfer::cli::add_bench_command(app);
  kvinfer::cli::add_template_command(app);
  kvinfer::cli::add_chat_command(app);
  kvinfer::cli::add_serve_command(app);

  // CLI11 reports an unknown first word as a missing subcommand; name it instead.
  if (argc > 1 && argv[1][0] != '-' && !has_subcommand(app, argv[1])) {
    std::fprintf(stderr, "error: unknown command '%s' (expected one of: %s)\n", argv[1], subcommand_names(app).c_str());
    return 2;
  }

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "error: %s (see --help)\n", e.what());
    return e.get_exit_code() != 0 ? e.get_exit_code() : 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
