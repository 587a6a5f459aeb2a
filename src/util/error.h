// Error type and formatting helpers shared by every layer.
// Exceptions are thrown only at load and parse boundaries; expected failures in the
// engine are returned as values instead.
#pragma once

#include <fmt/format.h>

#include <stdexcept>
#include <string>

namespace kvinfer {

// A failure that is the user's or the input file's fault: its message is one line that
// names the offending file, key, tensor or value, and it is printed as-is to the user.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Throws Error with a message formatted by fmt.
template <typename... Args>
[[noreturn]] void fail(fmt::format_string<Args...> format, Args&&... args) {
  throw Error(fmt::format(format, std::forward<Args>(args)...));
}

}  // namespace kvinfer
