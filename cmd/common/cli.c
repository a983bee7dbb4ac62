/* cli.c: the common options, error reporting and parse-or-exit helpers every tool shares. */
#include "cli.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

struct cli cli = { .prog = "tool" };

struct poptOption cli_common_options[] = {
	{ "json", 'j', POPT_ARG_NONE, &cli.json, 0, "print JSON instead of a table", NULL },
	{ "raw", '\0', POPT_ARG_NONE, &cli.raw, 0, "print the table unaligned, one space apart",
	  NULL },
	{ "pairs", '\0', POPT_ARG_NONE, &cli.pairs, 0, "print each field as KEY=\"value\"", NULL },
	{ "noheadings", '\0', POPT_ARG_NONE, &cli.noheadings, 0, "print no header lines", NULL },
	{ "output", '\0', POPT_ARG_STRING, &cli.output, 0,
	  "print only these columns, in this order (the header's names)", "COL,..." },
	{ "verbose", 'v', POPT_ARG_NONE, &cli.verbose, 0, "explain what is being done", NULL },
	{ "version", 'V', POPT_ARG_NONE, &cli.version, 0, "print the version and exit", NULL },
	POPT_TABLEEND
};

poptContext cli_parse(int argc, const char **argv, const struct poptOption *table,
		      const char *positional_help)
{
	const char *slash = argc > 0 ? strrchr(argv[0], '/') : NULL;
	poptContext pc;
	int rc;

	cli.prog = argc > 0 ? (slash ? slash + 1 : argv[0]) : cli.prog;
	pc = poptGetContext(cli.prog, argc, argv, table, 0);
	/* reachable until the tool frees it: an early exit is no leak (LeakSanitizer) */
	cli.pc = pc;
	if (positional_help)
		poptSetOtherOptionHelp(pc, positional_help);
	while ((rc = poptGetNextOpt(pc)) > 0)
		; /* options with a val of their own are handled by the tool through its table */
	if (rc < -1) {
		/* one line, like every other error */
		fprintf(stderr, "%s: %s: %s (see '%s --help')\n", cli.prog,
			poptBadOption(pc, POPT_BADOPTION_NOALIAS), poptStrerror(rc), cli.prog);
		cli_done();
		exit(EXIT_USAGE);
	}
	if (cli.json + cli.raw + cli.pairs > 1) {
		fprintf(stderr, "%s: --json, --raw, --pairs: choose one\n", cli.prog);
		cli_done();
		exit(EXIT_USAGE);
	}
	if (cli.output && !*cli.output) {
		fprintf(stderr, "%s: --output: no column named\n", cli.prog);
		cli_done();
		exit(EXIT_USAGE);
	}
	if (cli.version) {
		printf("%s %s\n", cli.prog, PROJECT_VERSION);
		cli_done();
		exit(EXIT_OK);
	}
	return pc;
}

struct out *cli_out(FILE *f)
{
	struct out_opts opts = {
		.format = cli.json    ? OUT_JSON
			  : cli.raw   ? OUT_RAW
			  : cli.pairs ? OUT_PAIRS
				      : OUT_TEXT,
		.noheadings = cli.noheadings,
		.columns = cli.output,
	};

	return out_open(f, &opts);
}

void cli_out_close(struct out *o)
{
	if (out_close(o) == -EINVAL)
		cli_die(EXIT_USAGE, "--output", "no column '%s' (the header line names them)",
			out_unknown_column(o));
	out_free(o);
}

static void vmsg(const char *kind, const char *what, const char *fmt, va_list ap)
{
	fprintf(stderr, "%s: %s%s", cli.prog, kind, what ? what : "");
	if (fmt && *fmt) {
		fputs(what ? ": " : "", stderr);
		vfprintf(stderr, fmt, ap);
	}
	fputc('\n', stderr);
}

void cli_error(const char *what, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmsg("", what, fmt, ap);
	va_end(ap);
}

void cli_warn(const char *what, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmsg("warning: ", what, fmt, ap);
	va_end(ap);
}

void cli_die(int status, const char *what, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmsg("", what, fmt, ap);
	va_end(ap);
	exit(status);
}

void cli_verbose(const char *fmt, ...)
{
	va_list ap;

	if (!cli.verbose)
		return;
	fprintf(stderr, "%s: ", cli.prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static uint64_t parse_or_die(int (*fn)(const char *, uint64_t *), const char *what, const char *s,
			     const char *kind)
{
	uint64_t v;
	int rc = fn(s, &v);

	if (rc == -ERANGE)
		cli_die(EXIT_USAGE, what, "'%s' is too large", s);
	if (rc)
		cli_die(EXIT_USAGE, what, "'%s' is not %s", s, kind);
	return v;
}

void cli_done(void)
{
	if (cli.pc)
		poptFreeContext(cli.pc);
	cli.pc = NULL;
}

void cli_free_argv(char **v)
{
	for (char **p = v; p && *p; p++)
		free(*p);
	free(v);
}

uint64_t parse_u64_or_die(const char *what, const char *s)
{
	return parse_or_die(parse_u64, what, s, "a number (decimal or 0x hex)");
}

uint64_t parse_size_or_die(const char *what, const char *s)
{
	return parse_or_die(parse_size, what, s, "a size (e.g. 4096, 0x1000, 2M, 1G)");
}
