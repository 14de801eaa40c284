# Quick start: `make demo` and `make test`. Both install missing Debian packages first.
BUILD      ?= build
BUILD_ASAN ?= build-asan
BUILD_FUZZ ?= build-fuzz
BUILD_RELEASE ?= build-release
FUZZ_SECONDS ?= 30
PREFIX     ?= /usr/local
JOBS       ?= $(shell nproc)
CMAKE_GEN  := -G Ninja

.PHONY: all deps build demo test test-long test-asan bench fuzz release install lint format-check format clean

all: build

deps:
	@bash scripts/install-deps.sh

build: deps
	@cmake -S . -B $(BUILD) $(CMAKE_GEN) -DCMAKE_BUILD_TYPE=Release -DOPSKTL_WERROR=ON >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

demo: build
	@bash scripts/demo.sh $(BUILD)/opsktl

test: build
	@ctest --test-dir $(BUILD) --output-on-failure -j $(JOBS)

# The long variants: 20 random kills in the dedupe crash test.
test-long: build
	@OPSKTL_CRASH_TRIALS=20 ctest --test-dir $(BUILD) --output-on-failure -R 'cli.dedupe_crash'

test-asan: deps
	@cmake -S . -B $(BUILD_ASAN) $(CMAKE_GEN) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DOPSKTL_SANITIZE=ON -DOPSKTL_WERROR=ON >/dev/null
	@cmake --build $(BUILD_ASAN) -j $(JOBS)
	@ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ctest --test-dir $(BUILD_ASAN) --output-on-failure -j $(JOBS)

bench: deps
	@bash scripts/install-deps.sh --bench
	@cmake -S . -B $(BUILD) $(CMAKE_GEN) -DCMAKE_BUILD_TYPE=Release -DOPSKTL_WERROR=ON -DOPSKTL_BUILD_BENCH=ON >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)
	@$(BUILD)/bench/opsktl_micro_bench --benchmark_min_time=0.2
	@bash bench/run.sh $(BUILD)/opsktl

# The portable binary: third-party libraries linked in, glibc the only dynamic dependency.
release: deps
	@cmake -S . -B $(BUILD_RELEASE) $(CMAKE_GEN) -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_FLAGS_RELEASE="-O2 -DNDEBUG" \
	  -DOPSKTL_PORTABLE=ON -DOPSKTL_WERROR=ON -DOPSKTL_BUILD_TESTS=OFF >/dev/null
	@cmake --build $(BUILD_RELEASE) -j $(JOBS) --target opsktl
	@bash scripts/check-portable.sh $(BUILD_RELEASE)/opsktl
	@$(BUILD_RELEASE)/opsktl --version

# libFuzzer targets (tests/fuzz) built with clang, ASan and UBSan; each runs FUZZ_SECONDS.
fuzz:
	@bash scripts/install-deps.sh --fuzz
	@CXX=clang++ cmake -S . -B $(BUILD_FUZZ) $(CMAKE_GEN) -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  -DOPSKTL_BUILD_FUZZ=ON -DOPSKTL_SANITIZE=ON -DOPSKTL_BUILD_TESTS=OFF >/dev/null
	@cmake --build $(BUILD_FUZZ) -j $(JOBS) --target fuzz_targets
	@bash scripts/run-fuzz.sh $(BUILD_FUZZ) $(FUZZ_SECONDS)

# bin/opsktl, the man page and the bash and zsh completions under PREFIX (default
# /usr/local); DESTDIR (for packaging) reaches cmake --install through the environment.
install: build
	@DESTDIR="$(DESTDIR)" cmake --install $(BUILD) --prefix "$(PREFIX)"

# clang-tidy with the checks in .clang-tidy over src/; any warning fails.
lint: deps
	@bash scripts/install-deps.sh --lint
	@bash scripts/lint.sh

# clang-format with .clang-format: format-check fails on any unformatted file, format fixes them.
format-check:
	@bash scripts/install-deps.sh --lint
	@bash scripts/format-check.sh

format:
	@bash scripts/install-deps.sh --lint
	@bash scripts/format-check.sh --fix

clean:
	rm -rf $(BUILD) $(BUILD_ASAN) $(BUILD_FUZZ) $(BUILD_RELEASE) build-lint
