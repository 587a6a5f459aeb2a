// Registration of the `kvinfer` subcommands. Each subcommand lives in its own file and
// only translates between the command line and the layers below.
#pragma once

#include <CLI/CLI.hpp>

namespace kvinfer::cli {

void add_inspect_command(CLI::App& app);
void add_tokenize_commands(CLI::App& app);
void add_run_command(CLI::App& app);
void add_score_command(CLI::App& app);
void add_bench_command(CLI::App& app);
void add_template_command(CLI::App& app);
void add_chat_command(CLI::App& app);
void add_serve_command(CLI::App& app);

}  // namespace kvinfer::cli
