/* out.h: one output path for the tools' records, as text lines or JSON (build/libcli.a). */
#ifndef CMD_OUT_H
#define CMD_OUT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

/*
 * One output path for text and JSON (in the spirit of iproute2's print_*):
 * text mode prints each record as one line of space-separated fields ('-' for none), for awk;
 * JSON mode prints the records as objects, and a list of records as an array.
 * Nested arrays become one comma-separated field in text mode.
 */
struct out;
struct out *out_new(FILE *f, bool json);
void out_free(struct out *o);
void out_list_begin(struct out *o);			       /* JSON: '[' */
void out_list_end(struct out *o);			       /* JSON: ']' */
void out_record_begin(struct out *o);			       /* JSON: '{' */
void out_record_end(struct out *o);			       /* text: newline; JSON: '}' */
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
