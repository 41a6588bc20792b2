# kefu build. `make` builds build/release/kefu; `make asan` the sanitizer build;
# `make run` and `make test` install missing Debian packages first (scripts/install-deps).

BUILD   ?= build/release
PKGS    := libmicrohttpd jansson sqlite3 libpq libsodium libutf8proc icu-uc icu-i18n liboath libqrencode libical libcmark libmagic
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

CC      ?= cc
WARN    := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wformat=2 -Wvla -Wno-unused-parameter
CFLAGS  ?= -O2 -g
ifeq ($(SAN),1)
CFLAGS  := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
LDFLAGS += -fsanitize=address,undefined
endif
ALL_CFLAGS := -std=c17 -D_GNU_SOURCE $(WARN) $(CFLAGS) -Isrc -I$(BUILD)/gen $(PKG_CFLAGS) -MMD -MP
LIBS    := $(PKG_LIBS) -lcrack -lpthread -lm

SRC       := $(shell find src -name '*.c' | sort)
LIB_SRC   := $(filter-out src/main.c,$(SRC))
LIB_OBJ   := $(LIB_SRC:%.c=$(BUILD)/obj/%.o) $(BUILD)/obj/gen/embedded.o
EMBED_IN  := $(shell find src/store/migrations templates locale static -type f | sort) src/domain/common_passwords.txt
UNIT_SRC  := $(wildcard tests/unit/test_*.c)
UNIT_BIN  := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)

.PHONY: all asan run test unit bench clean check-style deps
all: check-style $(BUILD)/kefu $(UNIT_BIN) $(BUILD)/bench/fsync_loop $(BUILD)/bench/gen

$(BUILD)/kefu: $(BUILD)/obj/src/main.o $(BUILD)/libkefu.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)

$(BUILD)/libkefu.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

# Migrations (and later templates, static files, catalogues) are compiled into the binary.
$(BUILD)/gen/embedded.c: $(BUILD)/tools/embed $(EMBED_IN) $(BUILD)/gen/embed.list
	@mkdir -p $(dir $@)
	$(BUILD)/tools/embed $(EMBED_IN) > $@.tmp && mv $@.tmp $@

# The list of embedded files, rewritten only when it changes: a renamed or removed file must
# rebuild embedded.c even though no listed file is newer than it.
$(BUILD)/gen/embed.list: FORCE
	@mkdir -p $(dir $@)
	@echo '$(EMBED_IN)' | cmp -s - $@ || echo '$(EMBED_IN)' > $@

FORCE:

$(BUILD)/obj/gen/embedded.o: $(BUILD)/gen/embedded.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(BUILD)/tools/embed: tools/embed.c
	@mkdir -p $(dir $@)
	$(CC) -std=c17 -O1 $(WARN) -o $@ $<

$(BUILD)/tests/%: tests/unit/%.c tests/unit/harness.h $(BUILD)/libkefu.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Itests/unit -o $@ $< $(BUILD)/libkefu.a $(LDFLAGS) $(LIBS) -lcmocka

$(BUILD)/bench/fsync_loop: bench/fsync_loop.c
	@mkdir -p $(dir $@)
	$(CC) -std=c17 -D_GNU_SOURCE -O2 $(WARN) -o $@ $<

# The data generator of the million-request benchmarks (bench/gen.c): kefu's store and domain.
$(BUILD)/bench/gen: bench/gen.c $(BUILD)/libkefu.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $< $(BUILD)/libkefu.a $(LDFLAGS) $(LIBS)

check-style:
	@scripts/check-style

asan:
	$(MAKE) BUILD=build/asan SAN=1 all

deps:
	@scripts/install-deps

run: deps
	$(MAKE) all
	scripts/run

test: deps
	$(MAKE) all
	$(MAKE) asan
	scripts/test

bench: deps
	$(MAKE) all
	bench/run

clean:
	rm -rf build

-include $(shell find build -name '*.d' 2>/dev/null)
