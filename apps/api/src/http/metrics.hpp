#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <tuple>
#include <unordered_map>

namespace prometheus {
class Registry;
class Counter;
class Histogram;
template <typename T>
class Family;
}  // namespace prometheus

namespace medforge::http {

// Prometheus metrics for the process: HTTP counts and latency by route; other planes add their
// own families to registry().
class Metrics {
  public:
    Metrics();
    ~Metrics();
    // `route_key` identifies the route cheaply (its address); `route` names it in labels.
    void observe_request(const void* route_key, const std::string& route, const std::string& method,
                         int status, double seconds);
    std::string render() const;
    prometheus::Registry& registry() { return *registry_; }

  private:
    std::shared_ptr<prometheus::Registry> registry_;
    prometheus::Family<prometheus::Counter>* requests_;
    prometheus::Family<prometheus::Histogram>* latency_;
    std::mutex mu_;
    std::map<std::tuple<std::string, std::string, int>, prometheus::Counter*> counters_;
    std::map<std::pair<std::string, std::string>, prometheus::Histogram*> histograms_;
    std::uint64_t instance_;  // distinguishes Metrics objects in the per-thread lookup cache
};

}  // namespace medforge::http
