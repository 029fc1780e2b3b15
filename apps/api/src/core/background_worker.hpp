#pragma once

// A few low-priority threads for work nobody waits on: cache refresh-ahead and the idle slide.
// They run at a lower scheduling priority (nice), so a burst of refreshes never delays the I/O
// threads' answers; the queue is unbounded (each item is small and bounded by the caches' size).

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace medforge {

class BackgroundWorker {
  public:
    BackgroundWorker(std::size_t threads, int nice_increment);
    BackgroundWorker(const BackgroundWorker&) = delete;
    BackgroundWorker& operator=(const BackgroundWorker&) = delete;
    // Runs what is queued, then joins.
    ~BackgroundWorker();

    void post(std::function<void()> fn);

  private:
    void run(int nice_increment);

    std::mutex mu_;
    std::condition_variable cv_;
    std::deque<std::function<void()>> queue_;
    bool stopping_ = false;
    std::vector<std::thread> threads_;
};

}  // namespace medforge
