# pairfs build. `make` builds build/pairfs and build/pairctl; `make check` runs every test.
# Every target that needs the Debian packages depends on `deps`, which installs only what is missing.

# Every core (2 here): a clean `make check` compiles some 70 files and must stay under 10 minutes.
MAKEFLAGS += -j$(shell nproc 2>/dev/null || echo 2)

PREFIX  ?= /usr/local
DESTDIR ?=
BUILD   := build

CXX      ?= g++
PKGS     := fuse3 libzmq libxxhash spdlog
# metrics (issue 15): node/metrics_server.cc serves /metrics through Debian's cpp-httplib (a
# compiled library with a .pc file: its Cflags carry the TLS/zlib/brotli defines the library was
# built with, which the header must see too).
PKGS     += cpp-httplib
# -g1: line tables and function names (backtraces, perf) at a fraction of -g's compile time, which
# every clean-clone `make check` pays; `make CXXFLAGS="-O2 -g"` for full debug information.
CXXFLAGS ?= -O2 -g1
# -Wno-subobject-linkage: in a unity unit (below) a file's anonymous-namespace type used by its
# own class is no longer in the "main file", which is all this warning looks at.
CXXFLAGS += -std=c++20 -Wall -Wextra -Wno-missing-field-initializers -Wno-subobject-linkage -pthread -MMD -MP -I.
CPPFLAGS += -DMSGPACK_NO_BOOST -DFUSE_USE_VERSION=312
# The unit tests' own files are built without optimisation: Catch2's macros make them the slowest
# files to optimise (about 40 % of their compile time, which `make check` pays on every clean
# clone), and what they test is libpairfs.a, which stays -O2. The fuzz loops and the simulations
# stay -O2: they run millions of inputs and thousands of seeds in their own code.
UNOPTIMISED_TESTS := clusterd node pairctl tools wire metrics
$(foreach dir,$(UNOPTIMISED_TESTS),$(eval $(BUILD)/obj/$(BUILD)/unity/tests/unit/$(dir)/%.o: CXXFLAGS += -O0))
# Catch2's own runner too (tests/unit/main.cc, CATCH_CONFIG_RUNNER): 17 s instead of 30 at -O2.
$(BUILD)/obj/tests/unit/main.o: CXXFLAGS += -O0
LDLIBS   += -pthread

# pkg-config is asked lazily so that `make deps` runs on a machine that has nothing yet.
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null)

WIRE_SRC  := $(wildcard wire/*.cc)
NODE_SRC  := $(wildcard node/*.cc)
CLUSTERD_SRC := $(filter-out clusterd/main.cc,$(wildcard clusterd/*.cc))
PAIRCTL_SRC := $(filter-out pairctl/main.cc,$(wildcard pairctl/*.cc))
FUSE_SRC  := $(wildcard fuse/*.cc)
# The library and the test programs are compiled as unity units of up to 8 files each
# (scripts/unity.sh writes them under build/unity/ while make reads this file): a file's cost is
# mostly the headers it parses and the templates it instantiates (msgpack, fmt, Catch2), which a
# unit pays once for its 8 files. A file's namespace-scope names must therefore not collide with
# another file's of the same folder (scripts/unity.sh says more). Editing one file recompiles its
# unit: a few seconds more for the developer, minutes less for every clean-clone `make check`.
UNITY_DIRS := $(patsubst %/,%,$(wildcard tests/unit/*/)) tests/sim
UNIT_SRC  := tests/unit/main.cc $(shell scripts/unity.sh $(BUILD)/unity 8 $(UNITY_DIRS))
TOOL_SRC  := $(wildcard tests/tools/*.cc)
# A tool of several files has a folder of its own (tests/tools/NAME/*.cc), built as unity units
# too, and a rule below.
WIRE_SEND_SRC := $(shell scripts/unity.sh $(BUILD)/unity 8 tests/tools/wire_send)
WAN_PROXY_SRC := $(shell scripts/unity.sh $(BUILD)/unity 8 tests/tools/wan_proxy)
LINK_RTT_SRC := $(shell scripts/unity.sh $(BUILD)/unity 8 tests/tools/link_rtt)

obj = $(patsubst %.cc,$(BUILD)/obj/%.o,$(1))

# The library too is compiled as unity units (see UNITY_DIRS above and scripts/unity.sh).
LIB_UNITS := $(shell scripts/unity.sh $(BUILD)/unity 8 --skip clusterd/main.cc --skip pairctl/main.cc wire node clusterd pairctl)
LIB_OBJ   := $(call obj,$(LIB_UNITS))
BINARIES  := $(BUILD)/pairfs $(BUILD)/pairctl $(BUILD)/clusterd
UNIT_BIN  := $(BUILD)/unit_tests
TOOL_BINS := $(patsubst tests/tools/%.cc,$(BUILD)/tools/%,$(TOOL_SRC)) $(BUILD)/tools/wire_send \
  $(BUILD)/tools/wan_proxy $(BUILD)/tools/link_rtt

.PHONY: all deps check unit demo bench bench-failover install clean fuzz format
# Keep the objects that only a pattern rule names (the tools') and the deps stamp: make must not
# delete them as intermediates after `check` has printed its last line. Not a bare `.SECONDARY:`:
# that makes every object intermediate, so a new source file's object was never built while the
# program it goes into looked up to date.
.SECONDARY: $(call obj,$(TOOL_SRC) $(WIRE_SEND_SRC) $(WAN_PROXY_SRC) $(LINK_RTT_SRC)) \
  $(BUILD)/.deps-ok
all: $(BINARIES)

deps:
	@scripts/deps.sh

$(BUILD)/.deps-ok: scripts/deps.sh
	@scripts/deps.sh
	@mkdir -p $(BUILD) && touch $@

$(BUILD)/obj/%.o: %.cc | $(BUILD)/.deps-ok
	@mkdir -p $(dir $@)
	$(CXX) $(CPPFLAGS) $(CXXFLAGS) $(PKG_CFLAGS) -c $< -o $@

$(BUILD)/libpairfs.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/pairfs: $(call obj,$(FUSE_SRC)) $(BUILD)/libpairfs.a
	$(CXX) $(CXXFLAGS) -o $@ $^ $(PKG_LIBS) $(LDLIBS)

$(BUILD)/pairctl: $(call obj,pairctl/main.cc) $(BUILD)/libpairfs.a
	$(CXX) $(CXXFLAGS) -o $@ $^ $(PKG_LIBS) $(LDLIBS)

$(BUILD)/clusterd: $(call obj,clusterd/main.cc) $(BUILD)/libpairfs.a
	$(CXX) $(CXXFLAGS) -o $@ $^ $(PKG_LIBS) $(LDLIBS)

$(UNIT_BIN): $(call obj,$(UNIT_SRC)) $(BUILD)/libpairfs.a
	$(CXX) $(CXXFLAGS) -o $@ $^ $(PKG_LIBS) $(LDLIBS)

$(BUILD)/tools/%: $(BUILD)/obj/tests/tools/%.o $(BUILD)/libpairfs.a
	@mkdir -p $(dir $@)
	$(CXX) $(CXXFLAGS) -o $@ $^ $(PKG_LIBS) $(LDLIBS)

$(BUILD)/tools/wire_send: $(call obj,$(WIRE_SEND_SRC)) $(BUILD)/libpairfs.a
	@mkdir -p $(dir $@)
	$(CXX) $(CXXFLAGS) -o $@ $^ $(PKG_LIBS) $(LDLIBS)

$(BUILD)/tools/wan_proxy: $(call obj,$(WAN_PROXY_SRC)) $(BUILD)/libpairfs.a
	@mkdir -p $(dir $@)
	$(CXX) $(CXXFLAGS) -o $@ $^ $(PKG_LIBS) $(LDLIBS)

$(BUILD)/tools/link_rtt: $(call obj,$(LINK_RTT_SRC)) $(BUILD)/libpairfs.a
	@mkdir -p $(dir $@)
	$(CXX) $(CXXFLAGS) -o $@ $^ $(PKG_LIBS) $(LDLIBS)

# The whole suite: man pages, specs, unit and integration tests (real mounts; root needed).
# tests/run.sh prints the closing `N passed, N failed, N skipped` line and exits non-zero on failure.
check: $(BINARIES) $(UNIT_BIN) $(TOOL_BINS)
	@tests/run.sh

unit: $(UNIT_BIN)
	@$(UNIT_BIN)

demo: $(BINARIES)
	@scripts/demo.sh

bench: $(BINARIES) $(BUILD)/tools/wan_proxy $(BUILD)/tools/link_rtt
	@scripts/bench.sh

bench-failover: $(BINARIES)
	@scripts/bench_failover.sh

# Longer, coverage-guided fuzzing of every decoder with clang's libFuzzer under ASan and UBSan
# (tests/fuzz/decoders_fuzzer.cc); `make check` runs the mutation fuzz tests in build/unit_tests
# instead. Needs clang (Debian: clang, libclang-rt-14-dev). The library is built again with clang
# into build/fuzz/obj; FUZZ_SECONDS per run (default 600); the corpus stays in build/fuzz/corpus.
FUZZ_CXX     ?= clang++
FUZZ_SECONDS ?= 600
FUZZ_FLAGS   := -std=c++20 -O1 -g -MMD -MP -fsanitize=address,undefined -fno-sanitize-recover=undefined -pthread -I.
FUZZ_LIB_OBJ := $(patsubst %.cc,$(BUILD)/fuzz/obj/%.o,$(WIRE_SRC) $(NODE_SRC))

$(BUILD)/fuzz/obj/%.o: %.cc | $(BUILD)/.deps-ok
	@mkdir -p $(dir $@)
	$(FUZZ_CXX) $(CPPFLAGS) $(FUZZ_FLAGS) -fsanitize=fuzzer-no-link $(PKG_CFLAGS) -c $< -o $@

$(BUILD)/fuzz/decoders: tests/fuzz/decoders_fuzzer.cc $(FUZZ_LIB_OBJ)
	$(FUZZ_CXX) $(CPPFLAGS) $(FUZZ_FLAGS) -fsanitize=fuzzer $(PKG_CFLAGS) -o $@ $^ $(PKG_LIBS) $(LDLIBS)

fuzz: $(BUILD)/fuzz/decoders
	@mkdir -p $(BUILD)/fuzz/corpus
	PAIRFS_FUZZ_CORPUS=$(BUILD)/fuzz/corpus $(BUILD)/fuzz/decoders -max_total_time=$(FUZZ_SECONDS) $(BUILD)/fuzz/corpus

# Applies .clang-format to every C++ file (needs clang-format: `scripts/deps.sh dev`; not part of
# `make deps`, nothing in the build or in `make check` needs it).
FORMAT_SRC = $(shell find wire node fuse clusterd pairctl tests -name '*.cc' -o -name '*.h')
format:
	@command -v clang-format >/dev/null || { echo "make format: clang-format is missing: scripts/deps.sh dev" >&2; exit 1; }
	clang-format -i $(FORMAT_SRC)

# The systemd units go to $(PREFIX)/lib/systemd/system, which systemd searches for both
# PREFIX=/usr/local (the default) and PREFIX=/usr; their ExecStart paths follow PREFIX. Override
# SYSTEMD_UNIT_DIR to put them elsewhere (e.g. /lib/systemd/system); run `systemctl daemon-reload`
# after installing.
SYSTEMD_UNIT_DIR ?= $(PREFIX)/lib/systemd/system
UNITS := scripts/systemd/pairfs@.service scripts/systemd/clusterd@.service
# ops (issue 15): where `make install` puts the OCF resource agent (pairfs-ocf(7); Pacemaker looks
# under /usr/lib/ocf whatever PREFIX is; its default programs are $(PREFIX)/bin's) and pairctl's
# bash completion; man section 7 goes with the others.
OCF_AGENT_DIR ?= /usr/lib/ocf/resource.d/pairfs
BASH_COMPLETION_DIR ?= /usr/share/bash-completion/completions

install: $(BINARIES)
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man8 $(DESTDIR)$(PREFIX)/share/man/man5
	install -d $(DESTDIR)$(SYSTEMD_UNIT_DIR)
	install -m 0755 $(BINARIES) $(DESTDIR)$(PREFIX)/bin/
	install -m 0644 man/*.8 $(DESTDIR)$(PREFIX)/share/man/man8/
	install -m 0644 man/*.5 $(DESTDIR)$(PREFIX)/share/man/man5/
	for unit in $(UNITS); do \
	  sed 's|/usr/local/bin/|$(PREFIX)/bin/|g' "$$unit" > "$(DESTDIR)$(SYSTEMD_UNIT_DIR)/$$(basename "$$unit")" && \
	  chmod 0644 "$(DESTDIR)$(SYSTEMD_UNIT_DIR)/$$(basename "$$unit")" || exit 1; \
	done
	install -d $(DESTDIR)$(OCF_AGENT_DIR) $(DESTDIR)$(BASH_COMPLETION_DIR) $(DESTDIR)$(PREFIX)/share/man/man7
	sed 's|@BINDIR@|$(PREFIX)/bin|g' scripts/ocf/pairfs > $(DESTDIR)$(OCF_AGENT_DIR)/pairfs
	chmod 0755 $(DESTDIR)$(OCF_AGENT_DIR)/pairfs
	install -m 0644 scripts/completion/pairctl $(DESTDIR)$(BASH_COMPLETION_DIR)/pairctl
	install -m 0644 man/*.7 $(DESTDIR)$(PREFIX)/share/man/man7/

clean:
	rm -rf $(BUILD)

-include $(shell find $(BUILD)/obj $(BUILD)/fuzz/obj -name '*.d' 2>/dev/null)
