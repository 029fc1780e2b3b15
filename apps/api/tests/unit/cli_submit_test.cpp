// `medforge submit`'s pieces that need no server: the base URL, query encoding, and the
// configuration errors (exit 2) it reports before any request.
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "cli/http_client.hpp"
#include "cli/submit.hpp"
#include "test_support.hpp"

namespace medforge::cli {
namespace {

TEST(CliBaseUrl, ParsesSchemeHostPortAndPrefix) {
    auto u = BaseUrl::parse("http://127.0.0.1:8000");
    EXPECT_FALSE(u.tls);
    EXPECT_EQ(u.host, "127.0.0.1");
    EXPECT_EQ(u.port, "8000");
    EXPECT_EQ(u.prefix, "");
    EXPECT_EQ(u.host_header(), "127.0.0.1:8000");

    u = BaseUrl::parse("HTTPS://api.medforge.example.org/");
    EXPECT_TRUE(u.tls);
    EXPECT_EQ(u.port, "443");
    EXPECT_EQ(u.prefix, "");
    EXPECT_EQ(u.host_header(), "api.medforge.example.org");

    u = BaseUrl::parse("http://example.org/medforge//");
    EXPECT_EQ(u.port, "80");
    EXPECT_EQ(u.prefix, "/medforge");

    u = BaseUrl::parse("http://[::1]:9000/x");
    EXPECT_EQ(u.host, "::1");
    EXPECT_EQ(u.port, "9000");
    EXPECT_EQ(u.host_header(), "[::1]:9000");
}

TEST(CliBaseUrl, RejectsWhatIsNotABaseUrl) {
    for (const char* bad :
         {"", "127.0.0.1:8000", "ftp://host", "http://", "http://:80",
          "http://host:", "http://host:0", "http://host:65536", "http://host:8o", "http://u:p@host",
          "http://host/?q=1", "http://host/#f", "http://ho st", "http://[::1", "http://[::1]x"}) {
        EXPECT_THROW(BaseUrl::parse(bad), std::invalid_argument) << bad;
    }
}

TEST(CliBaseUrl, PercentEncodesAllButUnreserved) {
    EXPECT_EQ(percent_encode("sub-1_v2.csv~"), "sub-1_v2.csv~");
    EXPECT_EQ(percent_encode("a b&c=d/é.csv"), "a%20b%26c%3Dd%2F%C3%A9.csv");
}

struct Run {
    int code;
    std::string out;
    std::string err;
};

Run run(const SubmitOptions& opts, std::map<std::string, std::string> vars) {
    std::ostringstream out;
    std::ostringstream err;
    const int code = run_submit(opts, mftest::env_from(std::move(vars)), out, err);
    return {code, out.str(), err.str()};
}

class CliSubmit : public ::testing::Test {
  protected:
    void SetUp() override {
        file_ = (dir_.path() / "preds.csv").string();
        std::ofstream(file_) << "PassengerId,Survived\n892,0\n";
        opts_.competition = "titanic-survival";
        opts_.file = file_;
    }
    mftest::TempDir dir_;
    std::string file_;
    SubmitOptions opts_;
};

TEST_F(CliSubmit, WithoutTokenExits2AndSaysWhatToDo) {
    const auto r = run(opts_, {});
    EXPECT_EQ(r.code, 2);
    EXPECT_EQ(r.out, "");
    EXPECT_NE(r.err.find("MEDFORGE_TOKEN is not set"), std::string::npos) << r.err;
}

TEST_F(CliSubmit, ConfigurationErrorsExit2BeforeAnyRequest) {
    const std::map<std::string, std::string> env = {{"MEDFORGE_TOKEN", "mfp_x"},
                                                    {"MEDFORGE_API_URL", "127.0.0.1:8000"}};
    auto r = run(opts_, env);
    EXPECT_EQ(r.code, 2);
    EXPECT_NE(r.err.find("must start with http:// or https://"), std::string::npos) << r.err;

    SubmitOptions o = opts_;
    o.api_url = "http://127.0.0.1:1";
    o.competition = "Not A Slug";
    r = run(o, env);
    EXPECT_EQ(r.code, 2);
    EXPECT_NE(r.err.find("not a competition slug"), std::string::npos) << r.err;

    o = opts_;
    o.api_url = "http://127.0.0.1:1";
    o.file = (dir_.path() / "missing.csv").string();
    r = run(o, env);
    EXPECT_EQ(r.code, 2);
    EXPECT_NE(r.err.find("cannot read"), std::string::npos) << r.err;

    r = run(opts_, {{"MEDFORGE_TOKEN", "mfp x"}});
    EXPECT_EQ(r.code, 2);
    EXPECT_NE(r.err.find("control characters"), std::string::npos) << r.err;
}

TEST_F(CliSubmit, ANameWithoutCsvIsInvalidLocally) {
    const std::string txt = (dir_.path() / "preds.txt").string();
    std::ofstream(txt) << "PassengerId,Survived\n";
    SubmitOptions o = opts_;
    o.file = txt;
    o.api_url = "http://127.0.0.1:1";
    const auto r = run(o, {{"MEDFORGE_TOKEN", "mfp_x"}});
    EXPECT_EQ(r.code, 1);
    EXPECT_EQ(r.out, "invalid: the file name must end in .csv\n");
}

TEST_F(CliSubmit, ConnectionRefusedIsANetworkErrorAndJsonSaysSo) {
    // Port 1 on loopback: nothing listens there.
    SubmitOptions o = opts_;
    o.api_url = "http://127.0.0.1:1";
    o.json = true;
    const auto r = run(o, {{"MEDFORGE_TOKEN", "mfp_x"}});
    EXPECT_EQ(r.code, 2);
    EXPECT_EQ(r.err, "");
    const auto j = nlohmann::json::parse(r.out);
    EXPECT_EQ(j["status"], "error");
    EXPECT_TRUE(j["submission"].is_null());
    EXPECT_NE(j["error"].get<std::string>().find("connection refused"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace medforge::cli
