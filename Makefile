# Logbook - plain Makefile. `make run` and `make test` are the two commands a
# new machine needs; both install missing Debian packages first (as root).

PREFIX  ?= /usr/local
DESTDIR ?=
BUILD   ?= build/release
BIN     ?= bin
SAN     ?=

PKGS     = libzmq lmdb msgpack libsodium yaml-0.1 cunit
# logbook-web alone links HTTP, JSON and XML; libcurl is for its tests only.
WEB_PKGS = libmicrohttpd jansson libxml-2.0 gnutls
TEST_WEB_PKGS = libcurl
DEB_PKGS = libzmq3-dev liblmdb-dev libmsgpack-dev libsodium-dev libyaml-dev libcunit1-dev lmdb-utils pkg-config \
           libmicrohttpd-dev libjansson-dev libxml2-dev libcurl4-openssl-dev

CC      ?= cc
OPT     ?= -O2
CFLAGS  ?= $(OPT) -g
CFLAGS  += -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wshadow -Wno-missing-field-initializers -fno-strict-aliasing
ifeq ($(SAN),1)
CFLAGS  += -O1 -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
LDFLAGS += -fsanitize=address,undefined
endif
# `=` (not `:=`): evaluated when used, after `deps` may have installed pkg-config files.
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) $(WEB_PKGS) $(TEST_WEB_PKGS) 2>/dev/null)
PKG_LIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null || echo -lzmq -llmdb -lmsgpackc -lsodium -lyaml -lcunit)
ALL_CFLAGS = $(CFLAGS) $(PKG_CFLAGS)
LIBS       = $(PKG_LIBS) -lm -lpthread
WEB_LIBS   = $(shell pkg-config --libs $(WEB_PKGS) 2>/dev/null || echo -lmicrohttpd -ljansson -lxml2 -lgnutls)
CURL_LIBS  = $(shell pkg-config --libs $(TEST_WEB_PKGS) 2>/dev/null || echo -lcurl)

PROTO_SRC    := $(wildcard proto/*.c)
WORKFLOW_SRC := $(wildcard workflow/*.c)
STORE_SRC    := $(wildcard store/*.c)
DAEMON_SRC   := $(filter-out daemon/main.c,$(wildcard daemon/*.c))
# clients/lib/ is the client library; every other folder of clients/ is one
# program of that name, built from all of its .c files.
CLIENT_SRC   := $(wildcard clients/lib/*.c)
CLIENT_PROGS := $(filter-out lib web,$(notdir $(patsubst %/,%,$(wildcard clients/*/))))
# clients/web/ is the gateway, bin/logbook-web: the one program linking HTTP, JSON and XML.
WEB_SRC      := $(wildcard clients/web/*.c)

obj = $(patsubst %.c,$(BUILD)/%.o,$(1))

PROTO_LIB    := $(BUILD)/libproto.a
WORKFLOW_LIB := $(BUILD)/libworkflow.a
STORE_LIB    := $(BUILD)/libstore.a
DAEMON_LIB   := $(BUILD)/libdaemon.a
CLIENT_LIB   := $(BUILD)/libclient.a
TEST_LIB     := $(BUILD)/libtestlib.a

PROGRAMS := $(BIN)/logbookd $(patsubst %,$(BIN)/%,$(CLIENT_PROGS)) $(BIN)/logbook-web

UNIT_SRC   := $(wildcard tests/unit/test_*.c)
UNIT_BINS  := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRC))
INTEG_SRC  := $(wildcard tests/integration/test_*.c)
INTEG_BINS := $(patsubst tests/integration/%.c,$(BUILD)/tests/%,$(INTEG_SRC))
TESTLIB_SRC := $(wildcard tests/lib/*.c)
# libFuzzer targets (tests/fuzz/fuzz_NAME.c); `make test` replays their corpora with gcc builds.
FUZZ_NAMES  := request workflow csv users submission json areas holidays case
REPLAY_BINS := $(patsubst %,$(BUILD)/tests/replay_%,$(FUZZ_NAMES))
# The power-loss test (docs/CRASHTEST.md): the harness and the LD_PRELOAD recorder.
CRASH_SRC   := tests/crash/crashtest.c tests/crash/workload.c tests/crash/check.c tests/crash/model.c
CRASH_BINS  := $(BUILD)/tests/crashtest $(BUILD)/tests/crash_shim.so $(BUILD)/tests/test_crash_model
# `make test` runs it small; `make crashtest` large.
CRASH_SMALL ?= --writes 300 --cuts 25
CRASH_LARGE ?= --writes 5000 --cuts 500

.PHONY: crashtest
.PHONY: all build deps test unit-test integration-test browser-test asan valgrind run clean install format format-check lint lint-deps check-includes bench txcost importcost fuzz fuzz-deps fuzz-build demo
.DEFAULT_GOAL := all

all: deps
	@$(MAKE) --no-print-directory build

build: $(PROGRAMS) $(UNIT_BINS) $(INTEG_BINS) $(REPLAY_BINS) $(CRASH_BINS)

# Installs Debian's packages when a library is missing (as root), else says how.
deps:
	@missing=""; \
	command -v pkg-config >/dev/null 2>&1 || missing="pkg-config"; \
	for p in $(PKGS) $(WEB_PKGS) $(TEST_WEB_PKGS); do pkg-config --exists $$p 2>/dev/null || missing="$$missing $$p"; done; \
	command -v mdb_dump >/dev/null 2>&1 || missing="$$missing lmdb-utils"; \
	if [ -n "$$missing" ]; then \
	  echo "missing:$$missing"; \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing: apt-get install -y $(DEB_PKGS)"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(DEB_PKGS) >/dev/null || exit 1; \
	  else \
	    echo "run as root: apt-get install -y $(DEB_PKGS)"; exit 1; \
	  fi; \
	fi

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -MMD -MP -c -o $@ $<

$(PROTO_LIB): $(call obj,$(PROTO_SRC))
$(WORKFLOW_LIB): $(call obj,$(WORKFLOW_SRC))
$(STORE_LIB): $(call obj,$(STORE_SRC))
$(DAEMON_LIB): $(call obj,$(DAEMON_SRC))
$(CLIENT_LIB): $(call obj,$(CLIENT_SRC))
$(TEST_LIB): $(call obj,$(TESTLIB_SRC))
$(BUILD)/%.a:
	@mkdir -p $(dir $@)
	rm -f $@
	ar rcs $@ $^

$(BIN)/logbookd: $(call obj,daemon/main.c) $(DAEMON_LIB) $(STORE_LIB) $(WORKFLOW_LIB) $(PROTO_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)

# `logbook user` falls back on the installed users file, $(PREFIX)/etc/logbook/users.tsv.
$(BUILD)/clients/logbook/user.o: ALL_CFLAGS += -DLB_PREFIX='"$(PREFIX)"'
# `logbook report` is `logbook-report`: logbook links that program's files but its main.c.
REPORT_CLI_SRC := $(filter-out clients/logbook-report/main.c,$(wildcard clients/logbook-report/*.c))
$(BIN)/logbook: $(call obj,$(REPORT_CLI_SRC))
$(foreach p,$(CLIENT_PROGS),$(eval $(BIN)/$(p): $(call obj,$(wildcard clients/$(p)/*.c))))
$(patsubst %,$(BIN)/%,$(CLIENT_PROGS)): $(CLIENT_LIB) $(PROTO_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $(filter %.o,$^) $(CLIENT_LIB) $(PROTO_LIB) $(LIBS)

$(BIN)/logbook-web: $(call obj,$(WEB_SRC)) $(CLIENT_LIB) $(PROTO_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $(filter %.o,$^) $(CLIENT_LIB) $(PROTO_LIB) $(WEB_LIBS) $(LIBS)

# One CUnit binary per module, linking only that module (and lb/proto basics).
# A binary is tests/unit/test_NAME.c (or tests/integration/test_NAME.c) plus
# every .c in the folder NAME/ beside it: big suites split into files there.
# The test library is an archive, so a unit test pulls in only what it uses
# (cu.o, tval.o), never testd.o and its client library.
test_parts = $(call obj,$(1) $(wildcard $(dir $(1))$(patsubst test_%,%,$(basename $(notdir $(1))))/*.c))
$(foreach s,$(UNIT_SRC) $(INTEG_SRC),$(eval $(BUILD)/tests/$(basename $(notdir $(s))): $(call test_parts,$(s))))
$(BUILD)/tests/test_proto: $(TEST_LIB) $(PROTO_LIB)
$(BUILD)/tests/test_workflow: $(TEST_LIB) $(WORKFLOW_LIB) $(PROTO_LIB)
$(BUILD)/tests/test_store: $(TEST_LIB) $(STORE_LIB) $(PROTO_LIB)
$(BUILD)/tests/test_lbd: $(TEST_LIB) $(DAEMON_LIB) $(STORE_LIB) $(WORKFLOW_LIB) $(PROTO_LIB)
$(BUILD)/tests/test_client: $(TEST_LIB) $(CLIENT_LIB) $(WORKFLOW_LIB) $(PROTO_LIB)
# tests/integration/test_sim.c has the name test_sim: the generator's unit tests are test_sim_gen.
$(BUILD)/tests/test_sim_gen: $(TEST_LIB) $(BUILD)/clients/logbook-sim/gen.o $(CLIENT_LIB) $(PROTO_LIB)
$(INTEG_BINS): $(TEST_LIB) $(CLIENT_LIB) $(PROTO_LIB)
# test_web drives a real gateway over HTTP with libcurl and reads its JSON with jansson.
$(BUILD)/tests/test_web: LIBS += $(CURL_LIBS) $(WEB_LIBS)
# Static pattern: `$(BUILD)/tests/%` alone would also match the test objects.
$(UNIT_BINS) $(INTEG_BINS): $(BUILD)/tests/%:
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)

# A fuzz target with replay.c's main() instead of libFuzzer's.
$(BUILD)/tests/replay_request: $(BUILD)/tests/fuzz/fuzz_request.o $(PROTO_LIB)
$(BUILD)/tests/replay_workflow: $(BUILD)/tests/fuzz/fuzz_workflow.o $(WORKFLOW_LIB) $(PROTO_LIB)
$(BUILD)/tests/replay_holidays: $(BUILD)/tests/fuzz/fuzz_holidays.o $(WORKFLOW_LIB) $(PROTO_LIB)
# The stored-case decoder: wf_case_unpack against proto_unpack + wf_case_from_val.
$(BUILD)/tests/replay_case: $(BUILD)/tests/fuzz/fuzz_case.o $(WORKFLOW_LIB) $(PROTO_LIB)
$(BUILD)/tests/replay_csv: $(BUILD)/tests/fuzz/fuzz_csv.o $(CLIENT_LIB) $(PROTO_LIB)
$(BUILD)/tests/replay_users: $(BUILD)/tests/fuzz/fuzz_users.o $(PROTO_LIB)
# The gateway's parsers: an ODK submission (multipart, then XML) and a JSON body.
WEB_PARSE_OBJ := $(call obj,clients/web/multipart.c clients/web/submission.c clients/web/json.c)
$(BUILD)/tests/replay_submission: $(BUILD)/tests/fuzz/fuzz_submission.o $(WEB_PARSE_OBJ) $(PROTO_LIB)
$(BUILD)/tests/replay_json: $(BUILD)/tests/fuzz/fuzz_json.o $(WEB_PARSE_OBJ) $(PROTO_LIB)
$(BUILD)/tests/replay_submission $(BUILD)/tests/replay_json: LIBS += $(WEB_LIBS)
$(BUILD)/tests/replay_areas: $(BUILD)/tests/fuzz/fuzz_areas.o $(WORKFLOW_LIB) $(PROTO_LIB)
$(REPLAY_BINS): $(BUILD)/tests/replay_%: $(BUILD)/tests/fuzz/replay.o
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)

# The shim is loaded into logbookd with LD_PRELOAD: never built with the sanitizers (an ASan
# daemon loads it with verify_asan_link_order=0, see crashtest.c).
$(BUILD)/tests/crash_shim.so: tests/crash/shim.c tests/crash/crashlog.h
	@mkdir -p $(dir $@)
	$(CC) $(OPT) -g -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wshadow -fPIC -shared -o $@ $< -ldl -lpthread

$(BUILD)/tests/crashtest: $(call obj,$(CRASH_SRC)) $(TEST_LIB) $(CLIENT_LIB) $(PROTO_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)

# The rebuild model alone, on hand-written logs.
$(BUILD)/tests/test_crash_model: $(call obj,tests/crash/test_model.c tests/crash/model.c) $(TEST_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)

crashtest: deps
	@$(MAKE) --no-print-directory $(BIN)/logbookd $(CRASH_BINS)
	LOGBOOKD=$(abspath $(BIN)/logbookd) $(BUILD)/tests/crashtest $(CRASH_LARGE)

# Tests run from the repository root; fixtures are under tests/data.
test: all
	@$(MAKE) --no-print-directory run-tests

run-tests: $(UNIT_BINS) $(INTEG_BINS) $(PROGRAMS) $(REPLAY_BINS) $(CRASH_BINS)
	@fail=0; for t in $(UNIT_BINS) $(INTEG_BINS); do \
	  echo "== $$t"; LOGBOOKD=$(abspath $(BIN)/logbookd) LOGBOOK_BIN=$(abspath $(BIN)) $(TEST_WRAP) $$t || fail=1; \
	done; \
	echo "== $(BUILD)/tests/test_crash_model"; $(TEST_WRAP) $(BUILD)/tests/test_crash_model || fail=1; \
	echo "== $(BUILD)/tests/crashtest $(CRASH_SMALL)"; \
	LOGBOOKD=$(abspath $(BIN)/logbookd) $(BUILD)/tests/crashtest $(CRASH_SMALL) || fail=1; \
	for f in $(FUZZ_NAMES); do \
	  echo "== $(BUILD)/tests/replay_$$f"; $(TEST_WRAP) $(BUILD)/tests/replay_$$f tests/fuzz/corpus/$$f || fail=1; \
	done; \
	echo "== tests/verify-units.sh"; sh tests/verify-units.sh $(BIN) || fail=1; \
	echo "== tests/install.sh"; sh tests/install.sh $(BIN) $(BUILD) || fail=1; \
	echo "== tests/alerts.sh"; sh tests/alerts.sh || fail=1; \
	if [ "$(BROWSER_TESTS)" = 1 ]; then $(MAKE) --no-print-directory browser-test || fail=1; \
	else echo "== browser tests: skipped in this run (BROWSER_TESTS=$(BROWSER_TESTS))"; fi; \
	if [ $$fail = 0 ]; then echo "ALL TESTS PASSED"; else echo "SOME TESTS FAILED"; fi; exit $$fail

# Browser tests (tests/browser): the field app and the dashboard in Debian's Chromium, driven
# by puppeteer-core under node's test runner, against a real logbookd and logbook-web. Skipped,
# saying so, when chromium or node is missing; `npm ci` first when puppeteer-core is not there.
BROWSER_TESTS ?= 1
CHROMIUM ?= /usr/bin/chromium
browser-test: $(PROGRAMS)
	@if [ ! -x "$(CHROMIUM)" ] || ! command -v node >/dev/null 2>&1; then \
	  echo "== browser tests SKIPPED: they need $(CHROMIUM) and node (apt-get install chromium nodejs npm)"; \
	  exit 0; \
	fi; \
	if [ ! -d tests/browser/node_modules/puppeteer-core ]; then \
	  command -v npm >/dev/null 2>&1 || { echo "== browser tests FAILED: no npm to install puppeteer-core"; exit 1; }; \
	  echo "== tests/browser: npm ci"; (cd tests/browser && npm ci --no-audit --no-fund) || exit 1; \
	fi; \
	echo "== tests/browser ($$($(CHROMIUM) --version 2>/dev/null), node $$(node --version))"; \
	cd tests/browser && LOGBOOK_BIN=$(abspath $(BIN)) CHROMIUM=$(CHROMIUM) node --test web.test.js

asan: deps
	@$(MAKE) --no-print-directory BUILD=build/asan BIN=build/asan/bin SAN=1 build
	@ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  $(MAKE) --no-print-directory BUILD=build/asan BIN=build/asan/bin SAN=1 run-tests

valgrind: all
	@$(MAKE) --no-print-directory run-tests BROWSER_TESTS=0 \
	  TEST_WRAP="valgrind -q --error-exitcode=99 --leak-check=full --show-leak-kinds=definite,indirect,possible --errors-for-leak-kinds=definite,indirect,possible --suppressions=$(abspath tests/valgrind.supp)"

# `make run` starts logbookd and logbook-web together (tools/run.sh; Ctrl-C stops
# both); `make run CLOCK=manual` runs the daemon on the manual clock (time moves
# by `logbook admin clock`), to see escalations without waiting days.
# `make run DATA=var/walk` keeps the data in that folder instead of var/data, with
# the configs it generates beside it (remove the folder to start afresh).
run: all
	@BIN=$(BIN) CLOCK=$(CLOCK) DATA=$(DATA) sh tools/run.sh

# A synthetic Phitsanulok (13,831 households, 12 simulated months) against its own
# manual-clock daemon in var/demo/ (ports 5570/5571), then var/demo/report.html.
# logbook-report is built when its source is there; the demo does without it.
demo: deps
	@$(MAKE) --no-print-directory $(BIN)/logbookd $(BIN)/logbook $(BIN)/logbook-sim
	@$(if $(wildcard clients/logbook-report/main.c),$(MAKE) --no-print-directory $(BIN)/logbook-report || echo "demo: logbook-report did not build; going on without it",true)
	@BIN=$(BIN) sh tests/demo.sh

# Builds only what it runs (the daemon and the bench), then prints the figures.
# BENCH_QUICK=1, BENCH_CASES_BIG=N, BENCH_BATCH_MAX=N, BENCH_ONLY=...: see tests/bench/bench.c.
# PostgreSQL 15 (apt-get install postgresql-15), when installed, is run for comparison.
BENCH_SRC  := $(filter-out tests/bench/txcost.c tests/bench/importcost.c tests/bench/cost.c,$(wildcard tests/bench/*.c)) # txcost and importcost: binaries of their own (with cost.c)
# The objects are not under $(BUILD)/tests/bench/: that folder would take the binary's name.
BENCH_OBJS := $(patsubst tests/bench/%.c,$(BUILD)/tests/bench-obj/%.o,$(BENCH_SRC))

bench: deps
	@$(MAKE) --no-print-directory $(BIN)/logbookd $(BUILD)/tests/bench
	LOGBOOKD=$(abspath $(BIN)/logbookd) $(BUILD)/tests/bench

$(BUILD)/tests/bench-obj/%.o: tests/bench/%.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -MMD -MP -c -o $@ $<

$(BUILD)/tests/bench: $(BENCH_OBJS) $(TEST_LIB) $(CLIENT_LIB) $(PROTO_LIB)
	@if [ -d $@ ]; then rm -rf $@; fi
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)

# What one durable transition costs the daemon in instructions and CPU time (tests/bench/txcost.c):
#   make txcost                                   CPU time per add_note transition
#   make txcost TXCOST_CALLGRIND=/tmp/tx.cg       the same under callgrind, dumped to /tmp/tx.cg.N
txcost: deps
	@$(MAKE) --no-print-directory $(BIN)/logbookd $(BUILD)/tests/txcost
	LOGBOOKD=$(abspath $(BIN)/logbookd) $(if $(TXCOST_CALLGRIND),TXCOST_CALLGRIND=$(TXCOST_CALLGRIND)) $(BUILD)/tests/txcost

$(BUILD)/tests/txcost.o: tests/bench/txcost.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -MMD -MP -c -o $@ $<

$(BUILD)/tests/cost.o: tests/bench/cost.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -MMD -MP -c -o $@ $<

$(BUILD)/tests/txcost: $(BUILD)/tests/txcost.o $(BUILD)/tests/cost.o $(TEST_LIB) $(CLIENT_LIB) $(PROTO_LIB)
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)

# What case.import costs the daemon per household (tests/bench/importcost.c):
#   make importcost                               CPU time per household
#   make importcost IMPCOST_CALLGRIND=/tmp/im.cg  the same under callgrind, dumped to /tmp/im.cg.N
importcost: deps
	@$(MAKE) --no-print-directory $(BIN)/logbookd $(BUILD)/tests/importcost
	LOGBOOKD=$(abspath $(BIN)/logbookd) $(if $(IMPCOST_CALLGRIND),IMPCOST_CALLGRIND=$(IMPCOST_CALLGRIND)) $(BUILD)/tests/importcost

$(BUILD)/tests/importcost.o: tests/bench/importcost.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -MMD -MP -c -o $@ $<

$(BUILD)/tests/importcost: $(BUILD)/tests/importcost.o $(BUILD)/tests/cost.o $(TEST_LIB) $(CLIENT_LIB) $(PROTO_LIB)
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)

# libFuzzer: clang-built targets and their module sources in build/fuzz (never the gcc
# objects), each run FUZZ_SECONDS over tests/fuzz/corpus/NAME. New inputs go to
# build/fuzz/corpus-NAME, so the committed corpus changes only by a deliberate merge:
#   build/fuzz/fuzz_NAME -merge=1 NEW_DIR tests/fuzz/corpus/NAME build/fuzz/corpus-NAME
FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 600
FUZZ_TARGETS ?= $(FUZZ_NAMES)
FUZZ_BUILD   := build/fuzz
FUZZ_SAN     := -fsanitize=fuzzer,address,undefined
FUZZ_CFLAGS   = -g -O1 $(FUZZ_SAN) -fno-omit-frame-pointer -fno-sanitize-recover=undefined \
                -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wshadow \
                -Wno-missing-field-initializers -fno-strict-aliasing $(PKG_CFLAGS)
FUZZ_PROBE   := int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n) { (void)d; (void)n; return 0; }
fuzzobj = $(patsubst %.c,$(FUZZ_BUILD)/%.o,$(1))

# clang and its libFuzzer runtime (Debian: libclang-rt-14-dev), installed when missing and root.
fuzz-deps:
	@if ! echo '$(FUZZ_PROBE)' | $(FUZZ_CC) $(FUZZ_SAN) -x c - -o /dev/null >/dev/null 2>&1; then \
	  echo "missing: $(FUZZ_CC) with libFuzzer"; \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing: apt-get install -y clang libclang-rt-14-dev"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq clang libclang-rt-14-dev >/dev/null || exit 1; \
	  else \
	    echo "run as root: apt-get install -y clang libclang-rt-14-dev"; exit 1; \
	  fi; \
	fi

$(FUZZ_BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -MMD -MP -c -o $@ $<

$(FUZZ_BUILD)/libproto.a: $(call fuzzobj,$(PROTO_SRC))
$(FUZZ_BUILD)/libworkflow.a: $(call fuzzobj,$(WORKFLOW_SRC))
$(FUZZ_BUILD)/libproto.a $(FUZZ_BUILD)/libworkflow.a:
	@mkdir -p $(dir $@)
	rm -f $@
	ar rcs $@ $^

$(FUZZ_BUILD)/fuzz_request: $(FUZZ_BUILD)/tests/fuzz/fuzz_request.o $(FUZZ_BUILD)/libproto.a
$(FUZZ_BUILD)/fuzz_workflow: $(FUZZ_BUILD)/tests/fuzz/fuzz_workflow.o $(FUZZ_BUILD)/libworkflow.a $(FUZZ_BUILD)/libproto.a
$(FUZZ_BUILD)/fuzz_holidays: $(FUZZ_BUILD)/tests/fuzz/fuzz_holidays.o $(FUZZ_BUILD)/libworkflow.a $(FUZZ_BUILD)/libproto.a
$(FUZZ_BUILD)/fuzz_case: $(FUZZ_BUILD)/tests/fuzz/fuzz_case.o $(FUZZ_BUILD)/libworkflow.a $(FUZZ_BUILD)/libproto.a
$(FUZZ_BUILD)/fuzz_csv: $(FUZZ_BUILD)/tests/fuzz/fuzz_csv.o $(FUZZ_BUILD)/clients/lib/csv.o $(FUZZ_BUILD)/libproto.a
$(FUZZ_BUILD)/fuzz_users: $(FUZZ_BUILD)/tests/fuzz/fuzz_users.o $(FUZZ_BUILD)/libproto.a
FUZZ_WEB_OBJ := $(call fuzzobj,clients/web/multipart.c clients/web/submission.c clients/web/json.c)
$(FUZZ_BUILD)/fuzz_submission: $(FUZZ_BUILD)/tests/fuzz/fuzz_submission.o $(FUZZ_WEB_OBJ) $(FUZZ_BUILD)/libproto.a
$(FUZZ_BUILD)/fuzz_json: $(FUZZ_BUILD)/tests/fuzz/fuzz_json.o $(FUZZ_WEB_OBJ) $(FUZZ_BUILD)/libproto.a
$(FUZZ_BUILD)/fuzz_areas: $(FUZZ_BUILD)/tests/fuzz/fuzz_areas.o $(FUZZ_BUILD)/libworkflow.a $(FUZZ_BUILD)/libproto.a
$(patsubst %,$(FUZZ_BUILD)/fuzz_%,$(FUZZ_NAMES)):
	$(FUZZ_CC) $(FUZZ_SAN) -o $@ $^ $(WEB_LIBS) $(LIBS)

fuzz-build: $(patsubst %,$(FUZZ_BUILD)/fuzz_%,$(FUZZ_TARGETS))

# Every target runs even when an earlier one fails; crash files land in build/fuzz/NAME-*.
fuzz: deps fuzz-deps
	@$(MAKE) --no-print-directory fuzz-build
	@fail=0; for f in $(FUZZ_TARGETS); do \
	  mkdir -p $(FUZZ_BUILD)/corpus-$$f; \
	  echo "== fuzz_$$f for $(FUZZ_SECONDS)s"; \
	  $(FUZZ_BUILD)/fuzz_$$f -max_total_time=$(FUZZ_SECONDS) -timeout=10 -print_final_stats=1 \
	    -dict=tests/fuzz/$$f.dict -artifact_prefix=$(FUZZ_BUILD)/$$f- \
	    $(FUZZ_BUILD)/corpus-$$f tests/fuzz/corpus/$$f || { echo "fuzz_$$f FAILED"; fail=1; }; \
	done; exit $$fail

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1 $(DESTDIR)$(PREFIX)/share/man/man8 \
	  $(DESTDIR)$(PREFIX)/share/logbook/workflows
	install -m 0755 $(PROGRAMS) $(DESTDIR)$(PREFIX)/bin/
	install -m 0644 config/indicators.yaml config/holidays.yaml config/areas.tsv $(DESTDIR)$(PREFIX)/share/logbook/
	install -m 0644 config/workflows/*.yaml $(DESTDIR)$(PREFIX)/share/logbook/workflows/
	for m in docs/*.1; do [ -f "$$m" ] && install -m 0644 $$m $(DESTDIR)$(PREFIX)/share/man/man1/; done; true
	for m in docs/*.8; do [ -f "$$m" ] && install -m 0644 $$m $(DESTDIR)$(PREFIX)/share/man/man8/; done; true
	install -d $(DESTDIR)$(PREFIX)/lib/systemd/system
	sed 's|/usr/local/|$(PREFIX)/|g' systemd/logbookd.service > $(DESTDIR)$(PREFIX)/lib/systemd/system/logbookd.service
	sed 's|/usr/local/|$(PREFIX)/|g' systemd/logbook-notify@.service > $(DESTDIR)$(PREFIX)/lib/systemd/system/logbook-notify@.service
	sed 's|/usr/local/|$(PREFIX)/|g' systemd/logbook-web.service > $(DESTDIR)$(PREFIX)/lib/systemd/system/logbook-web.service
	install -d $(DESTDIR)$(PREFIX)/share/logbook/web
	cp -R clients/web/static/. $(DESTDIR)$(PREFIX)/share/logbook/web/
	install -d $(DESTDIR)$(PREFIX)/share/logbook/examples
	install -m 0755 examples/alert-*.sh $(DESTDIR)$(PREFIX)/share/logbook/examples/
	@# Example configs: written only where none exists, so an upgrade keeps the site's own.
	install -d $(DESTDIR)$(PREFIX)/etc/logbook
	@for f in logbookd.yaml clients.yaml; do \
	  t=$(DESTDIR)$(PREFIX)/etc/logbook/$$f; \
	  if [ -e "$$t" ]; then echo "install: keeping $$t"; \
	  else sed 's|/usr/local/|$(PREFIX)/|g' config/install/$$f > "$$t" && chmod 0644 "$$t" && echo "install: $$t"; fi; \
	done

# Tools for lint and format-check, installed when missing and root (like `deps`).
LINT_TOOLS = clang-tidy cppcheck clang-format
lint-deps:
	@missing=""; for t in $(LINT_TOOLS); do command -v $$t >/dev/null 2>&1 || missing="$$missing $$t"; done; \
	if [ -n "$$missing" ]; then \
	  echo "missing:$$missing"; \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing: apt-get install -y$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null || exit 1; \
	  else \
	    echo "run as root: apt-get install -y$$missing"; exit 1; \
	  fi; \
	fi

# Tracked C sources and headers (the fuzz corpora hold none).
C_FILES = $$(git ls-files '*.c' '*.h')

# Rewrites the files in place. FORMAT_FILES narrows it (default: every tracked file).
format: lint-deps
	clang-format -i $(or $(FORMAT_FILES),$(C_FILES))

# Fails, naming the files and lines, when a file differs from .clang-format's layout.
format-check: lint-deps
	clang-format --dry-run -Werror $(or $(FORMAT_FILES),$(C_FILES))

# STYLE.md's include graph (which folder may include what): tests/check-includes.sh.
check-includes:
	@sh tests/check-includes.sh

# cppcheck, then clang-tidy with .clang-tidy (tests/.clang-tidy for tests/), each
# file compiled with the build's flags (no compile_commands.json), TIDY_JOBS at once.
# TIDY_PENDING: files with open clang-tidy findings, left out until they are
# fixed (see `make lint TIDY_PENDING=` for the findings); remove a file once it passes.
TIDY_JOBS    ?= $(shell nproc 2>/dev/null || echo 2)
TIDY_FLAGS    = -std=c11 -D_GNU_SOURCE $(PKG_CFLAGS)
# TIDY_PENDING: files left out of clang-tidy while their findings are open (none now).
TIDY_PENDING ?=
TIDY_FILES    = $(filter-out $(TIDY_PENDING),$(shell git ls-files '*.c'))

lint: deps lint-deps
	cppcheck --quiet --error-exitcode=1 --enable=warning,performance,portability --inline-suppr \
	  --suppress=missingIncludeSystem proto workflow store daemon clients tests/lib tests/unit \
	  tests/integration tests/crash tests/fuzz/*.c
	@echo "clang-tidy: $(words $(TIDY_FILES)) files, $(TIDY_JOBS) at once$(if $(strip $(TIDY_PENDING)), (left out with open findings: $(strip $(TIDY_PENDING))))"
	@printf '%s\n' $(TIDY_FILES) | xargs -P $(TIDY_JOBS) -n 4 sh -c 'clang-tidy --quiet "$$@" -- $(TIDY_FLAGS)' sh
	@echo "lint: ok"

clean:
	rm -rf build bin

-include $(shell find build -name '*.d' 2>/dev/null)
