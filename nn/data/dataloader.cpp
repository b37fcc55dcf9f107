// The DataLoader and the state of one epoch: the batches' index lists, the worker threads, and the window of
// loaded batches they share with the consumer.
//
// Workers claim batch numbers in increasing order, but only while the claimed batch lies within `capacity`
// batches of the one the consumer waits for, so that memory stays bounded however slow the consumer is. Each
// finished batch (or the exception that loading it threw) goes into `ready` under its number; the consumer
// takes batch after batch in number order. Stopping sets a flag that every wait checks, wakes everyone and
// joins the workers; a worker in the middle of loading a batch finishes it first.
#include "nn/data/dataloader.h"

#include <algorithm>
#include <condition_variable>
#include <exception>
#include <map>
#include <mutex>
#include <thread>

#include "autograd/grad_mode.h"

namespace tandem::nn::data {

struct DataLoader::Epoch {
  struct Slot {
    Example batch;
    std::exception_ptr error;
  };

  DatasetPtr dataset;
  CollateFunction collate;
  std::vector<std::vector<size_t>> batches;
  size_t capacity = 1;  ///< the most batches loaded (or being loaded) ahead of the consumer

  std::mutex mutex;
  std::condition_variable worker_cv;    ///< a batch was consumed, or stop
  std::condition_variable consumer_cv;  ///< a batch is ready, or stop
  size_t next_to_claim = 0;             ///< the batch the next idle worker loads
  size_t next_to_consume = 0;           ///< the batch the consumer takes next
  std::map<size_t, Slot> ready;
  bool stopping = false;
  std::vector<std::thread> workers;

  Example current;        ///< the batch the iterators point at
  bool finished = false;  ///< past the last batch (or stopped, or failed)

  ~Epoch() { stop(); }  // the last iterator of the epoch went away

  Example load(size_t b) {
    NoGradGuard no_grad;  // batches are data: never part of a graph
    const std::vector<size_t>& indices = batches[b];
    if (!collate) return dataset->get_batch(indices);
    std::vector<Example> examples;
    examples.reserve(indices.size());
    for (size_t i : indices) examples.push_back(dataset->get(i));
    return collate(examples);
  }

  void start_workers(size_t count) {
    workers.reserve(count);
    for (size_t w = 0; w < count; ++w) workers.emplace_back([this] { work(); });
  }

  void work() {
    for (;;) {
      size_t b;
      {
        std::unique_lock<std::mutex> lock(mutex);
        worker_cv.wait(lock, [&] {
          return stopping || next_to_claim >= batches.size() || next_to_claim < next_to_consume + capacity;
        });
        if (stopping || next_to_claim >= batches.size()) return;
        b = next_to_claim++;
      }
      Slot slot;
      try {
        slot.batch = load(b);
      } catch (...) {
        slot.error = std::current_exception();
      }
      {
        std::lock_guard<std::mutex> lock(mutex);
        ready.emplace(b, std::move(slot));
      }
      consumer_cv.notify_all();
    }
  }

  /// Moves `current` to the next batch, or finishes the epoch after the last one. Rethrows an error raised
  /// while loading the batch, which also finishes the epoch.
  void advance() {
    current = Example();
    if (finished) return;
    if (stopping || next_to_consume >= batches.size()) {
      finish();
      return;
    }
    if (workers.empty()) {  // no background threads: load right here
      try {
        current = load(next_to_consume++);
      } catch (...) {
        finish();
        throw;
      }
      return;
    }
    Slot slot;
    {
      std::unique_lock<std::mutex> lock(mutex);
      consumer_cv.wait(lock, [&] { return stopping || ready.count(next_to_consume) > 0; });
      if (!stopping) {
        slot = std::move(ready.extract(next_to_consume++).mapped());
      }
    }
    if (stopping) {
      finish();
      return;
    }
    worker_cv.notify_all();  // the window moved on: a worker may claim another batch
    if (slot.error) {
      finish();
      std::rethrow_exception(slot.error);
    }
    current = std::move(slot.batch);
  }

  /// Stops the workers and waits for them (idempotent). Called from the consumer's side, never by a worker.
  void stop() {
    {
      std::lock_guard<std::mutex> lock(mutex);
      stopping = true;
    }
    worker_cv.notify_all();
    consumer_cv.notify_all();
    for (std::thread& t : workers)
      if (t.joinable()) t.join();
    ready.clear();
  }

  /// Stops the epoch for good: its iterators read as finished and it lets go of the dataset and its batches.
  void finish() {
    stop();
    finished = true;
    current = Example();
    dataset.reset();
    batches.clear();
  }
};

DataLoader::DataLoader(DatasetPtr dataset, DataLoaderOptions options, SamplerPtr sampler)
    : dataset_(std::move(dataset)), options_(std::move(options)), sampler_(std::move(sampler)) {
  TD_CHECK(dataset_ != nullptr, "DataLoader: the dataset is null");
  TD_CHECK(options_.batch_size() >= 1, "DataLoader: batch_size must be at least 1, got ", options_.batch_size());
  TD_CHECK(options_.workers() >= 0, "DataLoader: workers must be non-negative, got ", options_.workers());
  TD_CHECK(options_.prefetch() >= 1, "DataLoader: prefetch must be at least 1, got ", options_.prefetch());
  TD_CHECK(!(sampler_ && options_.shuffle()), "DataLoader: shuffle(true) cannot be combined with a sampler (",
           sampler_ ? sampler_->name() : std::string(), "); the sampler decides the order");
  if (!sampler_) {
    if (options_.shuffle())
      sampler_ = std::make_shared<RandomSampler>(dataset_->size(), options_.seed());
    else
      sampler_ = std::make_shared<SequentialSampler>(dataset_->size());
  }
}

DataLoader::~DataLoader() {
  if (auto running = running_.lock()) running->finish();
}

size_t DataLoader::size() const {
  const size_t n = sampler_->size(), bs = static_cast<size_t>(options_.batch_size());
  return options_.drop_last() ? n / bs : (n + bs - 1) / bs;
}

DataLoader::Iterator DataLoader::begin() {
  if (auto running = running_.lock()) running->finish();
  const uint64_t epoch = next_epoch_;
  const std::vector<size_t> order = sampler_->indices(epoch);
  TD_CHECK(order.size() == sampler_->size(), "DataLoader: ", sampler_->name(), " gave ", order.size(),
           " indices for epoch ", epoch, " but its size() is ", sampler_->size());
  const size_t n = dataset_->size();
  for (size_t k = 0; k < order.size(); ++k)
    TD_CHECK(order[k] < n, "DataLoader: ", sampler_->name(), " gave index ", order[k], " (position ", k, " of epoch ",
             epoch, ") but ", dataset_->name(), " has ", n, " examples");
  dataset_->set_epoch(epoch);
  ++next_epoch_;

  auto state = std::make_shared<Epoch>();
  state->dataset = dataset_;
  state->collate = options_.collate();
  const size_t bs = static_cast<size_t>(options_.batch_size()), count = size();
  state->batches.reserve(count);
  for (size_t b = 0; b < count; ++b) {
    const size_t first = b * bs, last = std::min(order.size(), first + bs);
    state->batches.emplace_back(order.begin() + static_cast<std::ptrdiff_t>(first),
                                order.begin() + static_cast<std::ptrdiff_t>(last));
  }
  const size_t workers = std::min(static_cast<size_t>(options_.workers()), count);
  state->capacity =
      std::max<size_t>(1, static_cast<size_t>(options_.workers())) * static_cast<size_t>(options_.prefetch());
  running_ = state;
  state->start_workers(workers);  // on failure the state's destructor joins the ones already started
  state->advance();
  return Iterator(std::move(state));
}

Example& DataLoader::Iterator::operator*() const {
  TD_CHECK(!at_end(), "DataLoader: dereferencing an iterator that is past the last batch");
  return epoch_->current;
}

DataLoader::Iterator& DataLoader::Iterator::operator++() {
  TD_CHECK(!at_end(), "DataLoader: advancing an iterator that is past the last batch");
  epoch_->advance();
  return *this;
}

bool DataLoader::Iterator::at_end() const { return !epoch_ || epoch_->finished; }

}  // namespace tandem::nn::data
