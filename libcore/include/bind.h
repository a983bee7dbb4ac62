/* bind.h: planning and carrying out the move of PCI devices to vfio-pci and back, with rollback. */
#ifndef CORE_BIND_H
#define CORE_BIND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "bindstate.h"
#include "err.h"
#include "pcidev.h"
#include "sysfs.h"

#define BIND_MAX_TARGETS 64
#define BIND_DRIVER	 "vfio-pci"

enum bind_op { BIND_OP_BIND, BIND_OP_RESTORE };

enum bind_step_kind {
	BIND_STEP_MODPROBE, /* value: module */
	BIND_STEP_RECORD, /* path: state file; value: its line, "DRIVER [numvfs=N] [autoprobe=N]" */
	BIND_STEP_WRITE,  /* path: sysfs file; value: what is written */
	BIND_STEP_WAIT, /* value: the driver to wait for ("" none), plus /dev/vfio/N for vfio-pci */
	BIND_STEP_CHOWN,  /* path: /dev/vfio/N; value: "uid:gid" */
	BIND_STEP_FORGET, /* path: state file */
	BIND_STEP_SRIOV, /* path: sriov_numvfs or sriov_drivers_autoprobe of a PF; value: written */
};

struct bind_step {
	enum bind_step_kind kind;
	size_t target;
	char path[PATH_MAX];
	char value[128];
};

struct bind_target {
	struct pcidev *dev;
	char original[PCIDEV_NAME_MAX]; /* the driver to return to ("-" none, "" unknown) */
	char driver[PCIDEV_NAME_MAX];	/* bind: its vfio driver (vfio-pci or a variant) */
	char module[PCIDEV_NAME_MAX];	/* bind: the module providing it */
	int64_t numvfs;			/* a PF's sriov_numvfs to return to (-1: untouched) */
	int autoprobe;	  /* its sriov_drivers_autoprobe to return to (-1: untouched) */
	bool keep_driver; /* the PF of --vfs: its VFs change, its driver stays */
	bool vf;	  /* a VF that --vfs creates: recorded only once it exists */
	bool recorded;	  /* original came from the state file */
	bool noop;	  /* already where the operation would put it */
	bool touched;	  /* a write was made: roll back on failure */
};

struct bind_plan {
	enum bind_op op;
	struct bind_target t[BIND_MAX_TARGETS];
	size_t nt;
	struct bind_step *steps;
	size_t ns, cap;
	struct pcidev vf[BIND_MAX_TARGETS - 1]; /* the VFs of --vfs, at their predicted addresses */
};

struct bind_opts {
	int timeout_ms;
	bool have_owner;
	uid_t uid;
	gid_t gid;
	int sigfd;	    /* signalfd of the blocked signals that interrupt, -1 for none */
	const char *driver; /* the driver every target goes to (NULL: chosen by modules.alias) */
	bool zero_vfs;	    /* zero sriov_numvfs of a PF before binding it (recorded, restored) */
	unsigned vfs;	   /* create this many VFs on the one target, a PF, and bind them (0: no) */
	long fault_write;  /* testing: fail the Nth write with EIO (0: never) */
	long fault_signal; /* testing: raise SIGTERM before the Nth write (0: never) */
	long fault_hang;   /* testing: the Nth write blocks until the timeout (0: never) */
};

/* Names of the step kinds, as printed in plans. */
const char *bind_step_name(enum bind_step_kind k);

/*
 * Group handling. bind_expand_groups adds every endpoint (non-bridge) of the targets' IOMMU
 * groups. bind_check_viable fails (-EBUSY) when a group member outside the targets is bound
 * to a driver that makes the group not viable; the message names every such member.
 */
int bind_expand_groups(const struct pcidev_list *l, size_t *idx, size_t cap, size_t *n,
		       struct err *e);
int bind_check_viable(const struct pcidev_list *l, const size_t *idx, size_t n, struct err *e);
/*
 * Members of a group (addresses, in l's order), for error reports and --status: the devices of
 * l whose iommu_group libpci read as `group` (their iommu_group links); at most cap.
 */
void bind_group_members(const struct pcidev_list *l, int group, struct pci_addr *out, size_t cap,
			size_t *n);

/*
 * SR-IOV. bind_vf_addr: where the kernel puts VF i (from 0) of a PF (pci_iov_virtfn_bus and
 * _devfn): the PF's routing ID plus the First VF Offset and i times the VF Stride of its SR-IOV
 * capability (sysfs sriov_offset, sriov_stride). bind_expand_vfs adds, for each target whose
 * record holds SR-IOV settings, its VFs (virtfnN) that are recorded too: what a restore of the
 * PF must return before its sriov_numvfs goes back.
 */
int bind_vf_addr(const struct sysfs *s, const struct pcidev *pf, unsigned i, struct pci_addr *out,
		 struct err *e);
int bind_expand_vfs(const struct sysfs *s, const struct pcidev_list *l, const struct bindstate *st,
		    size_t *idx, size_t cap, size_t *n, struct err *e);

/* What vfio-pci can never take: a bridge, a device outside every IOMMU group. */
int bind_check_target(const struct pcidev *d, struct err *e);

/*
 * Pre-flight checks that refuse a bind unless forced: boot VGA device, a firmware framebuffer
 * over one of its BARs, device nodes held open or mounted, a network interface that is up.
 * Each problem is one line in *problems (malloc'd, '\n'-separated); returns their count.
 * Hard errors (bridges, no IOMMU group) return -errno.
 */
int bind_preflight(const struct sysfs *s, const struct pcidev *d, char **problems, struct err *e);

/* RLIMIT_MEMLOCK that USER gets (limits.conf, else this process's); RLIM_INFINITY as UINT64_MAX. */
uint64_t bind_memlock_limit(const char *user, const char **source);

/*
 * The vfio driver for a device, as userspace is meant to choose a vfio-pci variant driver: the
 * "alias vfio_pci:v...d...sv...sd...bc..sc..i.. MODULE" lines of modules.alias of the running
 * kernel (below the sysfs root) whose pattern matches the device's IDs (fnmatch); the most
 * specific one (fewest '*') wins; vfio_pci or no match gives vfio-pci. The module to load goes to
 * *module, the driver name (from /sys/module/MODULE/drivers when loaded, else the module name)
 * to *driver. A missing modules.alias is no error (vfio-pci).
 */
int bind_choose_driver(const struct sysfs *s, const struct pcidev *d, char *driver, char *module,
		       size_t len, struct err *e);
/*
 * The matching part, on modules.alias text: the module of the best vfio_pci: alias matching
 * modalias ("vfio_pci:v0000144Dd0000A808sv...bc01sc08i02"), or "" when none matches.
 */
void bind_alias_match(const char *aliases, const char *modalias, char *module, size_t len);
/* The vfio_pci: modalias of a device (subsystem IDs from sysfs, 0 when absent). */
void bind_modalias(const struct sysfs *s, const struct pcidev *d, char *buf, size_t len);

/* Processes holding the device's nodes open or mapping a BAR: one "; "-joined line, "" none. */
void bind_holders(const struct sysfs *s, const struct pcidev *d, char *buf, size_t len);

/*
 * Build the plan for the targets (state may be a read-only snapshot for --dry-run). With
 * o->vfs, the one target is a PF: the plan records its sriov_numvfs and sriov_drivers_autoprobe,
 * turns autoprobe off, sets sriov_numvfs (through 0 when it holds another nonzero count), and
 * binds each new VF; -ERANGE (ERR_INPUT) above sriov_totalvfs, -EINVAL (ERR_INPUT) for a device
 * that is not a PF. A restore returns the VFs first and the PFs' SR-IOV settings last.
 */
int bind_plan_build(struct bind_plan *p, enum bind_op op, const struct sysfs *s,
		    const struct bindstate *st, struct pcidev **targets, size_t n,
		    const struct bind_opts *o, struct err *e);
void bind_plan_free(struct bind_plan *p);

/*
 * Carry the plan out. On any failure or interrupting signal, every touched device is
 * returned to its original driver before returning -errno; rollback problems are appended
 * to the message.
 */
int bind_plan_run(struct bind_plan *p, const struct sysfs *s, struct bindstate *st,
		  const struct bind_opts *o, struct err *e);

/*
 * Does a uevent bear on a wait for the device bdf (IOMMU group `group`) to reach its driver?
 * Only the device's own "bind" or "unbind" (subsystem pci, sent by Linux since 4.14 once a
 * probe or a remove is over) or the "add" of its group's /dev/vfio/N (subsystem vfio, named N)
 * does; a wait reads sysfs again only then. NULL fields: false.
 */
bool bind_uevent_matters(const char *subsystem, const char *action, const char *sysname,
			 const char *bdf, int group);

/*
 * The plan that undoes a bind plan that ran: its changed targets back to their original drivers
 * (and their VFs back), the records dropped. For runs that bind, use, and restore in one process.
 */
int bind_plan_undo(struct bind_plan *undo, const struct bind_plan *done, const struct sysfs *s,
		   const struct bindstate *st, struct err *e);

#endif
