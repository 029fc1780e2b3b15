#pragma once

// A ByteSource that hands out its input a few bytes per read, so records, quotes, CRLFs and
// UTF-8 sequences straddle reads. Shared by the CSV reader's unit tests and its fuzz target.

#include <algorithm>
#include <cstddef>
#include <string_view>

#include "competitions/csv_reader.hpp"

namespace medforge::testing {

class ChunkedSource final : public competitions::ByteSource {
  public:
    ChunkedSource(std::string_view data, std::size_t chunk) : data_(data), chunk_(chunk) {}
    std::size_t read(char* buffer, std::size_t capacity) override {
        const std::size_t n = std::min({capacity, chunk_, data_.size()});
        std::copy_n(data_.data(), n, buffer);
        data_.remove_prefix(n);
        return n;
    }

  private:
    std::string_view data_;
    std::size_t chunk_;
};

}  // namespace medforge::testing
