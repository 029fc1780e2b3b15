#pragma once

// Reading request bodies, shared by the routes: a JSON object, and a multipart form spooled to a
// file (uploads) split into one file per wanted field.

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/errors.hpp"
#include "http/message.hpp"

namespace medforge::app {

// The body of a JSON route as one object: 415 unsupported_media_type unless the Content-Type is
// JSON, 422 request_validation_failed when it is not one JSON object (see parse_json_object).
nlohmann::json parse_body(const http::Request& req);

// 503 storage_unavailable: an upload's file could not be created, written or read. `what` goes
// to the log only.
ApiError storage_error(const std::string& what);

// A form field to copy out of a multipart body into a file of its own.
struct FormField {
    std::string name;  // the form field
    std::string path;  // created (exclusively, with `mode`) when the field's part begins
    unsigned mode = 0600;
    // Past this size the field's size is still counted (to report it) but nothing more is
    // written: the caller compares `size` with it.
    std::uint64_t max_bytes = 0;

    // Filled in by extract_form_fields.
    bool found = false;
    std::uint64_t size = 0;
    std::optional<std::string> filename;  // the part's `filename` as sent (see safe_filename)
};

// Splits the multipart body spooled at `body_file` (with the boundary of its Content-Type) into
// the fields' files. Throws 400 invalid_multipart for a malformed body, `invalid(detail)` for a
// field sent twice and, with `reject_unknown`, for a field not in `fields` (parts of other fields
// are skipped otherwise), and storage_error when a file cannot be read or written. The files
// created so far stay: the caller removes them when it gives up.
void extract_form_fields(const std::string& body_file, std::string_view boundary,
                         std::vector<FormField>& fields, bool reject_unknown,
                         const std::function<ApiError(std::string)>& invalid);

}  // namespace medforge::app
