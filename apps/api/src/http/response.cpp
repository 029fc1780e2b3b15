#include "http/response.hpp"

#include "core/ids.hpp"

namespace medforge::http {

namespace {

nlohmann::json meta(const Request& req) {
    return {{"request_id", req.request_id},
            {"api_version", "v1"},
            {"timestamp", format_iso8601(req.received_at)}};
}

std::string dump(const nlohmann::json& j) {
    return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace

Response ok(const Request& req, nlohmann::json data, int status) {
    Response r;
    r.status = status;
    r.body = dump({{"data", std::move(data)}, {"meta", meta(req)}});
    return r;
}

Response ok_list(const Request& req, nlohmann::json items, int limit,
                 const std::optional<std::string>& next) {
    auto m = meta(req);
    m["limit"] = limit;
    m["next_cursor"] = next ? nlohmann::json(*next) : nlohmann::json(nullptr);
    m["has_more"] = next.has_value();
    Response r;
    r.body = dump({{"data", std::move(items)}, {"meta", std::move(m)}});
    return r;
}

Response problem(const Request& req, const ApiError& error) {
    nlohmann::json body = {
        {"type", std::string(kProblemTypeBase) + error.code()},
        {"title", status_title(error.status())},
        {"status", error.status()},
        {"detail", error.detail()},
        {"instance", req.path.empty() ? std::string("/") : req.path},
        {"code", error.code()},
        {"request_id", req.request_id},
    };
    if (!error.errors().empty()) {
        auto list = nlohmann::json::array();
        for (const auto& e : error.errors()) {
            list.push_back({{"loc", e.loc}, {"msg", e.msg}, {"type", e.type}});
        }
        body["errors"] = std::move(list);
    }
    for (const auto& [k, v] : error.int_members()) body[k] = v;
    for (const auto& [k, v] : error.string_members()) body[k] = v;
    Response r;
    r.status = error.status();
    r.content_type = "application/problem+json";
    r.body = dump(body);
    for (const auto& [k, v] : error.headers()) r.set_header(k, v);
    return r;
}

PageRequest parse_page(const Request& req, int default_limit) {
    PageRequest page;
    page.limit = default_limit;
    if (auto l = req.query_param("limit")) {
        int n = 0;
        bool ok = !l->empty() && l->size() <= 4;
        for (char c : *l) ok = ok && c >= '0' && c <= '9';
        if (ok) n = std::stoi(*l);
        if (!ok || n < 1 || n > 500) {
            throw ApiError(400, "invalid_limit", "limit must be an integer from 1 to 500.");
        }
        page.limit = n;
    }
    if (auto c = req.query_param("cursor")) {
        std::string raw;
        nlohmann::json j;
        bool ok = c->size() <= 512 && base64url_decode(*c, raw);
        if (ok) {
            j = nlohmann::json::parse(raw, nullptr, false);
            ok = j.is_array() && j.size() == 3 && j[0] == "c1" && j[1].is_number_integer() &&
                 j[2].is_string();
        }
        if (!ok) throw ApiError(400, "invalid_cursor", "The cursor is not one this API issued.");
        page.after_key = j[1].get<std::int64_t>();
        page.after_id = j[2].get<std::string>();
        page.has_cursor = true;
    }
    return page;
}

std::string encode_cursor(std::int64_t key, const std::string& id) {
    std::string raw = nlohmann::json::array({"c1", key, id}).dump();
    return base64url_encode(reinterpret_cast<const std::uint8_t*>(raw.data()), raw.size());
}

}  // namespace medforge::http
