# The README's commands.  Everything real lives in CMakeLists.txt.
BUILD      ?= build
ASAN_BUILD ?= build-asan
DATA       ?= ./data
JOBS       ?= $(shell nproc)

.PHONY: all deps build run demo test compat-deps asan bench bench-ann bench-server clean

all: build

deps:
	@scripts/install-deps

$(BUILD)/Makefile: CMakeLists.txt
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo

build: $(BUILD)/Makefile
	cmake --build $(BUILD) -j $(JOBS)

# Installs what is missing, builds, and runs the main job: the server, on
# the embedded data directory $(DATA), at http://127.0.0.1:19530 (the
# Milvus REST API v2; docs/server.md).  Ctrl-C stops it cleanly.
run: deps build
	$(BUILD)/vectorstore serve --data $(DATA)

# The Fashion-MNIST demo: import it into $(DATA) (first run), search it.
demo: deps build
	$(BUILD)/vectorstore demo $(DATA)

# The Milvus Node SDK that the compatibility suite drives (tests/compat).
compat-deps:
	npm ci --prefix tests/compat --no-audit --no-fund --loglevel=error

# Builds and runs every test.
test: deps build compat-deps
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

# The whole suite under AddressSanitizer + UndefinedBehaviorSanitizer.
asan: deps compat-deps
	cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DVS_SANITIZE=ON
	cmake --build $(ASAN_BUILD) -j $(JOBS)
	cd $(ASAN_BUILD) && VS_CRASH_ROUNDS=$${VS_CRASH_ROUNDS:-20} ctest --output-on-failure -j $(JOBS)

bench: deps build
	cmake --build $(BUILD) -j $(JOBS) --target benchmarks
	bench/run-all $(BUILD)

# The ANN benchmark: our indexes against hnswlib, faiss and usearch on
# Fashion-MNIST, unfiltered and filtered at pass rates 0.1%..100%
# (docs/benchmarks.md).  Installs its extra packages, builds the library
# and the benchmark, runs it (about 31 minutes on 2 cores; the filtered
# part alone: ANN_FILTER_ONLY=1) and updates bench/results/ann* and docs/.
bench-ann: deps $(BUILD)/Makefile
	scripts/install-bench-deps
	cmake --build $(BUILD) -j $(JOBS) --target vectorstore_static
	bench/ann/run $(BUILD)

# The REST server under wrk next to the same operations in-process, with a
# perf profile of the server (about 5 minutes); updates bench/results/server.*
# and docs/benchmarks.md.
bench-server: deps $(BUILD)/Makefile
	scripts/install-bench-deps
	cmake --build $(BUILD) -j $(JOBS) --target vectorstore vectorstore_static
	bench/server/run $(BUILD)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)
