/* cli.h: the command-line layer every tool shares: common options, output, errors, parsers. */
#ifndef CORE_CLI_H
#define CORE_CLI_H

#include <popt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#ifndef PROJECT_VERSION
#define PROJECT_VERSION "0.1.0"
#endif

/* Exit statuses, the same for every tool. */
enum {
	EXIT_OK = 0,
	EXIT_FAIL = 1,	/* the operation failed */
	EXIT_USAGE = 2, /* bad usage or bad input */
};

/* State behind the common options. */
struct cli {
	const char *prog;
	int json;
	int verbose;
	int version;
};

extern struct cli cli;

/* The common popt table: --json, -v/--verbose, --version; include it with POPT_AUTOHELP. */
extern struct poptOption cli_common_options[];
#define CLI_COMMON_TABLE                                                                           \
	{ NULL, '\0', POPT_ARG_INCLUDE_TABLE, cli_common_options, 0, "Common options:", NULL }

/*
 * Parse argv with the tool's table (which must include CLI_COMMON_TABLE and POPT_AUTOHELP).
 * Handles --version and usage errors itself (exits 0 or 2). Returns the popt context, whose
 * leftover arguments are the positional ones; free it with poptFreeContext.
 */
poptContext cli_parse(int argc, const char **argv, const struct poptOption *table,
		      const char *positional_help);

/* "prog: what: why" on stderr. */
void cli_error(const char *what, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void cli_warn(const char *what, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* cli_error, then exit with status. */
void cli_die(int status, const char *what, const char *fmt, ...)
	__attribute__((format(printf, 3, 4), noreturn));
/* Print only with -v. */
void cli_verbose(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * Number parsers: decimal or 0x hex, with overflow checks. Return 0 or -EINVAL / -ERANGE.
 * parse_size also accepts the binary suffixes K M G T (optionally followed by "iB" or "B").
 */
int parse_u64(const char *s, uint64_t *out);
int parse_u32(const char *s, uint32_t *out);
int parse_size(const char *s, uint64_t *out);
/* Helpers for tools: parse or exit 2 with "prog: what: 'value' is not a ...". */
uint64_t parse_u64_or_die(const char *what, const char *s);
uint64_t parse_size_or_die(const char *what, const char *s);
/* Format a byte count as "2M", "1G", "4096" (exact binary units only). */
const char *format_size(uint64_t bytes, char *buf, size_t len);

/*
 * One output path for text and JSON (in the spirit of iproute2's print_*):
 * text mode prints each record as one line of space-separated fields ('-' for none), for awk;
 * JSON mode prints the records as objects, and a list of records as an array.
 * Nested arrays become one comma-separated field in text mode.
 */
struct out;
struct out *out_new(FILE *f, bool json);
void out_free(struct out *o);
void out_list_begin(struct out *o);   /* JSON: '[' */
void out_list_end(struct out *o);     /* JSON: ']' */
void out_record_begin(struct out *o); /* JSON: '{' */
void out_record_end(struct out *o);   /* text: newline; JSON: '}' */
void out_str(struct out *o, const char *key, const char *val); /* NULL: '-' / null */
void out_u64(struct out *o, const char *key, uint64_t val);
void out_i64(struct out *o, const char *key, int64_t val);
/* Hex: text "0x%0*llx"; JSON a string "0x..." so that 64-bit values survive any parser. */
void out_hex(struct out *o, const char *key, uint64_t val, int width);
void out_bool(struct out *o, const char *key, bool val);
void out_double(struct out *o, const char *key, double val, int decimals);
void out_null(struct out *o, const char *key);
void out_array_begin(struct out *o, const char *key);
void out_array_end(struct out *o);
/* JSON-only nesting (text mode skips everything inside). */
void out_object_begin(struct out *o, const char *key);
void out_object_end(struct out *o);

#endif
