/* test_cli.c: the tools' output path (cmd/common/out.c): text lines and JSON from one call set. */
#include "check.h"
#include "out.h"

#include <stdlib.h>

static char *render(bool json, void (*fn)(struct out *))
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	struct out *o = out_new(f, json);

	fn(o);
	out_free(o);
	fclose(f);
	return buf;
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

TEST(out_text_and_json)
{
	char *t = render(false, two_records), *j = render(true, two_records);

	CHECK_STR(t, "0000:00:04.0 nv\"me 4 0x010802 -\n0000:00:05.0 - 5 0x010802 a,b\n");
	CHECK_STR(j, "[{\"bdf\":\"0000:00:04.0\",\"driver\":\"nv\\\"me\",\"group\":4,"
		     "\"class\":\"0x010802\",\"members\":[],\"extra\":{\"x\":true}},"
		     "{\"bdf\":\"0000:00:05.0\",\"driver\":null,\"group\":5,\"class\":\"0x010802\","
		     "\"members\":[\"a\",\"b\"],\"extra\":{\"x\":true}}]\n");
	free(t);
	free(j);
}

int main(void)
{
	RUN(out_text_and_json);
	return CHECK_MAIN_END();
}
