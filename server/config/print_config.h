// `loom serve --print-config`: the merged configuration (serve_config.h) as YAML.
//
// The output has server.yaml's keys, then `models:`, one entry per served model with the
// model YAML keys; every value is shown, defaults included, and a comment after a value
// says where it came from when that was a file ("FILE:LINE:COLUMN") or a flag ("--port").
// Each model entry, with its absolute `path`, is itself a valid model YAML. API keys are
// never printed: each one shows as "<redacted>".
#pragma once

#include <string>

#include "server/config/serve_config.h"

namespace loom {

std::string PrintServeConfig(const ServeConfig& config);

}  // namespace loom
