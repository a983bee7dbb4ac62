/* vmconfig.h: what a microVM is made of (kernel, memory, CPUs, devices), from options or JSON. */
#ifndef CORE_VMCONFIG_H
#define CORE_VMCONFIG_H

#include <stdbool.h>
#include <stdint.h>

#include "dma.h"
#include "err.h"

#define VMCONFIG_MAX_DISKS	8
#define VMCONFIG_MAX_NETS	4
#define VMCONFIG_MAX_VFIO	8
#define VMCONFIG_MAX_FILE_BYTES (1u << 20) /* a --config file larger than 1 MiB is refused */

/* Firecracker's io_engine: "Sync" (the default) or "Async" (io_uring). */
enum vmconfig_io_engine { VMCONFIG_IO_SYNC, VMCONFIG_IO_ASYNC };

struct vmconfig_disk {
	char *path;
	bool read_only;
	bool root; /* Firecracker's is_root_device: first disk, root=/dev/vda on the command line */
	enum vmconfig_io_engine io_engine;
	char *id;
};

struct vmconfig_net {
	char *tap;
	uint8_t mac[6];
	bool has_mac;
	char *id;
};

enum vmconfig_console { VMCONFIG_CONSOLE_STDIO, VMCONFIG_CONSOLE_NONE, VMCONFIG_CONSOLE_FILE };

struct vmconfig {
	char *kernel;
	char *initrd;
	char *cmdline; /* NULL: the default command line */
	uint64_t mem_bytes;
	enum dma_backing mem_backing; /* machine-config.huge_pages / --huge-pages */
	/* --prefault: threads that fault guest RAM in before the guest runs, or
	 * VMCONFIG_PREFAULT_AUTO, VMCONFIG_PREFAULT_OFF */
	int prefault_threads;
	unsigned cpus;
	unsigned nr_disks, nr_nets;
	struct vmconfig_disk disk[VMCONFIG_MAX_DISKS];
	struct vmconfig_net net[VMCONFIG_MAX_NETS];
	bool rng;
	/* virtio-vsock (Firecracker's "vsock"): the guest's CID and the host's Unix socket. */
	bool vsock;
	uint64_t vsock_cid;
	char *vsock_uds;
	unsigned nr_vfio;
	char *vfio[VMCONFIG_MAX_VFIO]; /* PCI addresses to pass through, as written */
	enum vmconfig_console console;
	char *console_path;
};

#define VMCONFIG_DEFAULT_MEM (128ULL << 20)
/* Prefault guest RAM only with passthrough (whose DMA map would fault it in anyway, in one
 * thread), with prefault_default_threads() threads: the default (0, as vmconfig_init leaves it). */
#define VMCONFIG_PREFAULT_AUTO 0
#define VMCONFIG_PREFAULT_OFF  (-1) /* never: the DMA map faults pages in as it pins them */
/*
 * Without i8042.nopnp: the ACPI tables describe the keyboard (PNP0303), and only through that
 * description does a hardware-reduced guest map its IRQ (to a number of its own, not 1), so
 * Linux's i8042 driver must take it from PnP for Ctrl-Alt-Del to arrive (mvm-run --stop-timeout).
 */
#define VMCONFIG_DEFAULT_CMDLINE                                                                   \
	"console=ttyS0 reboot=k panic=1 pci=off nomodule i8042.noaux i8042.nomux i8042.dumbkbd"

void vmconfig_init(struct vmconfig *c);
void vmconfig_free(struct vmconfig *c);
/* "None"/"none", "2M" or "1G" (Firecracker's huge_pages) to a backing; -EINVAL otherwise. */
int vmconfig_parse_huge_pages(const char *s, enum dma_backing *out);
/* How many threads fault guest RAM in before the guest runs (0: none do): prefault_threads,
 * or with VMCONFIG_PREFAULT_AUTO the default count when a device is passed through. */
unsigned vmconfig_prefault_threads(const struct vmconfig *c);
/* Add a device to pass through (its address as given; resolved when the VM is built). */
int vmconfig_add_vfio(struct vmconfig *c, const char *bdf, struct err *e);
/* Replace *dst with a copy of s; -ENOMEM. */
int vmconfig_set_string(char **dst, const char *s);

/*
 * "FILE[,ro|rw][,io_engine=Sync|Async]" (options in any order) and
 * "TAP[,mac=aa:bb:cc:dd:ee:ff]"; -EINVAL / -ENOSPC with a message.
 */
int vmconfig_add_disk(struct vmconfig *c, const char *spec, struct err *e);
int vmconfig_add_net(struct vmconfig *c, const char *spec, struct err *e);
int vmconfig_parse_mac(const char *s, uint8_t mac[6]);
/* "Sync" or "Async", spelled as Firecracker does; -EINVAL otherwise. */
int vmconfig_parse_io_engine(const char *s, enum vmconfig_io_engine *out);
/* The name of an engine, as parsed. */
const char *vmconfig_io_engine_name(enum vmconfig_io_engine engine);
/* "CID,PATH": a virtio-vsock device (CID at least 3). */
int vmconfig_set_vsock(struct vmconfig *c, const char *spec, struct err *e);
/* "stdio", "none" or a file name. */
int vmconfig_set_console(struct vmconfig *c, const char *spec, struct err *e);

/*
 * Firecracker's config file (boot-source, drives, machine-config, network-interfaces, entropy,
 * vsock).
 * Unknown keys are errors (-EINVAL); keys Firecracker knows that this VMM does not implement
 * (logger, metrics, balloon, rate limiters, ...) are passed to warn, one call each, and skipped.
 */
typedef void vmconfig_warn_fn(void *arg, const char *msg);
int vmconfig_load_json(struct vmconfig *c, const char *path, vmconfig_warn_fn *warn, void *arg,
		       struct err *e);
int vmconfig_parse_json(struct vmconfig *c, const char *text, vmconfig_warn_fn *warn, void *arg,
			struct err *e);

/*
 * One section of the configuration as Firecracker's API puts it (PUT /boot-source,
 * /machine-config, /drives/{id}, /network-interfaces/{id}, /entropy, /vsock): text is the body,
 * id the path's (drives and network interfaces: it must match the body's drive_id / iface_id;
 * an existing entry with that id is replaced). boot-source replaces the whole boot source;
 * machine-config changes the fields given. On failure (-EINVAL, -ERANGE, -ENOSPC; -ENOENT for an
 * unknown section) c is as it was and e says why.
 */
int vmconfig_put_json(struct vmconfig *c, const char *section, const char *id, const char *text,
		      vmconfig_warn_fn *warn, void *arg, struct err *e);

struct json_object;
/* The configuration in Firecracker's config-file format (GET /vm/config); NULL: no memory. */
struct json_object *vmconfig_to_json(const struct vmconfig *c);
/* Its machine-config object alone (GET /machine-config). */
struct json_object *vmconfig_machine_to_json(const struct vmconfig *c);

#endif
