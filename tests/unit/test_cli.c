/*
 * test_cli.c: the tools' output path (cmd/common/out.c): one call set, printed as a table by
 * libsmartcols (text, raw, pairs, columns chosen) or as JSON that stays valid on any input.
 */
#include "check.h"
#include "out.h"

#include <errno.h>
#include <stdlib.h>

static char *render_opts(const struct out_opts *opts, void (*fn)(struct out *), int *rc)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	struct out *o = out_open(f, opts);

	fn(o);
	*rc = out_close(o);
	out_free(o);
	fclose(f);
	return buf;
}

static char *render(enum out_format format, bool noheadings, void (*fn)(struct out *))
{
	struct out_opts opts = { .format = format, .noheadings = noheadings };
	int rc;

	return render_opts(&opts, fn, &rc);
}

static void two_records(struct out *o)
{
	out_list_begin(o);
	for (int i = 0; i < 2; i++) {
		out_record_begin(o);
		out_str(o, "bdf", i ? "0000:00:05.0" : "0000:00:04.0");
		out_str(o, "driver", i ? NULL : "nv\"me");
		out_u64(o, "group", 4 + (uint64_t)i);
		out_hex(o, "class", 0x010802, 6);
		out_array_begin(o, "members");
		if (i)
			out_str(o, NULL, "a"), out_str(o, NULL, "b");
		out_array_end(o);
		out_object_begin(o, "extra");
		out_bool(o, "x", true);
		out_object_end(o);
		out_record_end(o);
	}
	out_list_end(o);
}

TEST(out_table_formats)
{
	char *t = render(OUT_TEXT, false, two_records);
	char *n = render(OUT_RAW, true, two_records);
	char *p = render(OUT_PAIRS, false, two_records);
	char *h = render(OUT_TEXT, true, two_records);

	/* a header, columns aligned; the object is JSON-only */
	CHECK_STR(t, "BDF          DRIVER GROUP CLASS    MEMBERS\n"
		     "0000:00:04.0 nv\"me  4     0x010802 -\n"
		     "0000:00:05.0 -      5     0x010802 a,b\n");
	/* --noheadings: aligned to the data alone, as if the header had never been there */
	CHECK_STR(h, "0000:00:04.0 nv\"me 4 0x010802 -\n0000:00:05.0 -     5 0x010802 a,b\n");
	/* --raw --noheadings: the lines the tools printed before they had a table */
	CHECK_STR(n, "0000:00:04.0 nv\"me 4 0x010802 -\n0000:00:05.0 - 5 0x010802 a,b\n");
	CHECK_STR(p, "BDF=\"0000:00:04.0\" DRIVER=\"nv\\x22me\" GROUP=\"4\" CLASS=\"0x010802\" "
		     "MEMBERS=\"-\"\n"
		     "BDF=\"0000:00:05.0\" DRIVER=\"-\" GROUP=\"5\" CLASS=\"0x010802\" "
		     "MEMBERS=\"a,b\"\n");
	free(t);
	free(n);
	free(p);
	free(h);
}

TEST(out_json_keeps_its_shape)
{
	char *j = render(OUT_JSON, false, two_records);

	CHECK_STR(j, "[{\"bdf\":\"0000:00:04.0\",\"driver\":\"nv\\\"me\",\"group\":4,"
		     "\"class\":\"0x010802\",\"members\":[],\"extra\":{\"x\":true}},"
		     "{\"bdf\":\"0000:00:05.0\",\"driver\":null,\"group\":5,\"class\":\"0x010802\","
		     "\"members\":[\"a\",\"b\"],\"extra\":{\"x\":true}}]\n");
	free(j);
}

TEST(out_columns_select_and_order)
{
	struct out_opts opts = { .format = OUT_TEXT, .columns = "group,BDF" };
	struct out_opts json = { .format = OUT_JSON, .columns = "group,BDF" };
	struct out_opts bad = { .format = OUT_RAW, .columns = "bdf,nosuch" };
	int rc;
	char *t = render_opts(&opts, two_records, &rc);

	CHECK_EQ_I(rc, 0);
	CHECK_STR(t, "GROUP BDF\n4     0000:00:04.0\n5     0000:00:05.0\n");
	free(t);
	t = render_opts(&json, two_records, &rc);
	CHECK_STR(
		t,
		"[{\"group\":4,\"bdf\":\"0000:00:04.0\"},{\"group\":5,\"bdf\":\"0000:00:05.0\"}]\n");
	free(t);
	t = render_opts(&bad, two_records, &rc);
	CHECK_EQ_I(rc, -EINVAL);
	CHECK_STR(t, "BDF\n0000:00:04.0\n0000:00:05.0\n");
	free(t);
}

/* key/value lines (no keys): one table, columns named by position */
static void kv_lines(struct out *o)
{
	static const char *const k[] = { "size", "avail" };

	for (int i = 0; i < 2; i++) {
		out_record_begin(o);
		out_str(o, NULL, k[i]);
		out_u64(o, NULL, 8u * (unsigned)(i + 1));
		out_record_end(o);
	}
	/* another shape: a table of its own */
	out_record_begin(o);
	out_str(o, NULL, "range");
	out_hex(o, NULL, 0, 0);
	out_hex(o, NULL, 0xfff, 0);
	out_record_end(o);
}

TEST(out_positional_records)
{
	char *t = render(OUT_TEXT, false, kv_lines);

	CHECK_STR(t, "FIELD VALUE\nsize  8\navail 16\nFIELD VALUE VALUE2\nrange 0x0   0xfff\n");
	free(t);
}

static void odd_bytes(struct out *o)
{
	out_record_begin(o);
	/* 0xff 0xfe are never UTF-8; 0xc0 0xaf is an overlong '/'; é (c3 a9) is valid */
	out_str(o, "driver", "nv\xff\xfe\x01me\xc0\xaf\xc3\xa9");
	out_record_end(o);
}

TEST(out_json_is_valid_on_any_bytes)
{
	char *j = render(OUT_JSON, false, odd_bytes);
	char *s = out_utf8_sanitize("\xed\xa0\x80\xf4\x90\x80\x80ok");

	/* RFC 8259 §7-8: control characters escaped, text UTF-8 only */
	CHECK_STR(j, "{\"driver\":\"nv\\\\xff\\\\xfe\\u0001me\\\\xc0\\\\xaf\xc3\xa9\"}\n");
	/* a UTF-16 surrogate (U+D800) and a code point past U+10FFFF are not UTF-8 either */
	CHECK_STR(s, "\\xed\\xa0\\x80\\xf4\\x90\\x80\\x80ok");
	free(j);
	free(s);
}

/* A tool that fails midway closes its output early: what was measured still prints, whole. */
static void list_cut_short(struct out *o)
{
	out_list_begin(o);
	out_record_begin(o);
	out_u64(o, "vector", 0);
	out_record_end(o);
}

TEST(out_close_finishes_an_open_list)
{
	char *j = render(OUT_JSON, false, list_cut_short);
	char *t = render(OUT_RAW, true, list_cut_short);

	CHECK_STR(j, "[{\"vector\":0}]\n");
	CHECK_STR(t, "0\n");
	free(j);
	free(t);
}

int main(void)
{
	RUN(out_table_formats);
	RUN(out_json_keeps_its_shape);
	RUN(out_columns_select_and_order);
	RUN(out_positional_records);
	RUN(out_json_is_valid_on_any_bytes);
	RUN(out_close_finishes_an_open_list);
	return CHECK_MAIN_END();
}
