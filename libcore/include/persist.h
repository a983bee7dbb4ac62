/* persist.h: persistent claims, udev rules that send devices to their vfio driver on add. */
#ifndef CORE_PERSIST_H
#define CORE_PERSIST_H

#include <stdbool.h>
#include <stddef.h>

#include "err.h"
#include "pciaddr.h"
#include "pcidev.h"

#define PERSIST_DIR_DEFAULT "/etc/udev/rules.d"
/*
 * Before 80-drivers.rules (which loads the modules a new device's modalias names), so the
 * override is in place before a host driver module can probe the device.
 */
#define PERSIST_FILE "05-vfio-bind.rules"

struct persist_entry {
	char bdf[PCI_ADDR_STRLEN];
	char driver[PCIDEV_NAME_MAX]; /* vfio-pci or a variant driver */
	bool force;		      /* the rule's bind passes --force (a boot display) */
};

/*
 * The file holds one rule per device, each on one line: on "add" of that PCI device, write
 * driver_override (so no host driver that loads later takes it) and run vfio-bind (which
 * unbinds a driver that took it already, as one built in or loaded by the initramfs does).
 * Only vfio-bind writes the file: any other line is an error, not silently dropped.
 */
struct persist {
	char path[300];
	struct persist_entry *v;
	size_t n, cap;
};

/* dir NULL: $VFIO_BIND_RULES_DIR, else /etc/udev/rules.d. A missing file is no claim. */
int persist_open(struct persist *p, const char *dir, struct err *e);
void persist_close(struct persist *p);
const struct persist_entry *persist_get(const struct persist *p, const char *bdf);
/* Add or replace a device's claim (in memory; persist_save writes it). */
int persist_set(struct persist *p, const char *bdf, const char *driver, bool force, struct err *e);
/* Drop a device's claim; returns whether it had one. */
bool persist_unset(struct persist *p, const char *bdf);
/*
 * Replace the file atomically; exe is the vfio-bind each rule runs (an absolute path). With no
 * claim left the file is removed.
 */
int persist_save(const struct persist *p, const char *exe, struct err *e);

/* The file's text from the claims, and back (exposed for tests); len 0 on overflow. */
size_t persist_format(const struct persist *p, const char *exe, char *buf, size_t len);
int persist_parse(struct persist *p, const char *text, struct err *e);

#endif
