/* pci_priv.h: libpci access for libcore/pci*.c, whose errors jump back instead of exiting. */
#ifndef CORE_PCI_PRIV_H
#define CORE_PCI_PRIV_H

#include <pci/pci.h>
#include <setjmp.h>

/*
 * libpci's error callback must not return, so it records the message and longjmps here.
 * Every entry point that calls into libpci does `if (setjmp(pciacc_jmp))` first.
 */
extern jmp_buf pciacc_jmp;
extern char pciacc_errmsg[256];

/* pci_alloc() with the jumping error callback and quiet warnings; NULL when out of memory. */
struct pci_access *pciacc_alloc(void);

#endif
