#include "http/metrics.hpp"

#include <prometheus/counter.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <atomic>
#include <functional>

namespace medforge::http {

namespace {
std::atomic<std::uint64_t> g_next_instance{1};
}  // namespace

Metrics::Metrics()
    : registry_(std::make_shared<prometheus::Registry>()), instance_(g_next_instance++) {
    requests_ = &prometheus::BuildCounter()
                     .Name("medforge_http_requests_total")
                     .Help("HTTP requests by route pattern, method and status")
                     .Register(*registry_);
    latency_ = &prometheus::BuildHistogram()
                    .Name("medforge_http_request_duration_seconds")
                    .Help("HTTP request latency by route pattern and method")
                    .Register(*registry_);
}

Metrics::~Metrics() = default;

namespace {

struct SeriesKey {
    std::uint64_t instance;
    const void* route;
    int status;
    std::uint64_t method_hash;
    bool operator==(const SeriesKey&) const = default;
};

struct SeriesKeyHash {
    std::size_t operator()(const SeriesKey& k) const {
        return std::hash<const void*>{}(k.route) ^ (static_cast<std::size_t>(k.status) << 1) ^
               (k.method_hash << 7) ^ (k.instance << 13);
    }
};

}  // namespace

void Metrics::observe_request(const void* route_key, const std::string& route,
                              const std::string& method, int status, double seconds) {
    // Each thread remembers the series it has used, so the hot path takes no lock.
    thread_local std::unordered_map<
        SeriesKey, std::pair<prometheus::Counter*, prometheus::Histogram*>, SeriesKeyHash>
        cache;
    const SeriesKey key{instance_, route_key, status, std::hash<std::string>{}(method)};
    if (auto it = cache.find(key); it != cache.end() && route_key != nullptr) {
        it->second.first->Increment();
        it->second.second->Observe(seconds);
        return;
    }
    prometheus::Counter* counter = nullptr;
    prometheus::Histogram* histogram = nullptr;
    {
        std::lock_guard lock(mu_);
        auto& c = counters_[{route, method, status}];
        if (c == nullptr) {
            c = &requests_->Add(
                {{"route", route}, {"method", method}, {"status", std::to_string(status)}});
        }
        counter = c;
        auto& h = histograms_[{route, method}];
        if (h == nullptr) {
            h = &latency_->Add(
                {{"route", route}, {"method", method}},
                prometheus::Histogram::BucketBoundaries{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                                        0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10});
        }
        histogram = h;
    }
    if (route_key != nullptr && cache.size() < 4096) cache[key] = {counter, histogram};
    counter->Increment();
    histogram->Observe(seconds);
}

std::string Metrics::render() const {
    return prometheus::TextSerializer().Serialize(registry_->Collect());
}

}  // namespace medforge::http
