#include "http/metrics.hpp"

#include <prometheus/counter.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

namespace medforge::http {

Metrics::Metrics() : registry_(std::make_shared<prometheus::Registry>()) {
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

void Metrics::observe_request(const std::string& route, const std::string& method, int status,
                              double seconds) {
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
    counter->Increment();
    histogram->Observe(seconds);
}

std::string Metrics::render() const {
    return prometheus::TextSerializer().Serialize(registry_->Collect());
}

}  // namespace medforge::http
