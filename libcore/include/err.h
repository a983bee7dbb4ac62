/* err.h: how library code reports failure without printing: -errno plus a message. */
#ifndef CORE_ERR_H
#define CORE_ERR_H

#include <errno.h>
#include <stddef.h>

/*
 * Whose fault a failure is, decided by the function that knows: a tool maps ERR_INPUT to exit 2
 * and ERR_HOST to exit 1 without guessing from the errno (ENOMEM may be a kernel too large for
 * the guest's memory, or the host out of memory).
 */
enum err_kind {
	ERR_HOST,  /* the host failed: a system call, a KVM or VFIO ioctl, memory (the default) */
	ERR_INPUT, /* the caller's input was bad: a file, an image, a size, a configuration */
};

struct err {
	int code;	    /* positive errno, 0 when no error */
	enum err_kind kind; /* set with the message; err_prefix keeps it */
	char msg[512];	    /* "what: why", ready for "prog: %s" */
};

/* Fill e (may be NULL) as ERR_HOST and return -code: `return err_set(e, EINVAL, ...)`. */
int err_set(struct err *e, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* The same for bad input (ERR_INPUT). */
int err_input(struct err *e, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Prefix an existing message with more context ("what: " + old message). */
int err_prefix(struct err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * Copy the string src into dst (len bytes, always terminated) fit for a message on a terminal:
 * control bytes, DEL, bytes >= 0x80 and backslash as \xNN (\\ for backslash); cut short (never
 * mid-escape) when dst is too small. Returns dst.
 */
char *err_escape(char *dst, size_t len, const char *src);

#endif
