/* out.h: one output path for the tools' records: a table (libsmartcols) or JSON (build/libcli.a).
 */
#ifndef CMD_OUT_H
#define CMD_OUT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

/*
 * One output path for every format (in the spirit of iproute2's print_* and util-linux's
 * libsmartcols tools): a tool hands over records as keyed fields, once, and the format decides
 * how they look.
 * - text: a table with a header line (the keys, upper case) and aligned columns; raw: the same,
 *   one space between fields (blanks inside a field as \x20); pairs: KEY="value" per field.
 *   Consecutive records with the same keys share a table; a record with other keys starts a new
 *   one (with its own header). A record whose first field has no key names its fields by
 *   position: FIELD, VALUE, VALUE2, ... Every empty or missing value reads '-'.
 *   An array directly in a record is one comma-separated field; an object is JSON-only.
 * - JSON: the records as objects, a list of records as an array, nesting kept as the tool made
 *   it; strings are always valid JSON: a byte that is not UTF-8 becomes the text \xNN.
 * The columns (--output) select and order a record's top-level fields in every format; a name
 * that no record has is an error when the output is closed.
 */
enum out_format {
	OUT_TEXT,
	OUT_RAW,
	OUT_PAIRS,
	OUT_JSON,
};

struct out_opts {
	enum out_format format;
	bool noheadings;
	const char *columns; /* "BDF,DRIVER" (any case), NULL for all */
};

struct out;
struct out *out_open(FILE *f, const struct out_opts *opts);
/* Text with headings, or JSON; all columns. */
struct out *out_new(FILE *f, bool json);
/*
 * Print what is still buffered and free. Returns 0, or -EINVAL when --output named a column
 * that no record had (out_unknown_column() says which).
 */
int out_close(struct out *o);
const char *out_unknown_column(const struct out *o);
/* out_close without the check, for output that is allowed to be empty. */
void out_free(struct out *o);

void out_list_begin(struct out *o);			       /* JSON: '[' */
void out_list_end(struct out *o);			       /* JSON: ']'; text: table printed */
void out_record_begin(struct out *o);			       /* JSON: '{' */
void out_record_end(struct out *o);			       /* text: one table row; JSON: '}' */
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
/* JSON-only nesting (text formats skip everything inside). */
void out_object_begin(struct out *o, const char *key);
void out_object_end(struct out *o);

/* s with every byte that is not part of valid UTF-8 written as \xNN; malloc'd (NULL: ENOMEM). */
char *out_utf8_sanitize(const char *s);

#endif
