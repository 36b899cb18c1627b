// servebench — workloads: where prompts come from.
#pragma once

#include <string>

namespace servebench {

// One request to make: the prompt and its generation length.
struct Prompt {
  std::string text;
  int max_tokens = 100;
};

}  // namespace servebench
