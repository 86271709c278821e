/*
 * ann_hnswlib.cpp -- hnswlib (Debian libhnswlib-dev, header-only) as an
 * ANN benchmark contender.  Compiled -O3 -march=native so that hnswlib's
 * own SIMD distance (AVX-512 / AVX / SSE, chosen by its #ifdefs from the
 * compiler's target macros) is used.
 *
 * Build: M and efConstruction from the config; rows are added by `threads`
 * std::threads pulling row numbers from an atomic counter (what hnswlib's
 * Python binding does).  Search: setEf(ef), searchKnn(q, k).
 *
 * Memory: hnswlib has no accounting call, so we add up its allocations
 * from its public fields: the level-0 block (vectors + level-0 links +
 * labels, max_elements x size_data_per_element), the upper-level link
 * lists, the per-element levels and mutexes, the update-lock stripe and
 * an estimate of the label hash map.  The vectors are inside, so
 * vector_bytes is 0.
 */
#include <hnswlib/hnswlib.h>

#include <atomic>
#include <cstdio>
#include <exception>
#include <thread>
#include <vector>

#include "ann.h"

namespace {

struct hnswlib_index {
  hnswlib::L2Space space;
  hnswlib::HierarchicalNSW<float> *graph = nullptr;
  explicit hnswlib_index(size_t dim) : space(dim) {}
  ~hnswlib_index() { delete graph; }
};

size_t hnswlib_bytes(const hnswlib::HierarchicalNSW<float> *g) {
  size_t bytes = g->max_elements_ * g->size_data_per_element_;
  for (size_t i = 0; i < g->cur_element_count; i++) {
    if (g->element_levels_[i] > 0) bytes += g->size_links_per_element_ * (size_t)g->element_levels_[i];
  }
  bytes += g->max_elements_ * (sizeof(char *) + sizeof(int) + sizeof(std::mutex));
  bytes += g->link_list_update_locks_.size() * sizeof(std::mutex);
  /* unordered_map<labeltype, tableint>: a node (next, key, value) per
   * entry plus one bucket pointer per bucket. */
  bytes += g->label_lookup_.size() * (sizeof(void *) + sizeof(hnswlib::labeltype) + sizeof(hnswlib::tableint));
  bytes += g->label_lookup_.bucket_count() * sizeof(void *);
  return bytes;
}

void add_rows(hnswlib::HierarchicalNSW<float> *g, const float *base, size_t n, uint32_t dim,
              std::atomic<size_t> *next) {
  for (;;) {
    size_t row = next->fetch_add(1);
    if (row >= n) return;
    g->addPoint(base + row * dim, (hnswlib::labeltype)row);
  }
}

int hnswlib_build(const ann_contender *self, const float *base, size_t n, uint32_t dim,
                  const ann_build_config *cfg, ann_built *out, char *err, size_t errlen) {
  (void)self;
  hnswlib_index *ix = nullptr;
  try {
    ix = new hnswlib_index(dim);
    ix->graph = new hnswlib::HierarchicalNSW<float>(&ix->space, n, cfg->M, cfg->ef_construction, 100);
    std::atomic<size_t> next(0);
    std::vector<std::thread> workers;
    for (uint32_t t = 1; t < cfg->threads; t++) workers.emplace_back(add_rows, ix->graph, base, n, dim, &next);
    add_rows(ix->graph, base, n, dim, &next);
    for (auto &w : workers) w.join();
  } catch (const std::exception &e) {
    snprintf(err, errlen, "hnswlib: %s", e.what());
    delete ix;
    return -1;
  }
  out->handle = ix;
  out->index_bytes = hnswlib_bytes(ix->graph);
  out->vector_bytes = 0;
  out->accounting = "sum of hnswlib's allocations (level-0 block incl. vectors, upper links, locks, label map)";
  snprintf(out->detail, sizeof out->detail, "hnswlib (Debian 0.6.2 headers), %s",
#if defined(USE_AVX512)
           "AVX-512 distance"
#elif defined(USE_AVX)
           "AVX distance"
#else
           "SSE distance"
#endif
  );
  return 0;
}

void hnswlib_set_param(void *handle, uint32_t ef) { static_cast<hnswlib_index *>(handle)->graph->setEf(ef); }

int hnswlib_search(void *handle, const float *query, uint32_t k, int64_t *ids) {
  auto *ix = static_cast<hnswlib_index *>(handle);
  auto result = ix->graph->searchKnn(query, k);
  for (uint32_t i = 0; i < k; i++) ids[i] = -1;
  size_t count = result.size();
  while (!result.empty()) {
    ids[--count] = (int64_t)result.top().second;
    result.pop();
  }
  return 0;
}

void hnswlib_release(void *handle) { delete static_cast<hnswlib_index *>(handle); }

const ann_contender contenders[] = {
    {"hnswlib HNSW", ANN_GRAPH, 0, hnswlib_build, hnswlib_set_param, hnswlib_search, hnswlib_release, 0, 1},
};

}  // namespace

extern "C" const ann_contender *ann_hnswlib_contenders(size_t *count) {
  *count = sizeof contenders / sizeof contenders[0];
  return contenders;
}
