# kiln: top-level entry points. `make demo` and `make test` install what is missing (Debian, as
# root; otherwise they print the apt-get line and stop), configure, build, then run.
BUILD ?= build
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
CMAKE_FLAGS ?= -DKILN_WERROR=ON
DEB_PACKAGES = build-essential cmake python3 llvm-22-dev llvm-22-tools liblua5.4-dev libffi-dev \
               libsqlite3-dev libzstd-dev zlib1g-dev pkg-config libfftw3-dev

.PHONY: all deps configure build test demo bundle bench vs-triton format clean san-deps asan-build test-asan fuzz install

all: build

deps:
	@sh tools/deps.sh $(DEB_PACKAGES)

$(BUILD)/CMakeCache.txt: | deps
	cmake -S . -B $(BUILD) $(CMAKE_FLAGS)

configure: deps $(BUILD)/CMakeCache.txt

build: configure
	cmake --build $(BUILD) -j$(JOBS)

test: build
	cd $(BUILD) && ctest --output-on-failure -j$(JOBS) --timeout 900

# The compiler, include/kiln.h and kiln_rt.h, libkiln_rt (static and shared), libkiln, kiln.pc,
# kiln-rt.pc and the CMake package (find_package(kiln)) under PREFIX (docs/packs.md).
PREFIX ?= /usr/local
install: build
	cmake --install $(BUILD) --prefix $(PREFIX)

demo: build
	@sh tools/demo.sh $(BUILD)/kiln

bundle: deps
	sh tools/make-bundle.sh dist/kiln-bundle

# kiln and Triton compiled side by side (bench/vs_triton.py): its own virtual environment, never needed by
# `make test`. The table goes to bench/results/vs_triton-DATE.md.
BENCH_VENV ?= bench/.venv
BENCH_PIP = triton==3.9.0 nvidia-cuda-nvdisasm==13.5.37

$(BENCH_VENV)/.installed:
	@sh tools/deps.sh python3-venv
	python3 -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/pip install -q $(BENCH_PIP)
	touch $@

vs-triton: build $(BENCH_VENV)/.installed
	mkdir -p bench/results
	$(BENCH_VENV)/bin/python bench/vs_triton.py --kiln $(BUILD)/kiln --out bench/results/vs_triton-$$(date -u +%Y-%m-%d).md

# The sampled compile-time table (docs/compile-speed.md), then the Triton ratio: kiln and Triton
# compiling the same GEMM and attention kernels side by side (vs_triton.py --quick, one run each).
bench: build $(BENCH_VENV)/.installed
	$(BUILD)/compile_speed
	$(BENCH_VENV)/bin/python bench/vs_triton.py --kiln $(BUILD)/kiln --quick --reps 1

# ---- the sanitizer build (docs/testing.md): ASan + UBSan tests, libFuzzer targets ----
# clang 22 (Debian's clang-22, the same LLVM as kiln's): clang 14 has no _Float16 on x86-64.
ASAN_BUILD ?= build-asan
SAN_CC ?= clang-22
SAN_CXX ?= clang++-22
SAN_PACKAGES = clang-22 libclang-rt-22-dev
FUZZ_SECONDS ?= 600

san-deps:
	@sh tools/deps.sh $(DEB_PACKAGES) $(SAN_PACKAGES)

$(ASAN_BUILD)/CMakeCache.txt: | san-deps
	cmake -S . -B $(ASAN_BUILD) -DKILN_SANITIZE=ON -DKILN_WERROR=ON \
	  -DCMAKE_C_COMPILER=$(SAN_CC) -DCMAKE_CXX_COMPILER=$(SAN_CXX)

asan-build: san-deps $(ASAN_BUILD)/CMakeCache.txt
	cmake --build $(ASAN_BUILD) -j$(JOBS)

# The bundle test is left to `make test`: it builds its own static, uninstrumented kiln.
test-asan: asan-build
	cd $(ASAN_BUILD) && KILN_SKIP_BUNDLE_TEST=1 ctest --output-on-failure -j$(JOBS) --timeout 1800

fuzz: asan-build
	sh tests/fuzz/run.sh $(ASAN_BUILD) $(FUZZ_SECONDS)

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD) dist
