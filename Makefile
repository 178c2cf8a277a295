# vpnd build. Folders are floors: vpnd -> handshake -> crypto; tun stands alone.
# Each floor becomes one static archive; tests link against the archives so a
# test pulls in only the objects it uses.
#
#   make            build ./vpnd
#   make check      install deps, build, run unit + integration tests
#   make asan       the same suite again under AddressSanitizer + UBSan
#   make demo       install deps, build, run scripts/demo.sh
#   make install    PREFIX=/usr/local DESTDIR= (binary, wrapper, systemd units,
#                   sysusers.d entry, man page, example config, bash
#                   completion; UNITDIR SYSUSERSDIR MANDIR DOCDIR BASHCOMPDIR
#                   to move them); without DESTDIR it also creates the
#                   worker's system user vpnd
#   V=1             show the commands

PREFIX  ?= /usr/local
DESTDIR ?=
UNITDIR ?= $(PREFIX)/lib/systemd/system
SYSUSERSDIR ?= $(PREFIX)/lib/sysusers.d
MANDIR  ?= $(PREFIX)/share/man
DOCDIR  ?= $(PREFIX)/share/doc/vpnd
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions
BUILD   ?= build
CC      ?= cc
PKGS     = libsodium libmnl libb2 libcap-ng libseccomp libqrencode liburing

CFLAGS  ?= -O2 -g
CFLAGS  += -std=gnu11 -Wall -Wextra -Werror -MMD -MP -D_GNU_SOURCE
CFLAGS  += -I. $(shell pkg-config --cflags $(PKGS))
LDLIBS  += $(shell pkg-config --libs $(PKGS)) -lpthread
TEST_LDLIBS = $(shell pkg-config --libs cmocka)

ifeq ($(SAN),1)
CFLAGS  += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all -DVPND_SANITIZED
LDFLAGS += -fsanitize=address,undefined
endif

ifeq ($(V),1)
Q =
else
Q = @
endif

FLOORS  = crypto handshake tun vpnd
SRC_crypto    = $(wildcard crypto/*.c)
SRC_handshake = $(wildcard handshake/*.c)
SRC_tun       = $(wildcard tun/*.c)
SRC_vpnd      = $(filter-out vpnd/cli/main.c,$(wildcard vpnd/*/*.c))
# link order: upper floors first
ARCHIVES = $(BUILD)/libvpnd.a $(BUILD)/libhandshake.a $(BUILD)/libtun.a $(BUILD)/libcrypto.a

UNIT_SRC   = $(wildcard tests/unit/test_*.c)
UNIT_BINS  = $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRC))
TOOL_SRC   = $(wildcard tests/tools/*.c)
TOOL_BINS  = $(patsubst tests/tools/%.c,$(BUILD)/tools/%,$(TOOL_SRC))

# The binary is build/vpnd: ./vpnd is the daemon's source folder.
all: $(BUILD)/vpnd

.PHONY: all check unit integration asan asan-unit demo deps install clean fuzz bench bench-flood layers

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(CFLAGS) -c -o $@ $<

define floor_rule
$(BUILD)/lib$(1).a: $$(patsubst %.c,$(BUILD)/obj/%.o,$$(SRC_$(1)))
	@$$(if $$(Q),echo "  AR      $$@")
	$$(Q)rm -f $$@ && ar rcs $$@ $$^
endef
$(foreach f,$(FLOORS),$(eval $(call floor_rule,$(f))))

$(BUILD)/vpnd: $(BUILD)/obj/vpnd/cli/main.o $(ARCHIVES)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/%: $(BUILD)/obj/tests/unit/%.o $(ARCHIVES)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(TEST_LDLIBS) $(LDLIBS)

# test_staging checks that staged plaintext is wiped before it is freed:
# it sees every free() of the data path (ld --wrap).
$(BUILD)/tests/test_staging: LDFLAGS += -Wl,--wrap=free

$(BUILD)/tools/%: $(BUILD)/obj/tests/tools/%.o $(ARCHIVES)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

layers:
	$(Q)scripts/check-layers.sh
	$(Q)tests/layers/selftest.sh

deps:
	$(Q)scripts/deps.sh

unit: $(UNIT_BINS) $(TOOL_BINS) $(BUILD)/vpnd
	$(Q)tests/run-unit.sh $(BUILD)

integration: $(BUILD)/vpnd $(TOOL_BINS)
	$(Q)VPND=$(abspath $(BUILD)/vpnd) TOOLS=$(abspath $(BUILD)/tools) tests/run-integration.sh

check: deps
	$(Q)scripts/check-layers.sh
	$(Q)tests/layers/selftest.sh
	$(Q)$(MAKE) --no-print-directory all
	$(Q)$(MAKE) --no-print-directory unit
	$(Q)$(MAKE) --no-print-directory integration
	$(Q)$(MAKE) --no-print-directory fuzz-smoke

asan: asan-unit
	$(Q)VPND_SANITIZED=1 $(MAKE) --no-print-directory BUILD=build-asan SAN=1 CC=clang integration

# The unit tests alone under ASan/UBSan (a minute): what .ci/run adds to
# make check within CI's time; make asan runs everything.
asan-unit: deps
	$(Q)$(MAKE) --no-print-directory BUILD=build-asan SAN=1 CC=clang unit

# Fuzzing: libFuzzer targets tests/fuzz/fuzz_*.c, built by a sub-make in
# build-fuzz/ (objects with -fsanitize=fuzzer-no-link,address,undefined,
# targets linked with -fsanitize=fuzzer). tests/run-fuzz.sh runs each over
# its regression inputs, then FUZZ_SECONDS on its seed corpus (read only);
# any crash fails. fuzz-smoke: 10 s each, part of make check.
FUZZ_SECONDS ?= 60
FUZZ_NAMES    = $(patsubst tests/fuzz/%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
.PHONY: fuzz-build fuzz-bins fuzz-smoke fuzz-clean
.SECONDARY: $(FUZZ_NAMES:%=$(BUILD)/obj/tests/fuzz/%.o)

$(BUILD)/fuzz/%: $(BUILD)/obj/tests/fuzz/%.o $(ARCHIVES)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -fsanitize=fuzzer -o $@ $^ $(LDLIBS)

fuzz-bins: $(FUZZ_NAMES:%=$(BUILD)/fuzz/%)
	@:

fuzz-build: deps
	$(Q)CFLAGS="-g -O1 -fsanitize=fuzzer-no-link" $(MAKE) --no-print-directory \
		BUILD=build-fuzz SAN=1 CC=clang fuzz-bins

fuzz: fuzz-build
	$(Q)FUZZ_SECONDS=$(FUZZ_SECONDS) V=$(V) tests/run-fuzz.sh build-fuzz $(FUZZ_NAMES)

fuzz-smoke:
	$(Q)$(MAKE) --no-print-directory fuzz FUZZ_SECONDS=10

clean: fuzz-clean
fuzz-clean:
	rm -rf build-fuzz

demo: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)VPND=$(abspath $(BUILD)/vpnd) scripts/demo.sh

bench: all $(TOOL_BINS)
	$(Q)scripts/deps.sh bench
	$(Q)VPND=$(abspath $(BUILD)/vpnd) TOOLS=$(abspath $(BUILD)/tools) scripts/bench.sh

# Handshake floods against an established tunnel, vpnd and wireguard-go
# (REPS, DUR, RATE: see the script's header). Not part of make check.
bench-flood: all $(TOOL_BINS)
	$(Q)scripts/deps.sh bench
	$(Q)VPND=$(abspath $(BUILD)/vpnd) TOOLS=$(abspath $(BUILD)/tools) scripts/bench_flood.sh

# The unit names the binary by its installed path: /usr/local/bin in the
# source, $(PREFIX)/bin once installed.
install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(UNITDIR) $(DESTDIR)$(MANDIR)/man8 \
		$(DESTDIR)$(DOCDIR) $(DESTDIR)$(SYSUSERSDIR)
	install -m 0755 $(BUILD)/vpnd $(DESTDIR)$(PREFIX)/bin/vpnd
	sed 's|^VPND=$$|VPND=$(PREFIX)/bin/vpnd|' scripts/vpnd-daemon-wrapper \
		> $(DESTDIR)$(PREFIX)/bin/vpnd-daemon-wrapper
	chmod 0755 $(DESTDIR)$(PREFIX)/bin/vpnd-daemon-wrapper
	install -d $(DESTDIR)$(BASHCOMPDIR)
	install -m 0644 scripts/vpnd.bash-completion $(DESTDIR)$(BASHCOMPDIR)/vpnd
	sed 's|/usr/local/bin/|$(PREFIX)/bin/|g' scripts/vpnd@.service > $(DESTDIR)$(UNITDIR)/vpnd@.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/vpnd@.service
	install -m 0644 scripts/vpnd.target $(DESTDIR)$(UNITDIR)/vpnd.target
	install -m 0644 scripts/vpnd.8 $(DESTDIR)$(MANDIR)/man8/vpnd.8
	install -m 0644 scripts/vpnd.sysusers $(DESTDIR)$(SYSUSERSDIR)/vpnd.conf
	@# The worker's own user (else it falls back to the shared nobody): made
	@# now on a real install, by systemd-sysusers at boot from the entry.
	@if [ -z "$(DESTDIR)" ] && ! getent passwd vpnd >/dev/null; then \
		systemd-sysusers $(SYSUSERSDIR)/vpnd.conf 2>/dev/null || \
		useradd --system --user-group --no-create-home --home-dir / \
			--shell /usr/sbin/nologin vpnd; \
	fi
	install -m 0644 scripts/example-server.conf $(DESTDIR)$(DOCDIR)/example-server.conf

clean:
	rm -rf build build-asan

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
