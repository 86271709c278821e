/*
 * ann_faiss.cpp -- faiss (Debian libfaiss-dev 1.7.3, static libfaiss.a)
 * as ANN benchmark contenders: IndexHNSWFlat, IndexIVFFlat,
 * IndexIVFScalarQuantizer (QT_8bit) and IndexIVFPQ inside an
 * IndexRefineFlat, all L2.
 *
 * IVFPQ re-ranks like ours: IndexRefineFlat with k_factor 6.4, i.e. the
 * best 64 approximate candidates of k = 10 get exact distances (our
 * IVF_PQ default is max(4k, 64)); without it faiss's IVFPQ(m = 98)
 * saturates near recall@10 0.83 on this data.  Its PQ is trained like
 * ours (10 k-means iterations on at most 64 x 256 = 16,384 residuals):
 * faiss's defaults (25 iterations on all 60,000) made this one build take
 * 5 to 12 minutes here, most of the benchmark's time budget.  IVFSQ8 is
 * faiss's plain scalar-quantised IVF (no re-ranking).
 *
 * Threads: faiss parallelises with OpenMP; the build runs with
 * omp_set_num_threads(cfg->threads) and searches with 1 thread (nq = 1,
 * so faiss would not split a single query anyway).  k-means training uses
 * faiss's defaults (10 iterations, at most 256 points per centroid).
 *
 * Note: Debian builds faiss for the baseline x86-64 ISA (SSE only in its
 * distance kernels; -march=native applies only to this glue), which is
 * what a user of the package gets.
 *
 * Memory: the sum of the index's own arrays -- vectors or codes, graph
 * neighbours, offsets and levels (HNSW); inverted-list codes and ids, the
 * coarse centroids, SQ ranges, PQ codebooks, the precomputed PQ table
 * and the refine stage's float copy (IVF).  The vectors are inside, so
 * vector_bytes is 0.
 */
#include <faiss/IndexFlat.h>
#include <faiss/IndexHNSW.h>
#include <faiss/IndexIVFFlat.h>
#include <faiss/IndexIVFPQ.h>
#include <faiss/IndexRefine.h>
#include <faiss/IndexScalarQuantizer.h>
#include <faiss/invlists/InvertedLists.h>
#include <omp.h>

#include <cstdio>
#include <exception>

#include "ann.h"

namespace {

enum faiss_variant { FAISS_HNSW, FAISS_IVF_FLAT, FAISS_IVF_SQ8, FAISS_IVF_PQ };

#define REFINE_K_FACTOR 6.4f

struct faiss_index {
  faiss::Index *index = nullptr;           /* what searches call */
  faiss::IndexIVF *ivf = nullptr;          /* IVF only; nprobe is set here */
  faiss::IndexFlatL2 *quantizer = nullptr; /* IVF only */
  faiss::IndexRefineFlat *refine = nullptr; /* IVFPQ only; index == refine */
  int variant = 0;
  ~faiss_index() {
    if (refine) {
      delete refine; /* does not own its base (own_fields is false) */
      delete ivf;
    } else {
      delete index; /* the HNSW index, or the IVF index itself */
    }
    delete quantizer; /* IndexIVF does not own it either */
  }
};

size_t ivf_bytes(const faiss::IndexIVF *ivf, const faiss::IndexFlatL2 *quantizer) {
  size_t bytes = quantizer->codes.size();
  const faiss::InvertedLists *lists = ivf->invlists;
  for (size_t l = 0; l < lists->nlist; l++) {
    bytes += lists->list_size(l) * (lists->code_size + sizeof(faiss::Index::idx_t));
  }
  if (auto *sq = dynamic_cast<const faiss::IndexIVFScalarQuantizer *>(ivf)) bytes += sq->sq.trained.size() * sizeof(float);
  if (auto *pq = dynamic_cast<const faiss::IndexIVFPQ *>(ivf)) {
    bytes += pq->pq.centroids.size() * sizeof(float);
    bytes += pq->precomputed_table.size() * sizeof(float);
  }
  return bytes;
}

size_t refine_bytes(const faiss::IndexRefineFlat *refine) {
  if (!refine) return 0;
  return static_cast<const faiss::IndexFlatCodes *>(refine->refine_index)->codes.size();
}

size_t hnsw_bytes(const faiss::IndexHNSWFlat *h) {
  const faiss::HNSW &g = h->hnsw;
  size_t bytes = static_cast<const faiss::IndexFlatCodes *>(h->storage)->codes.size();
  bytes += g.neighbors.size() * sizeof(faiss::HNSW::storage_idx_t);
  bytes += g.offsets.size() * sizeof(size_t) + g.levels.size() * sizeof(int);
  return bytes;
}

faiss::IndexIVF *new_ivf(int variant, faiss::IndexFlatL2 *quantizer, uint32_t dim,
                         const ann_build_config *cfg) {
  switch (variant) {
    case FAISS_IVF_FLAT: return new faiss::IndexIVFFlat(quantizer, dim, cfg->nlist, faiss::METRIC_L2);
    case FAISS_IVF_SQ8:
      return new faiss::IndexIVFScalarQuantizer(quantizer, dim, cfg->nlist, faiss::ScalarQuantizer::QT_8bit,
                                                faiss::METRIC_L2);
    default: return new faiss::IndexIVFPQ(quantizer, dim, cfg->nlist, cfg->pq_m, cfg->pq_nbits);
  }
}

void build_index(faiss_index *ix, const float *base, size_t n, uint32_t dim, const ann_build_config *cfg) {
  if (ix->variant == FAISS_HNSW) {
    auto *h = new faiss::IndexHNSWFlat(dim, cfg->M);
    ix->index = h;
    h->hnsw.efConstruction = cfg->ef_construction;
    h->add(n, base);
    return;
  }
  ix->quantizer = new faiss::IndexFlatL2(dim);
  ix->ivf = new_ivf(ix->variant, ix->quantizer, dim, cfg);
  ix->index = ix->ivf;
  if (ix->variant == FAISS_IVF_PQ) {
    auto *pq = static_cast<faiss::IndexIVFPQ *>(ix->ivf);
    pq->pq.cp.niter = 10;
    pq->pq.cp.max_points_per_centroid = 64;
    ix->refine = new faiss::IndexRefineFlat(ix->ivf);
    ix->refine->k_factor = REFINE_K_FACTOR;
    ix->index = ix->refine;
  }
  ix->index->train(n, base);
  ix->index->add(n, base);
}

int faiss_build(const ann_contender *self, const float *base, size_t n, uint32_t dim,
                const ann_build_config *cfg, ann_built *out, char *err, size_t errlen) {
  faiss_index *ix = new faiss_index();
  ix->variant = self->variant;
  omp_set_num_threads((int)cfg->threads);
  try {
    build_index(ix, base, n, dim, cfg);
  } catch (const std::exception &e) {
    snprintf(err, errlen, "faiss: %s", e.what());
    omp_set_num_threads(1);
    delete ix;
    return -1;
  }
  omp_set_num_threads(1);
  out->handle = ix;
  if (ix->variant == FAISS_HNSW) {
    out->index_bytes = hnsw_bytes(static_cast<faiss::IndexHNSWFlat *>(ix->index));
  } else {
    out->index_bytes = ivf_bytes(ix->ivf, ix->quantizer) + refine_bytes(ix->refine);
  }
  out->vector_bytes = 0;
  out->accounting = "sum of faiss's arrays (vectors/codes, links or lists and ids, centroids, tables)";
  snprintf(out->detail, sizeof out->detail, "faiss 1.7.3 (Debian, baseline x86-64 build)%s",
           ix->variant == FAISS_IVF_PQ ? ", precomputed PQ table, IndexRefineFlat k_factor 6.4" : "");
  return 0;
}

void faiss_set_param(void *handle, uint32_t param) {
  auto *ix = static_cast<faiss_index *>(handle);
  if (ix->variant == FAISS_HNSW) {
    static_cast<faiss::IndexHNSWFlat *>(ix->index)->hnsw.efSearch = (int)param;
  } else {
    ix->ivf->nprobe = param;
  }
}

int faiss_search(void *handle, const float *query, uint32_t k, int64_t *ids) {
  auto *ix = static_cast<faiss_index *>(handle);
  float dist[1024];
  faiss::Index::idx_t labels[1024];
  if (k > 1024) return -1;
  try {
    ix->index->search(1, query, k, dist, labels);
  } catch (const std::exception &) {
    return -1;
  }
  for (uint32_t i = 0; i < k; i++) ids[i] = labels[i];
  return 0;
}

void faiss_release(void *handle) { delete static_cast<faiss_index *>(handle); }

const ann_contender contenders[] = {
    {"faiss HNSWFlat", ANN_GRAPH, 0, faiss_build, faiss_set_param, faiss_search, faiss_release, FAISS_HNSW, 4},
    {"faiss IVFFlat", ANN_IVF, 0, faiss_build, faiss_set_param, faiss_search, faiss_release, FAISS_IVF_FLAT, 6},
    {"faiss IVFSQ8", ANN_IVF, 0, faiss_build, faiss_set_param, faiss_search, faiss_release, FAISS_IVF_SQ8, 8},
    {"faiss IVFPQ+refine", ANN_IVF, 0, faiss_build, faiss_set_param, faiss_search, faiss_release, FAISS_IVF_PQ, 10},
};

}  // namespace

extern "C" const ann_contender *ann_faiss_contenders(size_t *count) {
  *count = sizeof contenders / sizeof contenders[0];
  return contenders;
}
