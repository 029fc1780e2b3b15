#pragma once

// Run-length masks (mean_iou submissions and holdouts), per the spec's "RLE" convention.

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace medforge::competitions {

// Pixels [begin, end), 0-based, row-major over the image.
struct PixelRun {
    std::uint64_t begin;
    std::uint64_t end;
    bool operator==(const PixelRun&) const = default;
};

// A mask that breaks the rules. what() reads `RLE token 3: <reason>`; token() is 1-based.
class RleError : public std::runtime_error {
  public:
    RleError(std::size_t token, std::string reason);
    std::size_t token() const noexcept { return token_; }
    const std::string& reason() const noexcept { return reason_; }

  private:
    std::size_t token_;
    std::string reason_;
};

// Decodes `start length` pairs: tokens are [0-9]+ (unsigned 64-bit) separated by runs of space,
// tab, CR or LF; starts are 1-based, at least 1 and strictly increasing; lengths at least 1; runs
// do not overlap and end inside the width × height image. An empty or whitespace-only mask is the
// empty mask. The result is sorted and disjoint (adjacent runs stay separate). Throws RleError.
std::vector<PixelRun> decode_rle(std::string_view mask, std::uint64_t width, std::uint64_t height);

// The same, reusing `runs` (cleared first) to spare an allocation per mask.
void decode_rle_into(std::string_view mask, std::uint64_t width, std::uint64_t height,
                     std::vector<PixelRun>& runs);

}  // namespace medforge::competitions
