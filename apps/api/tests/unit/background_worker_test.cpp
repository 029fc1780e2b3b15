#include "core/background_worker.hpp"

#include <gtest/gtest.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <stdexcept>

namespace medforge {
namespace {

TEST(BackgroundWorker, RunsEverythingPostedBeforeItIsDestroyed) {
    std::atomic<int> ran{0};
    {
        BackgroundWorker worker(2, 0);
        for (int i = 0; i < 1000; ++i) worker.post([&] { ++ran; });
    }
    EXPECT_EQ(ran.load(), 1000);
}

TEST(BackgroundWorker, AThrowingTaskDoesNotStopTheOthers) {
    std::atomic<int> ran{0};
    {
        BackgroundWorker worker(1, 0);
        worker.post([] { throw std::runtime_error("boom"); });
        worker.post([&] { ++ran; });
    }
    EXPECT_EQ(ran.load(), 1);
}

TEST(BackgroundWorker, ItsThreadsRunAtALowerPriority) {
    std::atomic<int> seen{-100};
    const int base = ::getpriority(PRIO_PROCESS, static_cast<id_t>(::gettid()));
    {
        BackgroundWorker worker(1, 5);
        worker.post([&] { seen = ::getpriority(PRIO_PROCESS, static_cast<id_t>(::gettid())); });
    }
    EXPECT_EQ(seen.load(), std::min(base + 5, 19));
}

}  // namespace
}  // namespace medforge
