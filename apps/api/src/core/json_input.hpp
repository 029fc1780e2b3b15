#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/errors.hpp"

namespace medforge {

constexpr int kMaxJsonDepth = 32;

// Parses a request body that must be one JSON object. Rejects (422 request_validation_failed)
// malformed JSON, invalid UTF-8, nesting deeper than kMaxJsonDepth (checked before parsing, so a
// hostile body cannot exhaust the stack), numbers that overflow, and non-objects.
nlohmann::json parse_json_object(std::string_view body);

// Reads fields of a closed-schema object, collecting every problem into one 422.
class ObjectReader {
  public:
    ObjectReader(const nlohmann::json& obj, std::vector<std::string> allowed_keys);

    std::optional<std::string> string(const std::string& key, bool required, std::size_t min_chars,
                                      std::size_t max_chars);
    std::optional<std::int64_t> integer(const std::string& key, bool required, std::int64_t min,
                                        std::int64_t max);
    std::optional<bool> boolean(const std::string& key, bool required);
    // Adds a problem found by the caller's own checks.
    void fail(const std::string& key, std::string msg, std::string type);
    // Throws the collected validation error, if any.
    void finish() const;

  private:
    const nlohmann::json* find(const std::string& key, bool required);
    const nlohmann::json& obj_;
    std::vector<FieldError> errors_;
};

std::size_t utf8_length(std::string_view s);

}  // namespace medforge
