/*
 * cli.h: the command-line layer every tool shares (build/libcli.a, linked by the tools only):
 * common options, exit statuses, errors on stderr, parse-or-exit helpers. It prints and exits;
 * libcore never includes it.
 */
#ifndef CMD_CLI_H
#define CMD_CLI_H

#include <popt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "out.h"
#include "parse.h"

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
	int raw;
	int pairs;
	int noheadings;
	const char *output; /* --output COL,... */
	int verbose;
	int version;
	poptContext pc; /* cli_parse's, kept reachable until the tool frees it */
};

extern struct cli cli;

/*
 * The common popt table: --json, --raw, --pairs, --noheadings, --output, -v/--verbose,
 * --version; include it with POPT_AUTOHELP. At most one of --json, --raw and --pairs.
 */
extern struct poptOption cli_common_options[];
#define CLI_COMMON_TABLE                                                                           \
	{                                                                                          \
		NULL, '\0', POPT_ARG_INCLUDE_TABLE, cli_common_options, 0, "Common options:", NULL \
	}

/*
 * Parse argv with the tool's table (which must include CLI_COMMON_TABLE and POPT_AUTOHELP).
 * Handles --version and usage errors itself (exits 0 or 2). Returns the popt context, whose
 * leftover arguments are the positional ones; free it with cli_done().
 */
poptContext cli_parse(int argc, const char **argv, const struct poptOption *table,
		      const char *positional_help);

/* Free cli_parse's popt context (the positional arguments it returned go with it). */
void cli_done(void);
/* Free a POPT_ARG_ARGV array and its strings (popt leaves both to the caller). */
void cli_free_argv(char **v);
/* The tool's records on f in the format the common options chose (NULL: out of memory). */
struct out *cli_out(FILE *f);
/* Print what is left and free o; exit 2 when --output named a column that no record had. */
void cli_out_close(struct out *o);

/* "prog: what: why" on stderr. */
void cli_error(const char *what, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void cli_warn(const char *what, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* cli_error, then exit with status. */
void cli_die(int status, const char *what, const char *fmt, ...)
	__attribute__((format(printf, 3, 4), noreturn));
/* Print only with -v. */
void cli_verbose(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The parsers of parse.h, or exit 2 with "prog: what: 'value' is not a ...". */
uint64_t parse_u64_or_die(const char *what, const char *s);
uint64_t parse_size_or_die(const char *what, const char *s);

#endif
