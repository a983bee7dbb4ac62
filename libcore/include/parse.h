/* parse.h: number and size parsers and the size formatter, for the library and the tools alike. */
#ifndef CORE_PARSE_H
#define CORE_PARSE_H

#include <stddef.h>
#include <stdint.h>

/*
 * Number parsers: decimal or 0x hex, digits only (no sign, space or octal), with overflow checks.
 * Return 0 or -EINVAL (not a number) / -ERANGE (too large); *out is untouched on error.
 * parse_size also accepts the binary suffixes K M G T P E (optionally followed by "iB" or "B").
 */
int parse_u64(const char *s, uint64_t *out);
int parse_u32(const char *s, uint32_t *out);
int parse_size(const char *s, uint64_t *out);
/* Format a byte count as "2M", "1G", "4096" (exact binary units only) into buf; returns buf. */
const char *format_size(uint64_t bytes, char *buf, size_t len);

#endif
