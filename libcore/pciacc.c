/* pciacc.c: libpci's error callback for libcore, which jumps back out of the library. */
#include "pci_priv.h"

#include <stdarg.h>
#include <stdio.h>

jmp_buf pciacc_jmp;
char pciacc_errmsg[256];

static void __attribute__((noreturn)) pciacc_error_cb(char *msg, ...)
{
	va_list ap;

	va_start(ap, msg);
	vsnprintf(pciacc_errmsg, sizeof(pciacc_errmsg), msg, ap);
	va_end(ap);
	longjmp(pciacc_jmp, 1);
}

static void pciacc_quiet_cb(char *msg, ...)
{
	(void)msg;
}

struct pci_access *pciacc_alloc(void)
{
	struct pci_access *pacc = pci_alloc();

	if (!pacc)
		return NULL;
	pacc->error = pciacc_error_cb;
	pacc->warning = pciacc_quiet_cb;
	pacc->debug = pciacc_quiet_cb;
	return pacc;
}
