# Makefile: builds libcore.a, the tools' libcli.a and the tools, runs the tests, installs.
VERSION   := 0.1.0
PREFIX    ?= /usr/local
DESTDIR   ?=
# systemd units; Debian's package puts them in /lib/systemd/system (debian/rules).
UNITDIR   ?= $(PREFIX)/lib/systemd/system
CC        ?= cc
BUILD     := build
PKGS      := libpci libudev json-c libmicrohttpd liburing
CLI_PKGS  := popt smartcols

# Packages `make deps` installs when missing (build, test, lab, bench), beyond Essential ones.
# The commands the tests call: tests/cli/runner.bats checks that each comes from one of these.
# xz-utils: lab and guest initramfs modules (.ko.xz); binutils: readelf, ld for tests/guests;
# e2fsprogs: mkfs.ext4; iproute2: ip; python3: tests/cli/vqgen; clang-format: make format, lint;
# udev: systemd-udevd in the lab (vfio-bind --persist); systemd: systemd-analyze verify of the
# units; libsystemd-dev: mvm-run's sd_notify; debhelper, lintian: make deb; debootstrap: the
# clean Debian root tests/cli/deb.bats installs the package into.
# The vringh bench fetches linux-source with apt-get download and dpkg-deb (apt, dpkg: required).
# libmicrohttpd-dev: mvm-run's API socket; libcurl4-openssl-dev: vq-inspect --api-sock; curl:
# tests/cli/api.bats drives the API. liburing-dev: virtio-blk's Async engine (io_uring).
DEB_DEPS  := build-essential clang pkg-config libpci-dev libpopt-dev libudev-dev libjson-c-dev \
             libmicrohttpd-dev libcurl4-openssl-dev curl libsmartcols-dev liburing-dev \
             pciutils kmod bats bats-support bats-assert qemu-system-x86 busybox-static \
             driverctl jq zsh groff-base man-db xz-utils binutils e2fsprogs iproute2 python3 \
             clang-format udev systemd libsystemd-dev debhelper lintian debootstrap

# libsystemd is optional: without it mvm-run cannot tell systemd it is ready (Type=notify).
SD_CFLAGS  := $(shell pkg-config --exists libsystemd 2>/dev/null && echo -DHAVE_LIBSYSTEMD \
                $$(pkg-config --cflags libsystemd))
SD_LIBS    := $(shell pkg-config --libs libsystemd 2>/dev/null)
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
CLI_CFLAGS := $(shell pkg-config --cflags $(CLI_PKGS) 2>/dev/null)
CLI_LIBS   := $(shell pkg-config --libs $(CLI_PKGS) 2>/dev/null)

WARN     := -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wno-format-nonliteral -Wstrict-prototypes \
            -Wno-format-truncation -Wno-unknown-warning-option
CFLAGS   ?= -O2 -g
ALL_CFLAGS = -std=gnu11 $(WARN) $(CPPFLAGS) $(CFLAGS) -Ilibcore/include -Itests/unit -DPROJECT_VERSION='"$(VERSION)"' \
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
UNITS_IN := $(wildcard systemd/*.service.in)

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

# vq-inspect --api-sock talks HTTP with libcurl: only it links it.
CURL_LIBS := $(shell pkg-config --libs libcurl 2>/dev/null)
$(BUILD)/vq-inspect $(BUILD)/asan/bin/vq-inspect: CLI_LIBS += $(CURL_LIBS)

BIN_TOOLS  := $(addprefix $(BUILD)/,$(TOOLS))
BIN_UNITS  := $(addprefix $(BUILD)/unit/,$(UNITS))
ASAN_UNITS := $(addprefix $(BUILD)/asan/unit/,$(UNITS))
BIN_FUZZ   := $(addprefix $(BUILD)/fuzz/,$(FUZZERS))
# The tools under ASan+UBSan (LeakSanitizer included): tests/cli/asan.bats runs their error paths.
ASAN_TOOLS := $(addprefix $(BUILD)/asan/bin/,$(TOOLS))
BIN_BENCH  := $(addprefix $(BUILD)/bench/,$(BENCHES))

.PHONY: all test-build deps check lint unit unit-asan cli lab fuzz bench demo install uninstall \
	clean format deb
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

$(BUILD)/cmd/mvm-run.o $(BUILD)/asan/cmd/mvm-run.o: ALL_CFLAGS += $(SD_CFLAGS)
$(BUILD)/mvm-run $(BUILD)/asan/bin/mvm-run: LDLIBS += $(SD_LIBS)

$(BUILD)/%: $(BUILD)/cmd/%.o $(CLI) $(LIB)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(CLI_LIBS) $(LDLIBS)

$(BUILD)/asan/bin/%: $(BUILD)/asan/cmd/%.o $(CLI_ASAN) $(LIB_ASAN)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(SAN) -o $@ $^ $(CLI_LIBS) $(LDLIBS)

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

# bench_virtq's peer: the kernel's vringh, built with tools/virtio's shims from Debian's
# linux-source (tests/bench/vringh/fetch keeps it in a cache outside the tree); foreign code, so
# its own flags (those of tools/virtio's Makefile).
VRINGH_CFLAGS := -O2 -g -Wall -Wno-maybe-uninitialized -Wno-unknown-warning-option -Wno-pointer-sign \
                 -fno-strict-overflow -fno-strict-aliasing -fno-common -U_FORTIFY_SOURCE
$(BUILD)/vringh/peer.a: tests/bench/vringh/vringh_peer.c tests/bench/vringh/vringh_peer.h \
		tests/bench/vringh/fetch
	@mkdir -p $(dir $@)
	src=$$(tests/bench/vringh/fetch) && \
	for f in $$src/drivers/vhost/vringh.c tests/bench/vringh/vringh_peer.c; do \
		$(CC) $(VRINGH_CFLAGS) -I$$src/tools/virtio -I$$src/tools/include \
			-include $$src/include/linux/kconfig.h -c $$f \
			-o $(dir $@)$$(basename $$f .c).o || exit 1; \
	done && \
	ar rcs $@ $(dir $@)vringh.o $(dir $@)vringh_peer.o
$(BUILD)/bench/bench_virtq: $(BUILD)/vringh/peer.a

# libFuzzer targets need clang; they link libcore built once with the fuzzer's coverage and
# ASan+UBSan (build/fuzz/obj/libcore.a). fuzz_vq_inspect includes the tool's own source and its
# CLI layer (tests/fuzz/fuzz_vq_inspect.c says how), so it also needs popt.
# -fno-sanitize-recover: undefined behaviour stops the run like a crash, whatever UBSAN_OPTIONS say.
FUZZ_CFLAGS := -std=gnu11 -g -O1 -Ilibcore/include -D_GNU_SOURCE -DPROJECT_VERSION='"$(VERSION)"' \
	-fno-sanitize-recover=all $(PKG_CFLAGS)
LIB_FUZZ := $(BUILD)/fuzz/obj/libcore.a

$(BUILD)/fuzz/obj/%.o: %.c
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link,address,undefined -MMD -MP -c -o $@ $<

$(LIB_FUZZ): $(patsubst %.c,$(BUILD)/fuzz/obj/%.o,$(LIB_SRC))
	rm -f $@ && $(AR) rcs $@ $^

$(BUILD)/fuzz/fuzz_vq_inspect: FUZZ_CFLAGS += -Icmd/common $(CLI_CFLAGS)
$(BUILD)/fuzz/fuzz_vq_inspect: FUZZ_LIBS := $(CLI_LIBS) $(CURL_LIBS)
$(BUILD)/fuzz/fuzz_vq_inspect: cmd/vq-inspect.c $(CLI_SRC)

$(BUILD)/fuzz/%: tests/fuzz/%.c $(LIB_FUZZ)
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -fsanitize=fuzzer,address,undefined -o $@ $< $(LIB_FUZZ) $(FUZZ_LIBS) \
		$(LDLIBS)

test-build: all $(BIN_UNITS) $(ASAN_UNITS) $(ASAN_TOOLS) $(BIN_FUZZ)

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
cli: all $(ASAN_TOOLS)
	@tests/run cli
lab: all
	@tests/run lab
# Longer than check's 30 s smoke: FUZZ_SECONDS per target (default 600), or FUZZ_EXECS=N
# executions per target however long they take (the campaign: FUZZ_EXECS=10000000). Each target's
# line gives the executions done, the seconds and the rate.
fuzz: $(BIN_FUZZ)
	@FUZZ_SECONDS=$${FUZZ_SECONDS:-600} tests/run fuzz

bench: deps
	@$(MAKE) --no-print-directory -j$$(nproc) all $(BIN_BENCH)
	@tests/bench/run

demo: deps
	@$(MAKE) --no-print-directory -j$$(nproc) all
	@tests/lab/demo

# The tools, their man pages and bash and zsh completions, and the systemd units (ExecStart names
# the installed tools).
install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1 \
		$(DESTDIR)$(PREFIX)/share/bash-completion/completions \
		$(DESTDIR)$(PREFIX)/share/zsh/vendor-completions $(DESTDIR)$(UNITDIR)
	install -m 755 $(BIN_TOOLS) $(DESTDIR)$(PREFIX)/bin/
	install -m 644 $(MANS) $(DESTDIR)$(PREFIX)/share/man/man1/
	for t in $(TOOLS); do \
		install -m 644 completions/bash/$$t $(DESTDIR)$(PREFIX)/share/bash-completion/completions/$$t; \
		install -m 644 completions/zsh/_$$t $(DESTDIR)$(PREFIX)/share/zsh/vendor-completions/_$$t; \
	done
	for u in $(UNITS_IN); do \
		sed 's|@BINDIR@|$(PREFIX)/bin|g' $$u >$(DESTDIR)$(UNITDIR)/$$(basename $$u .in) && \
		chmod 644 $(DESTDIR)$(UNITDIR)/$$(basename $$u .in) || exit 1; \
	done

uninstall:
	for t in $(TOOLS); do rm -f $(DESTDIR)$(PREFIX)/bin/$$t $(DESTDIR)$(PREFIX)/share/man/man1/$$t.1 \
		$(DESTDIR)$(PREFIX)/share/bash-completion/completions/$$t \
		$(DESTDIR)$(PREFIX)/share/zsh/vendor-completions/_$$t; done
	for u in $(UNITS_IN); do rm -f $(DESTDIR)$(UNITDIR)/$$(basename $$u .in); done

# The Debian package (debian/), built with debhelper from a copy of the sources in
# build/deb/src, so that dpkg-buildpackage writes nothing outside the tree; the .deb, its
# .buildinfo and .changes end up in build/deb/, then lintian checks them (its tags are errors
# unless debian/*.lintian-overrides explains them).
DEB_DIR := $(BUILD)/deb
DEB_SRC := $(DEB_DIR)/src/vfio-toolkit-$(VERSION)
deb:
	rm -rf $(DEB_DIR) && mkdir -p $(DEB_SRC)
	tar -cf - Makefile README.md cmd libcore man completions systemd debian | tar -xf - -C $(DEB_SRC)
	cd $(DEB_SRC) && dpkg-buildpackage -b -us -uc
	mv $(DEB_DIR)/src/*.deb $(DEB_DIR)/src/*.buildinfo $(DEB_DIR)/src/*.changes $(DEB_DIR)/
	lintian --fail-on error,warning,info \
		$(DEB_DIR)/*.changes

# The files tests/lint checks with clang-format --dry-run, formatted in place.
format:
	tests/lint --format-files | xargs clang-format -i

clean:
	rm -rf $(BUILD)

.SECONDARY:
-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
