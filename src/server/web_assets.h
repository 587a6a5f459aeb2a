// The web chat page's files (web/ in the repository), compiled into the binary by
// cmake/embed_web_assets.cmake.
#pragma once

#include <span>
#include <string_view>

namespace kvinfer::server {

struct WebAsset {
  std::string_view path;          // URL path, e.g. "/" or "/app.js"
  std::string_view content_type;
  std::string_view body;
};

std::span<const WebAsset> web_assets();

}  // namespace kvinfer::server
