# vpnd build. Folders are floors: vpnd -> handshake -> crypto; tun stands alone.
# Each floor becomes one static archive; tests link against the archives so a
# test pulls in only the objects it uses.
#
#   make            build ./vpnd
#   make check      install deps, build, run unit + integration tests
#   make asan       the same suite again under AddressSanitizer + UBSan
#   make demo       install deps, build, run scripts/demo.sh
#   make install    PREFIX=/usr/local DESTDIR=
#   V=1             show the commands

PREFIX  ?= /usr/local
DESTDIR ?=
BUILD   ?= build
CC      ?= cc
PKGS     = libsodium libmnl libb2 libcap-ng libseccomp

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
SRC_vpnd      = $(filter-out vpnd/main.c,$(wildcard vpnd/*.c))
# link order: upper floors first
ARCHIVES = $(BUILD)/libvpnd.a $(BUILD)/libhandshake.a $(BUILD)/libtun.a $(BUILD)/libcrypto.a

UNIT_SRC   = $(wildcard tests/unit/test_*.c)
UNIT_BINS  = $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRC))
TOOL_SRC   = $(wildcard tests/tools/*.c)
TOOL_BINS  = $(patsubst tests/tools/%.c,$(BUILD)/tools/%,$(TOOL_SRC))

# The binary is build/vpnd: ./vpnd is the daemon's source folder.
all: $(BUILD)/vpnd

.PHONY: all check unit integration asan demo deps install clean fuzz bench

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

$(BUILD)/vpnd: $(BUILD)/obj/vpnd/main.o $(ARCHIVES)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/%: $(BUILD)/obj/tests/unit/%.o $(ARCHIVES)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(TEST_LDLIBS) $(LDLIBS)

$(BUILD)/tools/%: $(BUILD)/obj/tests/tools/%.o $(ARCHIVES)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

deps:
	$(Q)scripts/deps.sh

unit: $(UNIT_BINS) $(TOOL_BINS) $(BUILD)/vpnd
	$(Q)tests/run-unit.sh $(BUILD)

integration: $(BUILD)/vpnd $(TOOL_BINS)
	$(Q)VPND=$(abspath $(BUILD)/vpnd) TOOLS=$(abspath $(BUILD)/tools) tests/run-integration.sh

check: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)$(MAKE) --no-print-directory unit
	$(Q)$(MAKE) --no-print-directory integration

asan: deps
	$(Q)$(MAKE) --no-print-directory BUILD=build-asan SAN=1 CC=clang unit
	$(Q)VPND_SANITIZED=1 $(MAKE) --no-print-directory BUILD=build-asan SAN=1 CC=clang integration

demo: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)VPND=$(abspath $(BUILD)/vpnd) scripts/demo.sh

bench: all $(TOOL_BINS)
	$(Q)VPND=$(abspath $(BUILD)/vpnd) TOOLS=$(abspath $(BUILD)/tools) scripts/bench.sh

install: all
	install -d $(DESTDIR)$(PREFIX)/bin
	install -m 0755 $(BUILD)/vpnd $(DESTDIR)$(PREFIX)/bin/vpnd
	install -m 0755 scripts/vpnd-daemon-wrapper $(DESTDIR)$(PREFIX)/bin/vpnd-daemon-wrapper

clean:
	rm -rf build build-asan

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
