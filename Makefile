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
        test-install python-venv test-python test-python-asan bench-python test-bench-python clean \
        jvm test-jvm bench-jvm test-jvm-asan node-deps test-node bench-node clean-node

all: build

deps:
	@./.ci/deps.sh $(APT_PKGS)

$(BUILD)/CMakeCache.txt:
	$(CMAKE) -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DEVE_WERROR=ON

build: $(BUILD)/CMakeCache.txt
	$(CMAKE) --build $(BUILD) -j$(JOBS)

demo: deps build
	./$(BUILD)/eve demo

test: deps test-plain test-asan test-tsan test-clang test-fuzz test-bench test-install test-python test-bench-python \
      test-jvm test-node

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

# The Python package (python/): installs what it needs (Debian's python3,
# setuptools, wheel, venv, pytest, hypothesis), builds the extension (which
# compiles the library's sources into itself) into a fresh venv under
# build-python/ that sees the system packages, builds the library and the
# eve CLI with CMake (the interop test runs the CLI beside Python
# processes), and runs python/tests (about 45 s; part of `make test`).
PYTHON_SYS ?= /usr/bin/python3
PY_APT_PKGS = build-essential cmake libxxhash-dev python3 python3-dev python3-setuptools python3-wheel \
              python3-venv python3-pip python3-pytest python3-hypothesis
# python-venv: the Debian packages, then the extension built into a fresh
# build-python/venv (shared by test-python and bench-python).
python-venv:
	@./.ci/deps.sh $(PY_APT_PKGS)
	rm -rf build-python/venv python/build
	$(PYTHON_SYS) -m venv --system-site-packages build-python/venv
	EVE_BUILD_JOBS=$(JOBS) build-python/venv/bin/python -m pip install -q --no-build-isolation \
	  --no-index ./python
	rm -rf python/build

test-python: python-venv
	$(CMAKE) -S . -B build-python/cmake -DCMAKE_BUILD_TYPE=RelWithDebInfo -DEVE_WERROR=ON \
	  -DEVE_BUILD_TESTS=OFF -DEVE_INSTALL=OFF
	$(CMAKE) --build build-python/cmake -j$(JOBS) --target eve eve-cli eve-counter
	cd build-python && EVE_CLI=$(CURDIR)/build-python/cmake/eve EVE_C_COUNTER=$(CURDIR)/build-python/cmake/eve-counter \
	  venv/bin/python -m pytest -q -p no:cacheprovider $(CURDIR)/python/tests

# The same suite with the extension and the library under ASan+UBSan (the
# interpreter is not instrumented: libasan is preloaded; leaks are not
# checked, CPython's own allocations would drown them; fewer rounds).
test-python-asan:
	@./.ci/deps.sh $(PY_APT_PKGS)
	rm -rf build-python/venv-asan python/build
	$(PYTHON_SYS) -m venv --system-site-packages build-python/venv-asan
	EVE_BUILD_JOBS=$(JOBS) EVE_EXTRA_CFLAGS="-fsanitize=address,undefined -fno-omit-frame-pointer -O1" \
	  EVE_EXTRA_LDFLAGS="-fsanitize=address,undefined" \
	  build-python/venv-asan/bin/python -m pip install -q --no-build-isolation --no-index ./python
	rm -rf python/build
	cd build-python && LD_PRELOAD="$$(gcc -print-file-name=libasan.so) $$(gcc -print-file-name=libubsan.so)" \
	  ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  EVE_PY_MEMORY_ROUNDS=50000 EVE_PY_INCREMENTS=2000 \
	  venv-asan/bin/python -m pytest -q -p no:cacheprovider $(CURDIR)/python/tests

# Python benchmarks (issue 12): eve against multiprocessing.Manager().dict(),
# py-lmdb and redis-py (a redis-server of its own on a unix socket in a
# temporary directory), all in one run (about 2 min on 2 cores); writes
# docs/BENCHMARKS-python.md.  PYBENCH_ARGS=--quick: a few seconds, the
# report goes to build-python/BENCHMARKS-python-quick.md instead.
PYBENCH_APT_PKGS = python3-lmdb python3-redis redis-server
PYBENCH_ARGS ?=
bench-python: python-venv
	@./.ci/deps.sh $(PYBENCH_APT_PKGS)
	build-python/venv/bin/python python/bench/bench.py \
	  --out $(if $(filter --quick,$(PYBENCH_ARGS)),build-python/BENCHMARKS-python-quick.md,docs/BENCHMARKS-python.md) \
	  --command "make bench-python$(if $(PYBENCH_ARGS), PYBENCH_ARGS='$(PYBENCH_ARGS)')" $(PYBENCH_ARGS)

# Smoke run of the Python benchmarks (--quick, a few seconds) on the venv
# test-python built: it must run and print; no time is asserted, but every
# count and read-back is checked.
test-bench-python: test-python
	@./.ci/deps.sh $(PYBENCH_APT_PKGS)
	build-python/venv/bin/python python/bench/bench.py --quick \
	  --out build-python/BENCHMARKS-python-quick.md --command "make test-bench-python"

clean:
	rm -rf $(BUILD) $(BUILD)-asan $(BUILD)-tsan $(BUILD)-clang build-bench build-fuzz build-python \
	  build-jvm build-jvm-asan build-node node/build node/node_modules

# The JVM and Clojure binding (jvm/, issue 16): installs what it needs
# (OpenJDK 17 and Debian's clojure package: no Maven Central), builds
# build-jvm/ (libevejni.so with the library's sources compiled in, the
# classes and eve.jar, by jvm/build.sh) and the eve CLI and eve-counter
# with CMake (the interop test runs them beside JVM processes), and runs
# the clojure.test suites (jvm/test) with java -cp (about 1 min).  Python
# processes join the interop test when test-python's venv is there
# (build-python/venv, as in make test).
JVM_APT_PKGS = build-essential cmake libxxhash-dev openjdk-17-jdk-headless clojure
JVM_CP = build-jvm/classes:jvm/clj:jvm/test:/usr/share/java/clojure.jar:/usr/share/java/spec.alpha.jar:/usr/share/java/core.specs.alpha.jar
JVM_JAVA = java -Xmx512m -XX:+UseSerialGC -Djava.library.path=$(CURDIR)/build-jvm
jvm:
	@./.ci/deps.sh $(JVM_APT_PKGS)
	JOBS=$(JOBS) jvm/build.sh $(CURDIR)/build-jvm

test-jvm: jvm
	$(CMAKE) -S . -B build-jvm/cmake -DCMAKE_BUILD_TYPE=RelWithDebInfo -DEVE_WERROR=ON \
	  -DEVE_BUILD_TESTS=OFF -DEVE_INSTALL=OFF
	$(CMAKE) --build build-jvm/cmake -j$(JOBS) --target eve-cli eve-counter
	EVE_CLI=$(CURDIR)/build-jvm/cmake/eve EVE_C_COUNTER=$(CURDIR)/build-jvm/cmake/eve-counter \
	  EVE_PYTHON=$(wildcard $(CURDIR)/build-python/venv/bin/python) \
	  $(JVM_JAVA) -cp $(JVM_CP) clojure.main -m eve.run-tests

# JVM benchmarks: swap! latency (p50/p99) and throughput of an eve atom
# against a plain Clojure atom in one JVM (the floor), beside the figures
# Eve publishes (labelled as such: other hardware); writes
# docs/BENCHMARKS-jvm.md.  JVM_BENCH_ARGS=--quick: a few seconds, the
# report goes to build-jvm/BENCHMARKS-jvm-quick.md instead.
JVM_BENCH_ARGS ?=
bench-jvm: jvm
	$(JVM_JAVA) -cp $(JVM_CP):jvm/bench clojure.main -m eve.bench \
	  --out $(if $(filter --quick,$(JVM_BENCH_ARGS)),build-jvm/BENCHMARKS-jvm-quick.md,docs/BENCHMARKS-jvm.md) \
	  --command "make bench-jvm$(if $(JVM_BENCH_ARGS), JVM_BENCH_ARGS='$(JVM_BENCH_ARGS)')" $(JVM_BENCH_ARGS)

# The same suites with the JNI library and the eve library under
# ASan+UBSan (the JVM is not instrumented: libasan is preloaded; leaks are
# not checked; the JVM's own SEGV handling stays on; fewer operations).
# Not part of make test.
test-jvm-asan: jvm
	CC="gcc -fsanitize=address,undefined -fno-omit-frame-pointer" JOBS=$(JOBS) jvm/build.sh $(CURDIR)/build-jvm-asan
	$(CMAKE) -S . -B build-jvm/cmake -DCMAKE_BUILD_TYPE=RelWithDebInfo -DEVE_WERROR=ON \
	  -DEVE_BUILD_TESTS=OFF -DEVE_INSTALL=OFF
	$(CMAKE) --build build-jvm/cmake -j$(JOBS) --target eve-cli eve-counter
	LD_PRELOAD="$$(gcc -print-file-name=libasan.so) $$(gcc -print-file-name=libubsan.so)" \
	  ASAN_OPTIONS=detect_leaks=0:handle_segv=0:allow_user_segv_handler=1:abort_on_error=1 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 EVE_JVM_MODEL_OPS=5000 EVE_JVM_DEREFS=100000 EVE_JVM_RSS_SLACK_MIB=1024 \
	  EVE_CLI=$(CURDIR)/build-jvm/cmake/eve EVE_C_COUNTER=$(CURDIR)/build-jvm/cmake/eve-counter \
	  java -Xmx512m -XX:+UseSerialGC -Djava.library.path=$(CURDIR)/build-jvm-asan \
	  -cp $(subst build-jvm/classes,build-jvm-asan/classes,$(JVM_CP)) clojure.main -m eve.run-tests

# ---- Node.js: node/, the npm package eve-atoms (issue 13) -------------------
# node-deps: Debian's build tools and nodejs, then node/'s two npm
# dependencies from the registry (node-api-headers, node-gyp-build) and the
# addon, built offline by node/scripts/build.js (the C compiler on the
# library's src/*.c and node/src/*.c; no node-gyp header download).
NODE_APT_PKGS = build-essential cmake libxxhash-dev nodejs
NODE ?= node
NPM  ?= npm
node-deps:
	@./.ci/deps.sh $(NODE_APT_PKGS)
	cd node && $(NPM) install --no-audit --no-fund --prefer-offline --ignore-scripts --loglevel=error
	cd node && EVE_BUILD_JOBS=$(JOBS) $(NODE) scripts/build.js

# test-node: the eve CLI and eve-counter (examples/counter.c) built with
# CMake into build-node/cmake for the interop test, then node --test over
# node/test/*.test.js with --expose-gc (the memory test forces collections);
# when test-python's venv exists (make test runs it first), Python processes
# join the interop counter too.
# EVE_NODE_MEMORY_ROUNDS (default 1000000) sets the memory test's size.
test-node: node-deps
	$(CMAKE) -S . -B build-node/cmake -DCMAKE_BUILD_TYPE=RelWithDebInfo -DEVE_WERROR=ON \
	  -DEVE_BUILD_TESTS=OFF -DEVE_INSTALL=OFF
	$(CMAKE) --build build-node/cmake -j$(JOBS) --target eve eve-cli eve-counter
	cd node && EVE_CLI=$(CURDIR)/build-node/cmake/eve EVE_C_COUNTER=$(CURDIR)/build-node/cmake/eve-counter \
	  $(if $(wildcard build-python/venv/bin/python),EVE_PYTHON=$(CURDIR)/build-python/venv/bin/python) \
	  $(NODE) --expose-gc --test test/*.test.js

clean-node:
	rm -rf build-node node/build node/node_modules

# bench-node: eve-atoms against lmdb-js (putSync/get) and ioredis against a
# redis-server of its own (unix socket in a temporary directory), one run,
# ratios; writes docs/BENCHMARKS-node.md.  NODEBENCH_ARGS=--quick: a few
# seconds, the report goes to build-node/BENCHMARKS-node-quick.md instead.
NODEBENCH_ARGS ?=
bench-node: node-deps
	@./.ci/deps.sh redis-server
	cd node && $(NPM) install --no-save --no-audit --no-fund --prefer-offline --loglevel=error lmdb ioredis
	cd node && $(NODE) bench/bench.js \
	  --out $(if $(filter --quick,$(NODEBENCH_ARGS)),$(CURDIR)/build-node/BENCHMARKS-node-quick.md,$(CURDIR)/docs/BENCHMARKS-node.md) \
	  --command "make bench-node$(if $(NODEBENCH_ARGS), NODEBENCH_ARGS='$(NODEBENCH_ARGS)')" $(NODEBENCH_ARGS)
