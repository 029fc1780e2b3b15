// Throughput of the submission CSV path: reading a ~50 MB numeric CSV (id,label,prob; 2M rows)
// from memory, with and without parsing every field with the spec's number grammars.
//   build/release/medforge-csv-bench [--benchmark_repetitions=5]
// Reports bytes/second (the "bytes_per_second" column, in MiB/s) and records/second per variant.

#include <benchmark/benchmark.h>

#include <cstdint>
#include <cstdio>
#include <random>
#include <stdexcept>
#include <string>

#include "competitions/csv_reader.hpp"
#include "competitions/values.hpp"

namespace {

using medforge::competitions::CsvReader;
using medforge::competitions::MemorySource;
using medforge::competitions::parse_float;
using medforge::competitions::parse_int64;
using medforge::competitions::Record;

constexpr std::size_t kRows = 2'000'000;

// Deterministic: a fixed seed and std::mt19937_64, whose output the standard pins down.
const std::string& numeric_csv() {
    static const std::string csv = [] {
        std::mt19937_64 rng(20240611);
        std::string out = "id,label,prob\n";
        out.reserve(kRows * 28);
        char line[64];
        for (std::size_t i = 0; i < kRows; ++i) {
            const std::uint64_t r = rng();
            const int n =
                std::snprintf(line, sizeof line, "%zu,%u,0.%012llu\n", 1'000'000 + i,
                              static_cast<unsigned>(r & 1),
                              static_cast<unsigned long long>((r >> 1) % 1'000'000'000'000));
            out.append(line, static_cast<std::size_t>(n));
        }
        return out;
    }();
    return csv;
}

// The same rows with every field quoted, for the slow (quoted) path.
const std::string& quoted_csv() {
    static const std::string csv = [] {
        const std::string& plain = numeric_csv();
        std::string out;
        out.reserve(plain.size() * 2);
        bool start = true;
        for (char c : plain) {
            if (start && c != '\n') out += '"';
            if (c == ',' || c == '\n') {
                if (!start) out += '"';
                out += c;
                start = true;
                continue;
            }
            out += c;
            start = false;
        }
        return out;
    }();
    return csv;
}

void read_only(benchmark::State& state, const std::string& csv) {
    for (auto _ : state) {
        MemorySource source(csv);
        CsvReader reader(source);
        Record rec;
        std::size_t bytes = 0;
        while (reader.next(rec)) bytes += rec[2].size();
        benchmark::DoNotOptimize(bytes);
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * csv.size()));
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * kRows));
}

void read_and_parse(benchmark::State& state, const std::string& csv) {
    for (auto _ : state) {
        MemorySource source(csv);
        CsvReader reader(source);
        const std::size_t id = reader.header().require("id");
        const std::size_t label = reader.header().require("label");
        const std::size_t prob = reader.header().require("prob");
        Record rec;
        std::int64_t ids = 0;
        double sum = 0;
        while (reader.next(rec)) {
            const auto i = parse_int64(rec[id]);
            const auto l = parse_int64(rec[label]);
            const auto p = parse_float(rec[prob]);
            if (!i || !l || !p) throw std::runtime_error("benchmark data does not parse");
            ids += i.value + l.value;
            sum += p.value;
        }
        benchmark::DoNotOptimize(ids);
        benchmark::DoNotOptimize(sum);
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * csv.size()));
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * kRows));
}

void BM_ReadOnly(benchmark::State& state) { read_only(state, numeric_csv()); }
void BM_ReadAndParse(benchmark::State& state) { read_and_parse(state, numeric_csv()); }
void BM_ReadAndParseQuoted(benchmark::State& state) { read_and_parse(state, quoted_csv()); }

BENCHMARK(BM_ReadOnly)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_ReadAndParse)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_ReadAndParseQuoted)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
