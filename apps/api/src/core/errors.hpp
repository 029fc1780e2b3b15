#pragma once

#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

namespace medforge {

// One entry of a problem's `errors` list: where (loc), what (msg), and a machine type.
struct FieldError {
    std::vector<std::string> loc;
    std::string msg;
    std::string type;
};

// An error with three faces: what the client sees (status, code, detail), and what only the log
// sees (log_detail). Thrown by services and handlers; turned into problem+json by the server.
class ApiError : public std::runtime_error {
  public:
    ApiError(int status, std::string code, std::string detail, std::string log_detail = {});

    int status() const { return status_; }
    const std::string& code() const { return code_; }
    const std::string& detail() const { return detail_; }
    const std::string& log_detail() const { return log_detail_; }
    const std::vector<FieldError>& errors() const { return errors_; }
    const std::map<std::string, std::string>& headers() const { return headers_; }

    ApiError& with_errors(std::vector<FieldError> errors);
    ApiError& with_header(std::string name, std::string value);
    // Extra members of the problem body (RFC 7807 extensions), e.g. max_bytes, cap_resets_at.
    ApiError& with_member(std::string name, std::int64_t value);
    ApiError& with_member(std::string name, std::string value);
    const std::map<std::string, std::int64_t>& int_members() const { return int_members_; }
    const std::map<std::string, std::string>& string_members() const { return string_members_; }

  private:
    int status_;
    std::string code_;
    std::string detail_;
    std::string log_detail_;
    std::vector<FieldError> errors_;
    std::map<std::string, std::string> headers_;
    std::map<std::string, std::int64_t> int_members_;
    std::map<std::string, std::string> string_members_;
};

// The RFC 9110 reason phrase for a status, used as the problem title.
const char* status_title(int status);

ApiError validation_error(std::vector<FieldError> errors);
ApiError unauthenticated();
ApiError admin_required();
ApiError not_found(std::string code, std::string detail);

}  // namespace medforge
