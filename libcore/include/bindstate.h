/* bindstate.h: the record of each device's original driver, kept so that binds can be undone. */
#ifndef CORE_BINDSTATE_H
#define CORE_BINDSTATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "pciaddr.h"
#include "pcidev.h"

#define BINDSTATE_DIR_DEFAULT "/run/vfio-bind"
#define BINDSTATE_NONE	      "-" /* recorded: the device had no driver */

struct bindstate_entry {
	char bdf[PCI_ADDR_STRLEN];
	char driver[PCIDEV_NAME_MAX]; /* BINDSTATE_NONE when there was none */
	int64_t numvfs;		      /* an SR-IOV PF's sriov_numvfs to return to, -1: none */
	int autoprobe;		      /* its sriov_drivers_autoprobe to return to, -1: none */
};

/*
 * The state lives in DIR/state, one "BDF DRIVER [numvfs=N] [autoprobe=0|1]" line per device
 * (the fields for a PF whose VFs vfio-bind changed), replaced atomically
 * (write to a temporary file, fsync, rename). DIR/lock is held with flock() from open to
 * close, so concurrent invocations take turns instead of interleaving.
 */
struct bindstate {
	char dir[256];
	int lock_fd;
	struct bindstate_entry *v;
	size_t n, cap;
};

/*
 * dir NULL: $VFIO_BIND_STATE_DIR, else /run/vfio-bind. Creates it (0755) and takes the lock;
 * read_only: creates nothing, takes a shared lock if the lock file exists, and an absent
 * state is an empty one.
 */
int bindstate_open(struct bindstate *st, const char *dir, bool read_only, struct err *e);
void bindstate_close(struct bindstate *st);
const struct bindstate_entry *bindstate_get(const struct bindstate *st, const char *bdf);
/* Record only when nothing is recorded yet: the first original is the one to return to. */
int bindstate_record(struct bindstate *st, const char *bdf, const char *driver, struct err *e);
/*
 * The same, with a PF's SR-IOV settings (-1: none); like the driver, the first recorded value of
 * each is kept, and one not yet recorded is added to an existing record.
 */
int bindstate_record_sriov(struct bindstate *st, const char *bdf, const char *driver,
			   int64_t numvfs, int autoprobe, struct err *e);
int bindstate_forget(struct bindstate *st, const char *bdf, struct err *e);

/* Parse/format the file's text (exposed for tests). Unparseable lines are an error. */
int bindstate_parse(struct bindstate *st, const char *text, struct err *e);
int bindstate_save(struct bindstate *st, struct err *e);

#endif
