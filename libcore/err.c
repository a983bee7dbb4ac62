/* err.c: error messages for library callers. */
#include "err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int err_vset(struct err *e, enum err_kind kind, int code, const char *fmt, va_list ap)
{
	if (code < 0)
		code = -code;
	if (e) {
		e->code = code;
		e->kind = kind;
		vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	}
	return -code;
}

int err_set(struct err *e, int code, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = err_vset(e, ERR_HOST, code, fmt, ap);
	va_end(ap);
	return rc;
}

int err_input(struct err *e, int code, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = err_vset(e, ERR_INPUT, code, fmt, ap);
	va_end(ap);
	return rc;
}

int err_prefix(struct err *e, const char *fmt, ...)
{
	char head[256], old[sizeof(e->msg)];
	va_list ap;

	if (!e)
		return -EIO;
	va_start(ap, fmt);
	vsnprintf(head, sizeof(head), fmt, ap);
	va_end(ap);
	memcpy(old, e->msg, sizeof(old));
	/* Truncation of an over-long message is acceptable. */
	size_t n = strlen(head);

	if (n > sizeof(e->msg) - 3)
		n = sizeof(e->msg) - 3;
	memcpy(e->msg, head, n);
	memcpy(e->msg + n, ": ", 2);
	memcpy(e->msg + n + 2, old, sizeof(e->msg) - n - 2);
	e->msg[sizeof(e->msg) - 1] = '\0';
	return -(e->code ? e->code : EIO);
}

char *err_escape(char *dst, size_t len, const char *src)
{
	size_t o = 0;

	if (!len)
		return dst;
	for (const unsigned char *p = (const unsigned char *)src; *p; p++) {
		char one[5];
		size_t n;

		if (*p == '\\')
			n = (size_t)snprintf(one, sizeof(one), "\\\\");
		else if (*p < 0x20 || *p >= 0x7f)
			n = (size_t)snprintf(one, sizeof(one), "\\x%02x", *p);
		else
			n = (size_t)snprintf(one, sizeof(one), "%c", *p);
		if (o + n >= len)
			break;
		memcpy(dst + o, one, n);
		o += n;
	}
	dst[o] = '\0';
	return dst;
}
