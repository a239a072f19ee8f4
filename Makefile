# kiln: top-level entry points. `make demo` and `make test` install what is missing (Debian, as
# root; otherwise they print the apt-get line and stop), configure, build, then run.
BUILD ?= build
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
CMAKE_FLAGS ?= -DKILN_WERROR=ON
DEB_PACKAGES = build-essential cmake python3 llvm-22-dev llvm-22-tools liblua5.4-dev libffi-dev \
               libsqlite3-dev libzstd-dev zlib1g-dev

.PHONY: all deps configure build test demo bundle bench format clean

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

demo: build
	@sh tools/demo.sh $(BUILD)/kiln

bundle: deps
	sh tools/make-bundle.sh dist/kiln-bundle

bench: build
	$(BUILD)/compile_speed

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD) dist
