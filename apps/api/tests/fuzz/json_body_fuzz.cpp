// libFuzzer target: request-body JSON decoding (depth pre-check, parse, closed-schema reading)
// must answer any input with a value or an ApiError (422), never a crash.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "core/errors.hpp"
#include "core/json_input.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view body(reinterpret_cast<const char*>(data), size);
    try {
        const auto obj = medforge::parse_json_object(body);
        medforge::ObjectReader r(obj, {"email", "password", "display_name", "limit"});
        (void)r.string("email", false, 1, 320);
        (void)r.string("password", false, 8, 128);
        (void)r.string("display_name", false, 1, 64);
        (void)r.integer("limit", false, 1, 500);
        (void)r.boolean("password", false);
        r.finish();
        // What the API would send back must serialise.
        (void)obj.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    } catch (const medforge::ApiError& e) {
        if (e.status() != 422) __builtin_trap();
    }
    return 0;
}
