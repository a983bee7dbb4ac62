/* err.h: how library code reports failure without printing: -errno plus a message. */
#ifndef CORE_ERR_H
#define CORE_ERR_H

#include <errno.h>

struct err {
	int code;	/* positive errno, 0 when no error */
	char msg[512];	/* "what: why", ready for "prog: %s" */
};

/* Fill e (may be NULL) and return -code, so that `return err_set(e, EINVAL, ...)` reads well. */
int err_set(struct err *e, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Prefix an existing message with more context ("what: " + old message). */
int err_prefix(struct err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
