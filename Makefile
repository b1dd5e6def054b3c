# The two commands a newcomer needs:
#   make demo   build everything and run the main job: `eve demo`, several
#               processes sharing and changing one domain at once
#   make test   install missing build dependencies, build, run every test
#               (plain build, then ASan+UBSan, TSan on the threaded
#               workloads, and a clang warnings build)
#
# Every CMake build here passes -DEVE_WERROR=ON (warnings are errors in CI);
# a plain `cmake -S . -B build` leaves -Werror off.

BUILD   ?= build
JOBS    ?= $(shell nproc 2>/dev/null || echo 2)
CMAKE   ?= cmake
APT_PKGS = build-essential cmake clang libclang-rt-14-dev libcriterion-dev libxxhash-dev pkg-config

.PHONY: all demo test deps build test-plain test-asan test-tsan test-clang test-fuzz fuzz bench test-bench \
        test-install clean

all: build

deps:
	@./.ci/deps.sh $(APT_PKGS)

$(BUILD)/CMakeCache.txt:
	$(CMAKE) -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DEVE_WERROR=ON

build: $(BUILD)/CMakeCache.txt
	$(CMAKE) --build $(BUILD) -j$(JOBS)

demo: deps build
	./$(BUILD)/eve demo

test: deps test-plain test-asan test-tsan test-clang test-fuzz test-bench test-install

test-plain: build
	cd $(BUILD) && ctest --output-on-failure -j$(JOBS)

test-asan:
	$(CMAKE) -S . -B $(BUILD)-asan -DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_COMPILER=clang \
	  -DEVE_SANITIZE=address,undefined -DEVE_WERROR=ON
	$(CMAKE) --build $(BUILD)-asan -j$(JOBS)
	cd $(BUILD)-asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 EVE_TEST_SCALE=4 \
	  ctest --output-on-failure -j$(JOBS)

# ThreadSanitizer on the threaded workloads: stress_threads (a plain
# program), and the interleaving and atom suites through tests/tsan/, a
# stand-in for Criterion's runner, which does not survive TSan's runtime.
test-tsan:
	$(CMAKE) -S . -B $(BUILD)-tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_COMPILER=clang \
	  -DEVE_SANITIZE=thread -DEVE_WERROR=ON
	$(CMAKE) --build $(BUILD)-tsan -j$(JOBS) --target stress_threads
	TSAN_OPTIONS="halt_on_error=1 suppressions=$(CURDIR)/tests/tsan.supp" \
	  ./$(BUILD)-tsan/stress_threads 10
	$(CMAKE) --build $(BUILD)-tsan -j$(JOBS) --target eve_internal
	for t in test_reclaim test_atom test_snapshot; do \
	  clang -std=gnu11 -fsanitize=thread -g -O1 -mcx16 -mpopcnt -DEVE_TEST_HOOKS -Itests/tsan \
	    -Iinclude -I$(BUILD)-tsan/include -Isrc -Itests tests/$$t.c tests/support.c \
	    tests/tsan/runner.c $(BUILD)-tsan/libeve_internal.a \
	    -lpthread -lm -o $(BUILD)-tsan/$$t-tsan || exit 1; \
	  TSAN_OPTIONS="halt_on_error=1 suppressions=$(CURDIR)/tests/tsan.supp" EVE_TEST_SCALE=20 \
	    ./$(BUILD)-tsan/$$t-tsan || exit 1; \
	done

# clang -Wall -Wextra -Werror over the whole tree (the plain build uses gcc)
test-clang:
	$(CMAKE) -S . -B $(BUILD)-clang -DCMAKE_C_COMPILER=clang -DEVE_WERROR=ON
	$(CMAKE) --build $(BUILD)-clang -j$(JOBS)

# Every fuzz seed and saved finding once through each libFuzzer target (EDN,
# JSON, domain files, the CLI), then a fixed number of fuzzing runs per
# target with a fixed seed from the checked-in seeds (about a minute each):
# close to the same executions every run, so it can gate CI; findings land in
# tests/fuzz/crashes/ and replay from then on.
test-fuzz:
	tests/fuzz/run.sh replay
	tests/fuzz/run.sh runs

# Open-ended fuzzing, FUZZ_SECONDS per target, from the corpus grown so far;
# findings land in tests/fuzz/crashes/.  Not in make test (not reproducible).
FUZZ_SECONDS ?= 60
fuzz: deps
	tests/fuzz/run.sh $(FUZZ_SECONDS)

# Benchmarks: eve against LMDB, Redis and a bare CAS loop, in one run; writes
# docs/BENCHMARKS.md and docs/bench/*.png (~6 min on 2 cores).
#   make bench SCEN=S7        only some scenarios (SCEN=S7,S8 or SCEN=78 for
#                             several); the report goes to build-bench/only/
#                             and is printed, docs/ stays untouched
#   make bench S7_HOLD=10 S8_SECONDS=60    scenario 7's reader hold and
#                             scenario 8's writer run time, in seconds
comma := ,
empty :=
space := $(empty) $(empty)
BENCH_ARGS = $(if $(SCEN),--only $(subst $(comma),,$(subst S,,$(subst s,,$(subst $(space),,$(SCEN)))))) \
             $(if $(S7_HOLD),--s7-hold $(S7_HOLD)) $(if $(S8_SECONDS),--s8-seconds $(S8_SECONDS))
bench:
	./bench/run.sh $(strip $(BENCH_ARGS))

# Smoke test of the harness (--quick): it must run and print; no time is
# asserted.  Its report goes to build-bench/quick/, docs/ stays untouched.
test-bench:
	./bench/run.sh --quick

# The library as a dependency: configure, build and install into a temporary
# prefix, then build programs against the installed copy with pkg-config
# (shared and static), with find_package(eve) and with add_subdirectory; the
# README's C example among them; only eve_* symbols exported.
test-install:
	tests/install/run.sh

clean:
	rm -rf $(BUILD) $(BUILD)-asan $(BUILD)-tsan $(BUILD)-clang build-bench build-fuzz
