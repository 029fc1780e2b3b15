#include "core/json_input.hpp"

#include <algorithm>

namespace medforge {

namespace {

int max_depth(std::string_view body) {
    int depth = 0;
    int deepest = 0;
    bool in_string = false;
    bool escaped = false;
    for (char c : body) {
        if (in_string) {
            if (escaped)
                escaped = false;
            else if (c == '\\')
                escaped = true;
            else if (c == '"')
                in_string = false;
            continue;
        }
        if (c == '"') {
            in_string = true;
        } else if (c == '{' || c == '[') {
            deepest = std::max(deepest, ++depth);
            if (deepest > kMaxJsonDepth) return deepest;
        } else if (c == '}' || c == ']') {
            --depth;
        }
    }
    return deepest;
}

ApiError body_error(std::string msg, std::string type) {
    return validation_error({FieldError{{"body"}, std::move(msg), std::move(type)}});
}

}  // namespace

std::size_t utf8_length(std::string_view s) {
    return static_cast<std::size_t>(std::count_if(
        s.begin(), s.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; }));
}

nlohmann::json parse_json_object(std::string_view body) {
    if (body.empty()) throw body_error("a JSON object body is required", "missing");
    if (max_depth(body) > kMaxJsonDepth) {
        throw body_error("JSON nesting is deeper than " + std::to_string(kMaxJsonDepth),
                         "json_too_deep");
    }
    nlohmann::json j;
    try {
        j = nlohmann::json::parse(body.begin(), body.end());
    } catch (const nlohmann::json::exception& e) {
        // e.what() names a byte position and the lexer's view of the token; it never contains
        // server paths, so it is safe to return.
        // Cut the message: nlohmann quotes the offending token, which may be huge.
        std::string what = e.what();
        if (what.size() > 200) what = what.substr(0, 200) + "...";
        throw body_error("malformed JSON: " + what, "json_invalid");
    }
    if (!j.is_object()) throw body_error("the body must be a JSON object", "type_error.object");
    return j;
}

ObjectReader::ObjectReader(const nlohmann::json& obj, std::vector<std::string> allowed_keys)
    : obj_(obj) {
    for (const auto& [key, value] : obj.items()) {
        if (std::find(allowed_keys.begin(), allowed_keys.end(), key) == allowed_keys.end()) {
            errors_.push_back({{"body", key}, "unknown field", "extra_forbidden"});
        }
    }
}

const nlohmann::json* ObjectReader::find(const std::string& key, bool required) {
    auto it = obj_.find(key);
    if (it == obj_.end() || (it->is_null() && !required)) {
        if (required) errors_.push_back({{"body", key}, "field required", "missing"});
        return nullptr;
    }
    return &*it;
}

std::optional<std::string> ObjectReader::string(const std::string& key, bool required,
                                                std::size_t min_chars, std::size_t max_chars) {
    const auto* v = find(key, required);
    if (v == nullptr) return std::nullopt;
    if (!v->is_string()) {
        errors_.push_back({{"body", key}, "must be a string", "string_type"});
        return std::nullopt;
    }
    const auto& s = v->get_ref<const std::string&>();
    const std::size_t n = utf8_length(s);
    if (n < min_chars || n > max_chars) {
        errors_.push_back({{"body", key},
                           "must be " + std::to_string(min_chars) + ".." +
                               std::to_string(max_chars) + " characters",
                           "string_length"});
        return std::nullopt;
    }
    return s;
}

std::optional<std::int64_t> ObjectReader::integer(const std::string& key, bool required,
                                                  std::int64_t min, std::int64_t max) {
    const auto* v = find(key, required);
    if (v == nullptr) return std::nullopt;
    if (!v->is_number_integer()) {
        errors_.push_back({{"body", key}, "must be an integer", "int_type"});
        return std::nullopt;
    }
    std::int64_t n = 0;
    if (v->is_number_unsigned()) {
        auto u = v->get<std::uint64_t>();
        if (u > static_cast<std::uint64_t>(max)) {
            errors_.push_back({{"body", key},
                               "must be in " + std::to_string(min) + ".." + std::to_string(max),
                               "int_range"});
            return std::nullopt;
        }
        n = static_cast<std::int64_t>(u);
    } else {
        n = v->get<std::int64_t>();
    }
    if (n < min || n > max) {
        errors_.push_back({{"body", key},
                           "must be in " + std::to_string(min) + ".." + std::to_string(max),
                           "int_range"});
        return std::nullopt;
    }
    return n;
}

std::optional<bool> ObjectReader::boolean(const std::string& key, bool required) {
    const auto* v = find(key, required);
    if (v == nullptr) return std::nullopt;
    if (!v->is_boolean()) {
        errors_.push_back({{"body", key}, "must be a boolean", "bool_type"});
        return std::nullopt;
    }
    return v->get<bool>();
}

void ObjectReader::fail(const std::string& key, std::string msg, std::string type) {
    errors_.push_back({{"body", key}, std::move(msg), std::move(type)});
}

void ObjectReader::finish() const {
    if (!errors_.empty()) throw validation_error(errors_);
}

}  // namespace medforge
