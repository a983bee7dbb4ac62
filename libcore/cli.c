/* cli.c: common options, error reporting and number parsing shared by every tool. */
#include "cli.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

struct cli cli = { .prog = "tool" };

struct poptOption cli_common_options[] = {
	{ "json", 'j', POPT_ARG_NONE, &cli.json, 0, "print JSON instead of text lines", NULL },
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
	if (positional_help)
		poptSetOtherOptionHelp(pc, positional_help);
	while ((rc = poptGetNextOpt(pc)) > 0)
		; /* options with a val of their own are handled by the tool through its table */
	if (rc < -1) {
		fprintf(stderr, "%s: %s: %s\n", cli.prog, poptBadOption(pc, POPT_BADOPTION_NOALIAS),
			poptStrerror(rc));
		fprintf(stderr, "Try '%s --help' for more information.\n", cli.prog);
		poptFreeContext(pc);
		exit(EXIT_USAGE);
	}
	if (cli.version) {
		printf("%s %s\n", cli.prog, PROJECT_VERSION);
		poptFreeContext(pc);
		exit(EXIT_OK);
	}
	return pc;
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

/* Digits only (strtoull alone accepts signs, spaces and octal). */
static int parse_digits(const char *s, const char **end, uint64_t *out)
{
	unsigned base = 10;
	uint64_t v = 0;

	if (!s || !*s)
		return -EINVAL;
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		s += 2;
		if (!isxdigit((unsigned char)*s))
			return -EINVAL;
	} else if (!isdigit((unsigned char)*s)) {
		return -EINVAL;
	}
	for (; *s; s++) {
		unsigned d;

		if (isdigit((unsigned char)*s))
			d = (unsigned)(*s - '0');
		else if (base == 16 && isxdigit((unsigned char)*s))
			d = (unsigned)(tolower((unsigned char)*s) - 'a' + 10);
		else
			break;
		if (v > (UINT64_MAX - d) / base)
			return -ERANGE;
		v = v * base + d;
	}
	*end = s;
	*out = v;
	return 0;
}

int parse_u64(const char *s, uint64_t *out)
{
	const char *end;
	uint64_t v;
	int rc = parse_digits(s, &end, &v);

	if (rc)
		return rc;
	if (*end)
		return -EINVAL;
	*out = v;
	return 0;
}

int parse_u32(const char *s, uint32_t *out)
{
	uint64_t v;
	int rc = parse_u64(s, &v);

	if (rc)
		return rc;
	if (v > UINT32_MAX)
		return -ERANGE;
	*out = (uint32_t)v;
	return 0;
}

int parse_size(const char *s, uint64_t *out)
{
	static const char units[] = "KMGTPE";
	const char *end, *u;
	unsigned shift = 0;
	uint64_t v;
	int rc = parse_digits(s, &end, &v);

	if (rc)
		return rc;
	if (*end) {
		u = strchr(units, toupper((unsigned char)*end));
		if (!u)
			return -EINVAL;
		shift = 10 * (unsigned)(u - units + 1);
		end++;
		if (strcmp(end, "") && strcmp(end, "iB") && strcmp(end, "B"))
			return -EINVAL;
		if (v > (UINT64_MAX >> shift))
			return -ERANGE;
	}
	*out = v << shift;
	return 0;
}

static uint64_t parse_or_die(int (*fn)(const char *, uint64_t *), const char *what,
			     const char *s, const char *kind)
{
	uint64_t v;
	int rc = fn(s, &v);

	if (rc == -ERANGE)
		cli_die(EXIT_USAGE, what, "'%s' is too large", s);
	if (rc)
		cli_die(EXIT_USAGE, what, "'%s' is not %s", s, kind);
	return v;
}

uint64_t parse_u64_or_die(const char *what, const char *s)
{
	return parse_or_die(parse_u64, what, s, "a number (decimal or 0x hex)");
}

uint64_t parse_size_or_die(const char *what, const char *s)
{
	return parse_or_die(parse_size, what, s, "a size (e.g. 4096, 0x1000, 2M, 1G)");
}

const char *format_size(uint64_t bytes, char *buf, size_t len)
{
	static const char units[] = "KMGTPE";
	int i = -1;

	while (bytes && !(bytes & 1023) && i < 5) {
		bytes >>= 10;
		i++;
	}
	if (i < 0)
		snprintf(buf, len, "%" PRIu64, bytes);
	else
		snprintf(buf, len, "%" PRIu64 "%c", bytes, units[i]);
	return buf;
}
