#include "app/request_bodies.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "core/json_input.hpp"
#include "http/multipart.hpp"

namespace medforge::app {

namespace {

void write_all(int fd, const char* p, std::size_t n) {
    while (n > 0) {
        const ssize_t w = ::write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            throw storage_error(std::string("write: ") + std::strerror(errno));
        }
        p += w;
        n -= static_cast<std::size_t>(w);
    }
}

struct Fd {
    int fd = -1;
    Fd() = default;
    explicit Fd(int f) : fd(f) {}
    Fd(const Fd&) = delete;
    Fd& operator=(const Fd&) = delete;
    ~Fd() { reset(); }
    void reset(int f = -1) {
        if (fd >= 0) ::close(fd);
        fd = f;
    }
};

// Copies the parts of the wanted fields into their files.
class FieldFiles final : public http::MultipartHandler {
  public:
    FieldFiles(std::vector<FormField>& fields, bool reject_unknown,
               const std::function<ApiError(std::string)>& invalid)
        : fields_(fields), reject_unknown_(reject_unknown), invalid_(invalid) {}

    void on_part_begin(const http::PartHeaders& h) override {
        current_ = nullptr;
        for (auto& f : fields_) {
            if (f.name == h.name) current_ = &f;
        }
        if (current_ == nullptr) {
            if (!reject_unknown_) return;
            // The field's name is not echoed: list what is expected instead.
            std::string expected;
            for (const auto& f : fields_) {
                expected += expected.empty() ? "`" : ", `";
                expected += f.name + "`";
            }
            throw invalid_("The form has an unexpected field; it takes exactly " + expected + ".");
        }
        if (current_->found) throw invalid_("The form has more than one `" + h.name + "` field.");
        current_->found = true;
        current_->filename = h.filename;
        out_.reset(::open(current_->path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
                          static_cast<mode_t>(current_->mode)));
        if (out_.fd < 0) {
            throw storage_error("open " + current_->path + ": " + std::strerror(errno));
        }
    }

    void on_part_data(std::string_view d) override {
        if (current_ == nullptr) return;
        if (current_->size + d.size() <= current_->max_bytes)
            write_all(out_.fd, d.data(), d.size());
        current_->size += d.size();
    }

    void on_part_end() override {
        out_.reset();
        current_ = nullptr;
    }

  private:
    std::vector<FormField>& fields_;
    bool reject_unknown_;
    const std::function<ApiError(std::string)>& invalid_;
    FormField* current_ = nullptr;
    Fd out_;
};

}  // namespace

nlohmann::json parse_body(const http::Request& req) {
    auto ct = req.header("content-type");
    if (!ct ||
        !(ct->rfind("application/json", 0) == 0 || ct->find("+json") != std::string_view::npos)) {
        throw ApiError(415, "unsupported_media_type", "Send the body as application/json.");
    }
    return parse_json_object(req.body);
}

ApiError storage_error(const std::string& what) {
    return ApiError(503, "storage_unavailable",
                    "The upload could not be stored; try again shortly.", what);
}

void extract_form_fields(const std::string& body_file, std::string_view boundary,
                         std::vector<FormField>& fields, bool reject_unknown,
                         const std::function<ApiError(std::string)>& invalid) {
    const Fd in(::open(body_file.c_str(), O_RDONLY | O_CLOEXEC));
    if (in.fd < 0) throw storage_error(std::string("open body: ") + std::strerror(errno));
    FieldFiles sink(fields, reject_unknown, invalid);
    try {
        http::MultipartParser parser(boundary, sink);
        std::vector<char> buf(std::size_t{64} * 1024);
        for (;;) {
            const ssize_t n = ::read(in.fd, buf.data(), buf.size());
            if (n < 0 && errno == EINTR) continue;
            if (n < 0) throw storage_error(std::string("read body: ") + std::strerror(errno));
            if (n == 0) break;
            parser.feed(buf.data(), static_cast<std::size_t>(n));
        }
        parser.finish();
    } catch (const http::MultipartError& e) {
        throw ApiError(400, "invalid_multipart",
                       std::string("The multipart body is malformed: ") + e.what() + ".");
    }
}

}  // namespace medforge::app
