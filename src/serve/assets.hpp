// Files the server ships inside its binary (src/serve/assets, embedded at build time).
#pragma once

#include <string_view>

namespace encore::serve::assets {
extern const std::string_view index_html;    // GET /: the page to try the model
extern const std::string_view openapi_json;  // GET /openapi.json
}  // namespace encore::serve::assets
