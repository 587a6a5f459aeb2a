// Entry point of the `kvinfer` binary: dispatches to subcommands and turns errors into a
// one-line message and a non-zero exit.
#include <cstdio>
#include <exception>

#include "cli/commands.h"
#include "util/error.h"

int main(int argc, char** argv) {
  CLI::App app{"kvinfer: LLM inference on the CPU, built around the KV cache"};
  app.require_subcommand(1);
  kvinfer::cli::add_inspect_command(app);
  kvinfer::cli::add_tokenize_commands(app);
  kvinfer::cli::add_run_command(app);
  kvinfer::cli::add_score_command(app);
  kvinfer::cli::add_bench_command(app);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const kvinfer::Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
