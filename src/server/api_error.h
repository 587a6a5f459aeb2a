// Errors returned to HTTP clients, in the shape of OpenAI's error object:
// {"error": {"message", "type", "param", "code"}}. This is the one place where failures
// turn into HTTP status codes.
#pragma once

#include <nlohmann/json.hpp>

#include <string>

namespace kvinfer::server {

struct ApiError {
  ApiError(int status_code, std::string text, std::string field = "", std::string reason = "",
           std::string error_type = "invalid_request_error")
      : status(status_code), message(std::move(text)), param(std::move(field)), code(std::move(reason)), type(std::move(error_type)) {}

  int status = 400;
  std::string message;
  std::string param;  // the request field at fault; empty: null
  std::string code;   // a machine-readable reason such as "context_length_exceeded"; empty: null
  std::string type = "invalid_request_error";
};

// An invalid request field: status 400, naming `param`.
ApiError invalid_param(std::string param, std::string message);

nlohmann::ordered_json to_json(const ApiError& error);

}  // namespace kvinfer::server
