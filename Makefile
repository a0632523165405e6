# The two commands: `make test` and `make bench`. CMake does the work.
#   make                 build (./build)
#   make test            build and run every test (ctest)
#   make test SAN=address,undefined   the same under sanitizers (./build-san)
#   make bench           optimised build (./build-bench), print the table
#   make install PREFIX=/usr/local
JOBS ?= 2
SAN ?=
PREFIX ?= /usr/local
WERROR ?= $(if $(CI),1,0)
ifeq ($(SAN),)
BUILD ?= build
else
BUILD ?= build-san
endif
CMAKE_ARGS = -DPK_WERROR=$(if $(filter 1 ON on yes,$(WERROR)),ON,OFF) \
             -DPK_SANITIZE=$(SAN)

.PHONY: all deps configure test bench install clean
all: configure
	@cmake --build $(BUILD) -j$(JOBS)

deps:
	@sh scripts/deps.sh

configure: deps
	@cmake -S . -B $(BUILD) $(CMAKE_ARGS) > $(BUILD).configure.log 2>&1 || \
	  { cat $(BUILD).configure.log; exit 1; }
	@grep -E '^-- (plugkit|wasm|source|lua|process)' $(BUILD).configure.log || true

test: all
	@cd $(BUILD) && ctest --output-on-failure -j$(JOBS); status=$$?; \
	  for f in wasm-spec.txt wasm-spec-lazy.txt; do \
	    if [ -f $$f ]; then printf '%s (%s)\n' "$$(tail -n 1 $$f)" $$f; fi; \
	  done; exit $$status

bench: deps
	@cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release -DPK_BUILD_TESTS=OFF \
	  > build-bench.configure.log 2>&1 || { cat build-bench.configure.log; exit 1; }
	@cmake --build build-bench -j$(JOBS) --target pk_bench
	@mkdir -p bench/results
	@./build-bench/bench/pk_bench --out bench/results

install: all
	@cmake --install $(BUILD) --prefix $(PREFIX)

clean:
	rm -rf build build-san build-bench build*.configure.log
