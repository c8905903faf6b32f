# The two commands of the README:
#   make run    installs what is missing, builds, starts the service on its defaults and
#               resolves a demo actor
#   make test   installs what is missing, builds (Release, -Werror) and runs every test,
#               then does the same under AddressSanitizer + UndefinedBehaviorSanitizer,
#               then runs every libFuzzer target for 30 s, then the 2-minute soak
# Others: make build, make bench, make format (clang-format the tree), make clean.

JOBS ?= $(shell nproc 2>/dev/null || echo 2)
BUILD ?= build
ASAN_BUILD ?= build-asan

.PHONY: deps build build-asan test test-release test-asan test-soak soak run bench bench-programs format mutation mutate clean

deps:
	@./scripts/install-deps.sh

build: deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release -DAC_WERROR=ON
	cmake --build $(BUILD) -j $(JOBS)

build-asan: deps
	cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DAC_SANITIZE=ON -DAC_BUILD_BENCH=OFF -DAC_WERROR=ON
	cmake --build $(ASAN_BUILD) -j $(JOBS)

test-release: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

test-asan: build-asan
	cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ctest --output-on-failure -j $(JOBS)

# Every libFuzzer target for FUZZ_SECONDS from a fixed seed (scripts/fuzz.sh; longer runs:
# scripts/fuzz.sh all 600).
FUZZ_SECONDS ?= 30
test-fuzz: deps
	FUZZ_SEED=1 ./scripts/fuzz.sh all $(FUZZ_SECONDS)

# The soak (bench/soak.sh, README "Soak"): a broker and three workers under checked load
# with a worker SIGKILLed every 15 s, the broker restarted once, the rotating workers' disk
# read-only then full; SOAK_SECONDS long (make soak: the 10-minute run). A make step rather
# than a ctest entry: it runs once, on the Release build, alone on the machine (ctest -j
# would share the two cores with other suites, skewing its RSS and their timings, and
# the ASan tree has no bench programs), and needs root for its loop mount
# (SOAK_NO_DISK_FAULTS=1 runs it without the disk faults, and says so).
SOAK_SECONDS ?= 120
test-soak: build
	SOAK_BUILD=$(abspath $(BUILD)) ./bench/soak.sh $(SOAK_SECONDS)

soak: build
	SOAK_BUILD=$(abspath $(BUILD)) ./bench/soak.sh 600

test: test-release test-asan test-fuzz test-soak

run: build
	./scripts/demo.sh $(BUILD)

# The benchmark harness's standard set (README "Benchmark harness"; under 5 minutes):
# figures, a result file in bench/results/ and the ratio table. BENCH_FLAGS adds flags
# (e.g. BENCH_FLAGS="--compare bench/results/OLD.json").
bench: build
	./$(BUILD)/bench/actorcore-bench suite $(BENCH_FLAGS)

# The single-purpose bench programs the harness grew from (each prints its own report).
bench-programs: build
	./$(BUILD)/bench/bench_resolve
	./$(BUILD)/bench/bench_cache
	./$(BUILD)/bench/bench_service
	./$(BUILD)/bench/bench_fair
	./$(BUILD)/bench/bench_failover
	./$(BUILD)/bench/bench_ingest

format: deps
	./scripts/format.sh

# Mutation testing (docs/mutation.md; `make mutation`, or `make mutate`): MUTANTS small changes to src/ picked with SEED, each
# rebuilt in a copy of the tree and run against the fast suites; the survivors and their diffs
# go to build-mutate/survivors.txt. Extra options in MUTATE_FLAGS (e.g. --files src/codec).
MUTANTS ?= 40
SEED ?= 1

mutation: deps
	python3 scripts/mutate.py --count $(MUTANTS) --seed $(SEED) --jobs $(JOBS) $(MUTATE_FLAGS)

mutate: mutation # the first name of the target, kept

# Line and branch coverage of src/, broker/ and workers/ from the whole test suite (gcov +
# gcovr): the summary is printed, the per-file table is in build-cov/coverage.txt.
COV_BUILD ?= build-cov
coverage: deps
	cmake -S . -B $(COV_BUILD) -DCMAKE_BUILD_TYPE=Debug -DAC_COVERAGE=ON -DAC_BUILD_BENCH=OFF -DAC_WERROR=ON
	cmake --build $(COV_BUILD) -j $(JOBS)
	find $(COV_BUILD) -name '*.gcda' -delete
	cd $(COV_BUILD) && ctest -j $(JOBS) --output-on-failure -E check_exports # gcov's own symbols are exported
	gcovr -r . --object-directory $(COV_BUILD) --filter 'src/' --filter 'broker/' --filter 'workers/' \
	  --exclude-unreachable-branches --print-summary --txt $(COV_BUILD)/coverage.txt

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)
