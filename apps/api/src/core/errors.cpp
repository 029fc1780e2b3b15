#include "core/errors.hpp"

namespace medforge {

ApiError::ApiError(int status, std::string code, std::string detail, std::string log_detail)
    : std::runtime_error(code),
      status_(status),
      code_(std::move(code)),
      detail_(std::move(detail)),
      log_detail_(std::move(log_detail)) {}

ApiError& ApiError::with_errors(std::vector<FieldError> errors) {
    errors_ = std::move(errors);
    return *this;
}

ApiError& ApiError::with_header(std::string name, std::string value) {
    headers_[std::move(name)] = std::move(value);
    return *this;
}

ApiError& ApiError::with_member(std::string name, std::int64_t value) {
    int_members_[std::move(name)] = value;
    return *this;
}

ApiError& ApiError::with_member(std::string name, std::string value) {
    string_members_[std::move(name)] = std::move(value);
    return *this;
}

const char* status_title(int status) {
    switch (status) {
        case 200:
            return "OK";
        case 201:
            return "Created";
        case 202:
            return "Accepted";
        case 204:
            return "No Content";
        case 206:
            return "Partial Content";
        case 400:
            return "Bad Request";
        case 401:
            return "Unauthorized";
        case 403:
            return "Forbidden";
        case 404:
            return "Not Found";
        case 405:
            return "Method Not Allowed";
        case 408:
            return "Request Timeout";
        case 409:
            return "Conflict";
        case 411:
            return "Length Required";
        case 413:
            return "Content Too Large";
        case 415:
            return "Unsupported Media Type";
        case 416:
            return "Range Not Satisfiable";
        case 422:
            return "Unprocessable Content";
        case 429:
            return "Too Many Requests";
        case 431:
            return "Request Header Fields Too Large";
        case 500:
            return "Internal Server Error";
        case 501:
            return "Not Implemented";
        case 503:
            return "Service Unavailable";
        default:
            return "Error";
    }
}

ApiError validation_error(std::vector<FieldError> errors) {
    ApiError e(422, "request_validation_failed", "The request body or parameters are invalid.");
    e.with_errors(std::move(errors));
    return e;
}

ApiError unauthenticated() {
    return ApiError(401, "authentication_required", "Log in to use this route.");
}

ApiError admin_required() {
    return ApiError(403, "admin_required", "This route is for administrators.");
}

ApiError not_found(std::string code, std::string detail) {
    return ApiError(404, std::move(code), std::move(detail));
}

}  // namespace medforge
