# The README's commands.  Everything real lives in CMakeLists.txt.
BUILD      ?= build
ASAN_BUILD ?= build-asan
DATA       ?= ./data
JOBS       ?= $(shell nproc)

.PHONY: all deps build run test asan bench bench-ann clean

all: build

deps:
	@scripts/install-deps

$(BUILD)/Makefile: CMakeLists.txt
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo

build: $(BUILD)/Makefile
	cmake --build $(BUILD) -j $(JOBS)

# Installs what is missing, builds, and runs the main job: for now the demo
# (import Fashion-MNIST into $(DATA), then search it).
run: deps build
	$(BUILD)/vectorstore demo $(DATA)

# Builds and runs every test.
test: deps build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

# The whole suite under AddressSanitizer + UndefinedBehaviorSanitizer.
asan: deps
	cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DVS_SANITIZE=ON
	cmake --build $(ASAN_BUILD) -j $(JOBS)
	cd $(ASAN_BUILD) && VS_CRASH_ROUNDS=$${VS_CRASH_ROUNDS:-20} ctest --output-on-failure -j $(JOBS)

bench: deps build
	cmake --build $(BUILD) -j $(JOBS) --target benchmarks
	bench/run-all $(BUILD)

# The ANN benchmark: our indexes against hnswlib, faiss and usearch on
# Fashion-MNIST (docs/benchmarks.md).  Installs its extra packages, builds
# the library and the benchmark, runs it (about 25 minutes on 2 cores) and
# updates bench/results/ann.* and docs/.
bench-ann: deps $(BUILD)/Makefile
	scripts/install-bench-deps
	cmake --build $(BUILD) -j $(JOBS) --target vectorstore_static
	bench/ann/run $(BUILD)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)
