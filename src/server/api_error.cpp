#include "server/api_error.h"

namespace kvinfer::server {

ApiError invalid_param(std::string param, std::string message) {
  return ApiError{400, std::move(message), std::move(param), "", "invalid_request_error"};
}

nlohmann::ordered_json to_json(const ApiError& error) {
  auto or_null = [](const std::string& text) { return text.empty() ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(text); };
  return {{"error",
           {{"message", error.message}, {"type", error.type}, {"param", or_null(error.param)}, {"code", or_null(error.code)}}}};
}

}  // namespace kvinfer::server
