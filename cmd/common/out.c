/* out.c: one output path that prints records as text lines or as JSON. */
#include "out.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define OUT_MAX_DEPTH 16

struct out {
	FILE *f;
	bool json;
	int depth;
	bool first[OUT_MAX_DEPTH]; /* no member printed yet at this level */
	bool is_array[OUT_MAX_DEPTH];
	int text_fields;      /* fields already on the current text line */
	int text_array_items; /* items in the open text-mode array field, -1 when none */
	int text_skip;	      /* depth of JSON-only objects being skipped in text mode */
	bool text_list;	      /* top-level list open in text mode */
};

struct out *out_new(FILE *f, bool json)
{
	struct out *o = calloc(1, sizeof(*o));

	if (!o)
		return NULL;
	o->f = f;
	o->json = json;
	o->text_array_items = -1;
	return o;
}

void out_free(struct out *o)
{
	if (o)
		fflush(o->f);
	free(o);
}

static void json_string(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c == '\n')
			fputs("\\n", f);
		else if (c == '\t')
			fputs("\\t", f);
		else if (c < 0x20)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

/* Separator and key before a JSON value. */
static void json_member(struct out *o, const char *key)
{
	if (o->depth > 0) {
		if (!o->first[o->depth - 1])
			fputc(',', o->f);
		o->first[o->depth - 1] = false;
		if (key && !o->is_array[o->depth - 1]) {
			json_string(o->f, key);
			fputc(':', o->f);
		}
	}
}

static void json_open(struct out *o, const char *key, char c, bool array)
{
	json_member(o, key);
	fputc(c, o->f);
	if (o->depth < OUT_MAX_DEPTH) {
		o->first[o->depth] = true;
		o->is_array[o->depth] = array;
	}
	o->depth++;
}

static void json_close(struct out *o, char c)
{
	fputc(c, o->f);
	if (o->depth > 0)
		o->depth--;
	if (o->depth == 0)
		fputc('\n', o->f);
}

/* Text mode: a separator before each field, or before each item of an array field. */
static void text_sep(struct out *o)
{
	if (o->text_array_items >= 0) {
		if (o->text_array_items++ > 0)
			fputc(',', o->f);
		return;
	}
	if (o->text_fields++ > 0)
		fputc(' ', o->f);
}

/* Print one scalar already formatted for JSON (raw) and for text. */
static void scalar(struct out *o, const char *key, const char *json_raw, const char *text)
{
	if (o->json) {
		json_member(o, key);
		fputs(json_raw, o->f);
	} else if (!o->text_skip) {
		text_sep(o);
		fputs(text, o->f);
	}
}

void out_list_begin(struct out *o)
{
	if (o->json)
		json_open(o, NULL, '[', true);
	else
		o->text_list = true;
}

void out_list_end(struct out *o)
{
	if (o->json)
		json_close(o, ']');
	o->text_list = false;
	fflush(o->f);
}

void out_record_begin(struct out *o)
{
	if (o->json)
		json_open(o, NULL, '{', false);
	o->text_fields = 0;
}

void out_record_end(struct out *o)
{
	if (o->json)
		json_close(o, '}');
	else
		fputc('\n', o->f);
}

void out_str(struct out *o, const char *key, const char *val)
{
	if (!val || !*val) {
		if (o->json) {
			json_member(o, key);
			fputs(val ? "\"\"" : "null", o->f);
		} else if (!o->text_skip) {
			text_sep(o);
			fputc('-', o->f);
		}
		return;
	}
	if (o->json) {
		json_member(o, key);
		json_string(o->f, val);
	} else if (!o->text_skip) {
		text_sep(o);
		fputs(val, o->f);
	}
}

void out_u64(struct out *o, const char *key, uint64_t val)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%" PRIu64, val);
	scalar(o, key, buf, buf);
}

void out_i64(struct out *o, const char *key, int64_t val)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%" PRId64, val);
	scalar(o, key, buf, buf);
}

void out_hex(struct out *o, const char *key, uint64_t val, int width)
{
	char buf[40], quoted[44];

	snprintf(buf, sizeof(buf), "0x%0*" PRIx64, width, val);
	snprintf(quoted, sizeof(quoted), "\"%s\"", buf);
	scalar(o, key, quoted, buf);
}

void out_bool(struct out *o, const char *key, bool val)
{
	scalar(o, key, val ? "true" : "false", val ? "yes" : "no");
}

void out_double(struct out *o, const char *key, double val, int decimals)
{
	char buf[64];

	snprintf(buf, sizeof(buf), "%.*f", decimals, val);
	scalar(o, key, buf, buf);
}

void out_null(struct out *o, const char *key)
{
	scalar(o, key, "null", "-");
}

void out_array_begin(struct out *o, const char *key)
{
	if (o->json)
		json_open(o, key, '[', true);
	else if (!o->text_skip) {
		text_sep(o);
		o->text_array_items = 0;
	}
}

void out_array_end(struct out *o)
{
	if (o->json) {
		json_close(o, ']');
	} else if (!o->text_skip) {
		if (o->text_array_items == 0)
			fputc('-', o->f);
		o->text_array_items = -1;
	}
}

void out_object_begin(struct out *o, const char *key)
{
	if (o->json)
		json_open(o, key, '{', false);
	else
		o->text_skip++;
}

void out_object_end(struct out *o)
{
	if (o->json)
		json_close(o, '}');
	else if (o->text_skip > 0)
		o->text_skip--;
}
