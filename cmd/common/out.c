/* out.c: the tools' records, buffered as a table, printed by libsmartcols or as JSON by json-c. */
#include "out.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <libsmartcols/libsmartcols.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define OUT_MAX_DEPTH	16
#define OUT_MAX_COLUMNS 64

/* One top-level field of a record: its key, and its text (NULL: JSON-only, not a column). */
struct out_cell {
	char *key;
	char *text;
};

struct out_row {
	struct out_cell *cells;
	size_t n;
};

struct out {
	FILE *f;
	struct out_opts opts;
	char *wanted[OUT_MAX_COLUMNS]; /* --output, lower case */
	bool wanted_seen[OUT_MAX_COLUMNS];
	size_t n_wanted;
	const char *unknown;

	/* JSON containers: [0] the list or the record, deeper the arrays and objects in it. */
	struct json_object *stack[OUT_MAX_DEPTH];
	int depth;
	int record_depth; /* depth of the open record's object, -1 when none */
	bool positional;  /* the open record's first field had no key */
	struct out_row row;
	char *cell; /* text of the array being filled at the record's top level */
	size_t cell_items;
	int cell_depth; /* depth of that array, -1 when none */

	/* Finished rows waiting for their table (text formats). */
	struct out_row *rows;
	size_t n_rows;
};

static const char *const positional_keys[] = { "field",	 "value",  "value2", "value3",
					       "value4", "value5", "value6", "value7" };

static bool utf8_seq_len(const unsigned char *s, size_t *len)
{
	unsigned int c = s[0], cp;
	size_t n, i;

	if (c < 0x80) {
		*len = 1;
		return true;
	}
	if (c >= 0xc2 && c <= 0xdf)
		n = 2, cp = c & 0x1f;
	else if (c >= 0xe0 && c <= 0xef)
		n = 3, cp = c & 0x0f;
	else if (c >= 0xf0 && c <= 0xf4)
		n = 4, cp = c & 0x07;
	else
		return false;
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return false;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	/* Overlong forms, UTF-16 surrogates and code points past U+10FFFF are not UTF-8. */
	if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return false;
	*len = n;
	return true;
}

char *out_utf8_sanitize(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	char *r = malloc(strlen(s) * 4 + 1), *w = r;
	size_t len;

	if (!r)
		return NULL;
	while (*p) {
		if (utf8_seq_len(p, &len)) {
			memcpy(w, p, len);
			w += len;
			p += len;
		} else {
			w += sprintf(w, "\\x%02x", *p++);
		}
	}
	*w = '\0';
	return r;
}

static char *xstrdup(const char *s)
{
	char *r = strdup(s);

	if (!r)
		abort(); /* the tools have no useful way on without memory */
	return r;
}

static void parse_columns(struct out *o, const char *list)
{
	char *copy = xstrdup(list), *save = NULL;

	for (char *t = strtok_r(copy, ",", &save); t && o->n_wanted < OUT_MAX_COLUMNS;
	     t = strtok_r(NULL, ",", &save)) {
		for (char *c = t; *c; c++)
			*c = (char)tolower((unsigned char)*c);
		o->wanted[o->n_wanted++] = xstrdup(t);
	}
	free(copy);
}

struct out *out_open(FILE *f, const struct out_opts *opts)
{
	struct out *o = calloc(1, sizeof(*o));

	if (!o)
		return NULL;
	o->f = f;
	o->opts = *opts;
	o->opts.columns = NULL;
	if (opts->columns && *opts->columns)
		parse_columns(o, opts->columns);
	o->record_depth = -1;
	o->cell_depth = -1;
	return o;
}

struct out *out_new(FILE *f, bool json)
{
	struct out_opts opts = { .format = json ? OUT_JSON : OUT_TEXT };

	return out_open(f, &opts);
}

static void row_free(struct out_row *r)
{
	for (size_t i = 0; i < r->n; i++) {
		free(r->cells[i].key);
		free(r->cells[i].text);
	}
	free(r->cells);
	r->cells = NULL;
	r->n = 0;
}

static bool same_shape(const struct out_row *a, const struct out_row *b)
{
	if (a->n != b->n)
		return false;
	for (size_t i = 0; i < a->n; i++)
		if (strcmp(a->cells[i].key, b->cells[i].key) ||
		    !a->cells[i].text != !b->cells[i].text)
			return false;
	return true;
}

/* The columns of a table: indexes into its rows' cells, in --output order when given. */
static size_t table_columns(struct out *o, const struct out_row *r, size_t *idx)
{
	size_t n = 0;

	if (!o->n_wanted) {
		for (size_t i = 0; i < r->n; i++)
			if (r->cells[i].text)
				idx[n++] = i;
		return n;
	}
	for (size_t w = 0; w < o->n_wanted; w++)
		for (size_t i = 0; i < r->n; i++)
			if (r->cells[i].text && !strcasecmp(o->wanted[w], r->cells[i].key)) {
				o->wanted_seen[w] = true;
				idx[n++] = i;
				break;
			}
	return n;
}

static void column_name(const char *key, char *name, size_t size)
{
	size_t i;

	for (i = 0; key[i] && i + 1 < size; i++)
		name[i] = (char)toupper((unsigned char)key[i]);
	name[i] = '\0';
}

static void table_print(struct out *o)
{
	struct libscols_table *tb;
	size_t idx[OUT_MAX_COLUMNS], n;

	if (!o->n_rows)
		return;
	n = table_columns(o, &o->rows[0], idx);
	tb = n ? scols_new_table() : NULL;
	if (tb) {
		scols_table_set_stream(tb, o->f);
		scols_table_enable_raw(tb, o->opts.format == OUT_RAW);
		scols_table_enable_export(tb, o->opts.format == OUT_PAIRS);
		scols_table_enable_shellvar(tb, o->opts.format == OUT_PAIRS);
		scols_table_enable_noheadings(tb, o->opts.noheadings);
		for (size_t c = 0; c < n; c++) {
			char name[64];

			/* libsmartcols sizes a column to its header even when none is printed */
			if (o->opts.noheadings && o->opts.format != OUT_PAIRS)
				name[0] = '\0';
			else
				column_name(o->rows[0].cells[idx[c]].key, name, sizeof(name));
			scols_table_new_column(tb, name, 0, 0);
		}
		for (size_t r = 0; r < o->n_rows; r++) {
			struct libscols_line *ln = scols_table_new_line(tb, NULL);

			for (size_t c = 0; ln && c < n; c++)
				scols_line_set_data(ln, c, o->rows[r].cells[idx[c]].text);
		}
		fflush(o->f);
		scols_print_table(tb);
		scols_unref_table(tb);
	}
	for (size_t r = 0; r < o->n_rows; r++)
		row_free(&o->rows[r]);
	free(o->rows);
	o->rows = NULL;
	o->n_rows = 0;
	fflush(o->f);
}

static void rows_add(struct out *o, struct out_row *r)
{
	struct out_row *rows;

	if (o->n_rows && !same_shape(&o->rows[0], r))
		table_print(o);
	rows = realloc(o->rows, (o->n_rows + 1) * sizeof(*rows));
	if (!rows)
		abort();
	o->rows = rows;
	o->rows[o->n_rows++] = *r;
	r->cells = NULL;
	r->n = 0;
}

static void json_print(struct out *o, struct json_object *j)
{
	fputs(json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN |
							JSON_C_TO_STRING_NOSLASHESCAPE),
	      o->f);
	fputc('\n', o->f);
	fflush(o->f);
}

/* The record's JSON object with only the --output fields, in that order. */
static struct json_object *json_select(struct out *o, struct json_object *rec)
{
	struct json_object *sel, *v;

	if (!o->n_wanted)
		return rec;
	sel = json_object_new_object();
	for (size_t w = 0; w < o->n_wanted; w++) {
		json_object_object_foreach(rec, key, val)
		{
			if (strcasecmp(key, o->wanted[w]))
				continue;
			v = val;
			o->wanted_seen[w] = true;
			json_object_object_add(sel, key, json_object_get(v));
			break;
		}
	}
	json_object_put(rec);
	return sel;
}

static void cell_append(struct out *o, const char *text)
{
	size_t old = o->cell ? strlen(o->cell) : 0;
	char *c = realloc(o->cell, old + strlen(text) + 2);

	if (!c)
		abort();
	if (o->cell_items++)
		c[old++] = ',';
	strcpy(c + old, text);
	o->cell = c;
}

static void row_append(struct out *o, const char *key, const char *text)
{
	struct out_cell *cells = realloc(o->row.cells, (o->row.n + 1) * sizeof(*cells));

	if (!cells)
		abort();
	o->row.cells = cells;
	cells[o->row.n].key = xstrdup(key);
	cells[o->row.n].text = text ? xstrdup(text) : NULL;
	o->row.n++;
}

/* The name a member gets: its key, or its position in a record of positional fields. */
static const char *member_key(struct out *o, const char *key)
{
	if (o->depth - 1 != o->record_depth)
		return key;
	if (o->row.n == 0)
		o->positional = !key;
	if (o->positional)
		return o->row.n < sizeof(positional_keys) / sizeof(positional_keys[0])
			       ? positional_keys[o->row.n]
			       : "value";
	return key;
}

/*
 * Add one value, j for JSON and text for the text formats (NULL: JSON-only), to the innermost
 * open container.
 */
static void add(struct out *o, const char *key, struct json_object *j, const char *text)
{
	struct json_object *top;
	const char *k;

	if (o->depth == 0 || o->depth > OUT_MAX_DEPTH) {
		json_object_put(j);
		return;
	}
	k = member_key(o, key);
	top = o->stack[o->depth - 1];
	if (json_object_is_type(top, json_type_array))
		json_object_array_add(top, j);
	else
		json_object_object_add(top, k ? k : "", j);
	if (o->depth - 1 == o->record_depth && k)
		row_append(o, k, text);
	else if (o->depth - 1 == o->cell_depth && text)
		cell_append(o, text);
}

static void push(struct out *o, struct json_object *j)
{
	if (o->depth < OUT_MAX_DEPTH)
		o->stack[o->depth] = j;
	o->depth++;
}

void out_list_begin(struct out *o)
{
	table_print(o);
	if (o->depth == 0)
		push(o, json_object_new_array());
}

void out_list_end(struct out *o)
{
	if (o->depth != 1 || o->record_depth >= 0)
		return;
	if (o->opts.format == OUT_JSON)
		json_print(o, o->stack[0]);
	json_object_put(o->stack[0]);
	o->depth = 0;
	table_print(o);
}

void out_record_begin(struct out *o)
{
	if (o->record_depth >= 0 || o->depth >= OUT_MAX_DEPTH)
		return;
	o->record_depth = o->depth;
	o->positional = false;
	push(o, json_object_new_object());
}

void out_record_end(struct out *o)
{
	struct json_object *rec;

	if (o->record_depth < 0 || o->depth != o->record_depth + 1)
		return;
	rec = json_select(o, o->stack[o->record_depth]);
	o->depth = o->record_depth;
	o->record_depth = -1;
	if (o->depth > 0) {
		json_object_array_add(o->stack[0], rec);
	} else {
		if (o->opts.format == OUT_JSON)
			json_print(o, rec);
		json_object_put(rec);
	}
	if (o->opts.format == OUT_JSON)
		row_free(&o->row);
	else
		rows_add(o, &o->row);
}

void out_str(struct out *o, const char *key, const char *val)
{
	char *clean;

	if (!val) {
		add(o, key, NULL, "-");
		return;
	}
	clean = out_utf8_sanitize(val);
	if (!clean)
		abort();
	add(o, key, json_object_new_string(clean), *val ? val : "-");
	free(clean);
}

void out_u64(struct out *o, const char *key, uint64_t val)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%" PRIu64, val);
	add(o, key, json_object_new_uint64(val), buf);
}

void out_i64(struct out *o, const char *key, int64_t val)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%" PRId64, val);
	add(o, key, json_object_new_int64(val), buf);
}

void out_hex(struct out *o, const char *key, uint64_t val, int width)
{
	char buf[40];

	snprintf(buf, sizeof(buf), "0x%0*" PRIx64, width, val);
	add(o, key, json_object_new_string(buf), buf);
}

void out_bool(struct out *o, const char *key, bool val)
{
	add(o, key, json_object_new_boolean(val), val ? "yes" : "no");
}

void out_double(struct out *o, const char *key, double val, int decimals)
{
	char buf[64];

	snprintf(buf, sizeof(buf), "%.*f", decimals, val);
	add(o, key, json_object_new_double_s(val, buf), buf);
}

void out_null(struct out *o, const char *key)
{
	add(o, key, NULL, "-");
}

void out_array_begin(struct out *o, const char *key)
{
	struct json_object *a = json_object_new_array();
	bool in_record = o->depth - 1 == o->record_depth;

	/* Referenced by the container and the stack until out_array_end. */
	add(o, key, json_object_get(a), NULL);
	if (in_record) {
		o->cell_depth = o->depth;
		o->cell_items = 0;
	}
	push(o, a);
}

void out_array_end(struct out *o)
{
	if (o->depth == 0)
		return;
	o->depth--;
	if (o->depth < OUT_MAX_DEPTH)
		json_object_put(o->stack[o->depth]);
	if (o->depth == o->cell_depth) {
		/* The cell was added as JSON-only: give the record's last field its text now. */
		if (o->row.n && !o->row.cells[o->row.n - 1].text)
			o->row.cells[o->row.n - 1].text = xstrdup(o->cell ? o->cell : "-");
		free(o->cell);
		o->cell = NULL;
		o->cell_depth = -1;
	}
}

void out_object_begin(struct out *o, const char *key)
{
	struct json_object *obj = json_object_new_object();

	add(o, key, json_object_get(obj), NULL);
	push(o, obj);
}

void out_object_end(struct out *o)
{
	if (o->depth == 0)
		return;
	o->depth--;
	if (o->depth < OUT_MAX_DEPTH)
		json_object_put(o->stack[o->depth]);
}

int out_close(struct out *o)
{
	int rc = 0;

	if (!o)
		return 0;
	/* A list left open (a tool that failed midway) still ends as a whole JSON array. */
	if (o->depth == 1 && o->record_depth < 0)
		out_list_end(o);
	table_print(o);
	for (size_t i = 0; i < o->n_wanted; i++)
		if (!o->wanted_seen[i] && !o->unknown) {
			o->unknown = o->wanted[i];
			rc = -EINVAL;
		}
	return rc;
}

const char *out_unknown_column(const struct out *o)
{
	return o->unknown;
}

void out_free(struct out *o)
{
	if (!o)
		return;
	out_close(o);
	for (int i = 0; i < o->depth && i < OUT_MAX_DEPTH; i++)
		json_object_put(o->stack[i]);
	row_free(&o->row);
	free(o->cell);
	for (size_t i = 0; i < o->n_wanted; i++)
		free(o->wanted[i]);
	fflush(o->f);
	free(o);
}
