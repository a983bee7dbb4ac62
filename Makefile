# Makefile: builds libcore.a, the tools' libcli.a and the tools, runs the tests, installs.
VERSION   := 0.1.0
PREFIX    ?= /usr/local
DESTDIR   ?=
CC        ?= cc
BUILD     := build
PKGS      := libpci libudev json-c
CLI_PKGS  := popt smartcols

# Packages `make deps` installs when missing (build, test, lab, bench), beyond Essential ones.
# The commands the tests call: tests/cli/runner.bats checks that each comes from one of these.
# xz-utils: lab and guest initramfs modules (.ko.xz); binutils: readelf, ld for tests/guests;
# e2fsprogs: mkfs.ext4; iproute2: ip; python3: tests/cli/vqgen; clang-format: make format, lint.
DEB_DEPS  := build-essential clang pkg-config libpci-dev libpopt-dev libudev-dev libjson-c-dev \
             libsmartcols-dev \
             pciutils kmod bats bats-support bats-assert qemu-system-x86 busybox-static \
             driverctl jq zsh groff-base man-db xz-utils binutils e2fsprogs iproute2 python3 \
             clang-format

PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
CLI_CFLAGS := $(shell pkg-config --cflags $(CLI_PKGS) 2>/dev/null)
CLI_LIBS   := $(shell pkg-config --libs $(CLI_PKGS) 2>/dev/null)

WARN     := -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wno-format-nonliteral -Wstrict-prototypes \
            -Wno-format-truncation -Wno-unknown-warning-option
CFLAGS   ?= -O2 -g
ALL_CFLAGS = -std=gnu11 $(WARN) $(CFLAGS) -Ilibcore/include -Itests/unit -DPROJECT_VERSION='"$(VERSION)"' \
             -D_GNU_SOURCE $(PKG_CFLAGS) -MMD -MP
LDLIBS   := $(PKG_LIBS) -lpthread
SAN      := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all

LIB_SRC  := $(wildcard libcore/*.c)
CLI_SRC  := $(wildcard cmd/common/*.c)
TOOLS    := $(patsubst cmd/%.c,%,$(wildcard cmd/*.c))
UNITS    := $(patsubst tests/unit/%.c,%,$(wildcard tests/unit/test_*.c))
# The unit tests of cmd/common/ (test_cli*.c) link libcli.a as well.
CLI_UNITS := $(filter test_cli%,$(UNITS))
FUZZERS  := $(patsubst tests/fuzz/%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
BENCHES  := $(patsubst tests/bench/%.c,%,$(wildcard tests/bench/bench_*.c))
MANS     := $(wildcard man/*.1)

LIB      := $(BUILD)/libcore.a
LIB_ASAN := $(BUILD)/asan/libcore.a
LIB_OBJ  := $(patsubst %.c,$(BUILD)/%.o,$(LIB_SRC))
ASAN_OBJ := $(patsubst %.c,$(BUILD)/asan/%.o,$(LIB_SRC))
CLI      := $(BUILD)/libcli.a
CLI_ASAN := $(BUILD)/asan/libcli.a

# Only the tools and their layer's own unit tests see cmd/common/ and popt: libcore cannot
# include cli.h or out.h, and nothing but the tools links popt.
$(BUILD)/cmd/%.o $(BUILD)/asan/cmd/%.o: ALL_CFLAGS += -Icmd/common $(CLI_CFLAGS)
CLI_UNIT_OBJ := $(foreach u,$(CLI_UNITS),$(BUILD)/tests/unit/$(u).o $(BUILD)/asan/tests/unit/$(u).o)
$(CLI_UNIT_OBJ): ALL_CFLAGS += -Icmd/common $(CLI_CFLAGS)

BIN_TOOLS  := $(addprefix $(BUILD)/,$(TOOLS))
BIN_UNITS  := $(addprefix $(BUILD)/unit/,$(UNITS))
ASAN_UNITS := $(addprefix $(BUILD)/asan/unit/,$(UNITS))
BIN_FUZZ   := $(addprefix $(BUILD)/fuzz/,$(FUZZERS))
BIN_BENCH  := $(addprefix $(BUILD)/bench/,$(BENCHES))

.PHONY: all test-build deps check lint unit unit-asan cli lab fuzz bench demo install uninstall \
	clean format
all: $(LIB) $(BIN_TOOLS)

# Install whatever is missing (Debian); a no-op when everything is there.
deps:
	@missing=$$(for p in $(DEB_DEPS); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | \
		grep -q 'install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "deps: installing:" $$missing; \
		$(if $(filter 0,$(shell id -u)),,sudo) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(if $(filter 0,$(shell id -u)),,sudo) \
			apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(BUILD)/asan/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(SAN) -c -o $@ $<

$(LIB): $(LIB_OBJ)
	rm -f $@ && $(AR) rcs $@ $^

$(LIB_ASAN): $(ASAN_OBJ)
	rm -f $@ && $(AR) rcs $@ $^

$(CLI): $(patsubst %.c,$(BUILD)/%.o,$(CLI_SRC))
	rm -f $@ && $(AR) rcs $@ $^

$(CLI_ASAN): $(patsubst %.c,$(BUILD)/asan/%.o,$(CLI_SRC))
	rm -f $@ && $(AR) rcs $@ $^

$(BUILD)/%: $(BUILD)/cmd/%.o $(CLI) $(LIB)
	$(CC) $(CFLAGS) -o $@ $^ $(CLI_LIBS) $(LDLIBS)

$(BUILD)/unit/%: $(BUILD)/tests/unit/%.o $(BUILD)/tests/unit/check.o $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/asan/unit/%: $(BUILD)/asan/tests/unit/%.o $(BUILD)/asan/tests/unit/check.o $(LIB_ASAN)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(SAN) -o $@ $^ $(LDLIBS)

$(addprefix $(BUILD)/unit/,$(CLI_UNITS)): $(BUILD)/unit/%: $(BUILD)/tests/unit/%.o \
		$(BUILD)/tests/unit/check.o $(CLI) $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $^ $(CLI_LIBS) $(LDLIBS)

$(addprefix $(BUILD)/asan/unit/,$(CLI_UNITS)): $(BUILD)/asan/unit/%: \
		$(BUILD)/asan/tests/unit/%.o $(BUILD)/asan/tests/unit/check.o $(CLI_ASAN) $(LIB_ASAN)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(SAN) -o $@ $^ $(CLI_LIBS) $(LDLIBS)

$(BUILD)/bench/%: $(BUILD)/tests/bench/%.o $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

# libFuzzer targets need clang; they link libcore's sources directly, built with the fuzzer.
$(BUILD)/fuzz/%: tests/fuzz/%.c $(LIB_SRC)
	@mkdir -p $(dir $@)
	clang -std=gnu11 -g -O1 -fsanitize=fuzzer,address,undefined -Ilibcore/include -D_GNU_SOURCE \
		-DPROJECT_VERSION='"$(VERSION)"' $(PKG_CFLAGS) -o $@ $< $(LIB_SRC) $(LDLIBS)

test-build: all $(BIN_UNITS) $(ASAN_UNITS) $(BIN_FUZZ)

# The whole test suite: lint, unit (plain and ASan+UBSan), fuzz smoke, bats CLI, lab. One summary
# line.
# deps first, in a make of its own, so that pkg-config's answers come from the installed packages.
check: deps
	@$(MAKE) --no-print-directory -j$$(nproc) test-build
	@tests/run all

lint:
	@tests/run lint
unit: $(BIN_UNITS)
	@tests/run unit
unit-asan: $(ASAN_UNITS)
	@tests/run unit-asan
cli: all
	@tests/run cli
lab: all
	@tests/run lab
fuzz: $(BIN_FUZZ)
	@tests/run fuzz

bench: deps
	@$(MAKE) --no-print-directory -j$$(nproc) all $(BIN_BENCH)
	@tests/bench/run

demo: deps
	@$(MAKE) --no-print-directory -j$$(nproc) all
	@tests/lab/demo

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1 \
		$(DESTDIR)$(PREFIX)/share/bash-completion/completions \
		$(DESTDIR)$(PREFIX)/share/zsh/vendor-completions
	install -m 755 $(BIN_TOOLS) $(DESTDIR)$(PREFIX)/bin/
	install -m 644 $(MANS) $(DESTDIR)$(PREFIX)/share/man/man1/
	for t in $(TOOLS); do \
		install -m 644 completions/bash/$$t $(DESTDIR)$(PREFIX)/share/bash-completion/completions/$$t; \
		install -m 644 completions/zsh/_$$t $(DESTDIR)$(PREFIX)/share/zsh/vendor-completions/_$$t; \
	done

uninstall:
	for t in $(TOOLS); do rm -f $(DESTDIR)$(PREFIX)/bin/$$t $(DESTDIR)$(PREFIX)/share/man/man1/$$t.1 \
		$(DESTDIR)$(PREFIX)/share/bash-completion/completions/$$t \
		$(DESTDIR)$(PREFIX)/share/zsh/vendor-completions/_$$t; done

# The files tests/lint checks with clang-format --dry-run, formatted in place.
format:
	tests/lint --format-files | xargs clang-format -i

clean:
	rm -rf $(BUILD)

.SECONDARY:
-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
