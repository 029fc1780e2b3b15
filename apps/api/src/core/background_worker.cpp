#include "core/background_worker.hpp"

#include <sys/resource.h>
#include <unistd.h>

#include <exception>

#include "core/log.hpp"

namespace medforge {

BackgroundWorker::BackgroundWorker(std::size_t threads, int nice_increment) {
    threads_.reserve(threads);
    for (std::size_t i = 0; i < threads; ++i) {
        threads_.emplace_back([this, nice_increment] { run(nice_increment); });
    }
}

BackgroundWorker::~BackgroundWorker() {
    {
        std::lock_guard lock(mu_);
        stopping_ = true;
    }
    cv_.notify_all();
    for (auto& t : threads_) t.join();
}

void BackgroundWorker::post(std::function<void()> fn) {
    {
        std::lock_guard lock(mu_);
        queue_.push_back(std::move(fn));
    }
    cv_.notify_one();
}

void BackgroundWorker::run(int nice_increment) {
    // Linux applies a nice value per thread (the tid); failure only means normal priority.
    if (nice_increment != 0) {
        ::setpriority(PRIO_PROCESS, static_cast<id_t>(::gettid()), nice_increment);
    }
    for (;;) {
        std::function<void()> fn;
        {
            std::unique_lock lock(mu_);
            cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
            if (queue_.empty()) return;  // stopping, and everything queued has run
            fn = std::move(queue_.front());
            queue_.pop_front();
        }
        try {
            fn();
        } catch (const std::exception& e) {
            log::warn("background.task_failed", {{"error", e.what()}});
        }
    }
}

}  // namespace medforge
