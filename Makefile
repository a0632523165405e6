# The two commands: `make test` and `make bench`. CMake does the work.
#   make                 build (./build)
#   make test            build and run every test (ctest)
#   make test SAN=address,undefined   the same under sanitizers (./build-san)
#   make test SAN=thread TESTS=threads_   ThreadSanitizer (./build-tsan), the
#                        tests whose names match TESTS (a ctest regex)
#   make bench           optimised build (./build-bench), print the table;
#                        results in build-bench/results (nothing tracked
#                        changes)
#   make bench-docs      make bench, then copy its results to
#                        bench/results and its figures into README.md and
#                        docs/choosing.md (to commit)
#   make install PREFIX=/usr/local
JOBS ?= 2
SAN ?=
PREFIX ?= /usr/local
WERROR ?= $(if $(CI),1,0)
TESTS ?=
ifeq ($(SAN),)
BUILD ?= build
else ifeq ($(SAN),thread)
BUILD ?= build-tsan
else
BUILD ?= build-san
endif
CMAKE_ARGS = -DPK_WERROR=$(if $(filter 1 ON on yes,$(WERROR)),ON,OFF) \
             -DPK_SANITIZE=$(SAN)

.PHONY: all deps configure test bench bench-docs install clean
all: configure
	@cmake --build $(BUILD) -j$(JOBS) -- --no-print-directory

deps:
	@sh scripts/deps.sh

configure: deps
	@cmake -S . -B $(BUILD) $(CMAKE_ARGS) > $(BUILD).configure.log 2>&1 || \
	  { cat $(BUILD).configure.log; exit 1; }
	@grep -E '^-- (plugkit|wasm|source|lua|process)' $(BUILD).configure.log || true

test: all
	@cd $(BUILD) && { ctest --output-on-failure -j$(JOBS) $(if $(TESTS),-R '$(TESTS)'); echo $$? > ctest.status; } \
	  | tee ctest.out; status=$$(cat ctest.status); \
	  sh $(CURDIR)/scripts/skipped.sh . ctest.out; \
	  for f in wasm-spec.txt wasm-spec-lazy.txt wasm-spec-jit.txt wasm-spec-jit-lazy.txt wasm-spec-aot.txt wasm-spec-dirty.txt wasm-spec-jit-dirty.txt wasm-spec-aot-dirty.txt; do \
	    if [ -f $$f ]; then printf '%s (%s)\n' "$$(tail -n 1 $$f)" $$f; fi; \
	  done; exit $$status

bench: deps
	@cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release -DPK_BUILD_TESTS=OFF \
	  > build-bench.configure.log 2>&1 || { cat build-bench.configure.log; exit 1; }
	@cmake --build build-bench -j$(JOBS) --target pk_bench
	@mkdir -p build-bench/results
	@./build-bench/bench/pk_bench --out build-bench/results

bench-docs: bench
	@cp build-bench/results/latest.json build-bench/results/latest.md \
	  build-bench/results/latest.svg bench/results/
	@python3 scripts/bench_summary.py bench/results/latest.json \
	  --write README.md docs/choosing.md

# The library is configured for PREFIX: a program linking libplugkit.a
# cannot find the install from where it runs, so it looks for
# plugkit-runner, the SDK header and the Python helper where the install
# was configured to go (libplugkit.so finds them relative to itself).
install: CMAKE_ARGS += -DCMAKE_INSTALL_PREFIX=$(abspath $(PREFIX))
install: all
	@cmake --install $(BUILD) --prefix $(PREFIX)

clean:
	rm -rf build build-san build-tsan build-bench build*.configure.log
