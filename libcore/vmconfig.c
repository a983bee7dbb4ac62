/* vmconfig.c: microVM configuration: option strings and Firecracker's JSON config file (json-c). */
#include "vmconfig.h"
#include "fileio.h"
#include "prefault.h"

#include <ctype.h>
#include <errno.h>
#include <json-c/json.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void vmconfig_init(struct vmconfig *c)
{
	memset(c, 0, sizeof(*c));
	c->mem_bytes = VMCONFIG_DEFAULT_MEM;
	c->cpus = 1;
}

void vmconfig_free(struct vmconfig *c)
{
	free(c->kernel);
	free(c->initrd);
	free(c->cmdline);
	free(c->console_path);
	free(c->vsock_uds);
	for (unsigned i = 0; i < c->nr_disks; i++) {
		free(c->disk[i].path);
		free(c->disk[i].id);
	}
	for (unsigned i = 0; i < c->nr_nets; i++) {
		free(c->net[i].tap);
		free(c->net[i].id);
	}
	for (unsigned i = 0; i < c->nr_vfio; i++)
		free(c->vfio[i]);
	memset(c, 0, sizeof(*c));
}

int vmconfig_set_string(char **dst, const char *s)
{
	char *d = strdup(s);

	if (!d)
		return -ENOMEM;
	free(*dst);
	*dst = d;
	return 0;
}

static int set_str(char **dst, const char *s, struct err *e)
{
	if (vmconfig_set_string(dst, s))
		return err_set(e, ENOMEM, "%s", strerror(ENOMEM));
	return 0;
}

int vmconfig_parse_io_engine(const char *s, enum vmconfig_io_engine *out)
{
	if (strcmp(s, "Sync") == 0)
		*out = VMCONFIG_IO_SYNC;
	else if (strcmp(s, "Async") == 0)
		*out = VMCONFIG_IO_ASYNC;
	else
		return -EINVAL;
	return 0;
}

const char *vmconfig_io_engine_name(enum vmconfig_io_engine engine)
{
	return engine == VMCONFIG_IO_ASYNC ? "Async" : "Sync";
}

/* One disk option (after a comma); -EINVAL when it is none of them. */
static int disk_option(struct vmconfig_disk *d, const char *opt)
{
	if (strcmp(opt, "ro") == 0)
		d->read_only = true;
	else if (strcmp(opt, "rw") == 0)
		d->read_only = false;
	else if (strncmp(opt, "io_engine=", 10) == 0)
		return vmconfig_parse_io_engine(opt + 10, &d->io_engine);
	else
		return -EINVAL;
	return 0;
}

/*
 * Options are taken from the end while they are options, so that a file name with a comma still
 * works as long as what follows its last comma is not one; the last part must be one.
 */
int vmconfig_add_disk(struct vmconfig *c, const char *spec, struct err *e)
{
	struct vmconfig_disk d = { 0 };
	size_t len = strlen(spec);
	bool first = true;

	for (const char *comma; (comma = memrchr(spec, ',', len)); first = false) {
		char opt[64];

		snprintf(opt, sizeof(opt), "%.*s", (int)(len - (size_t)(comma - spec) - 1),
			 comma + 1);
		if (disk_option(&d, opt)) {
			if (!first)
				break;
			return err_set(e, EINVAL,
				       "'%s': unknown disk option '%s' (ro, rw or "
				       "io_engine=Sync|Async)",
				       spec, opt);
		}
		len = (size_t)(comma - spec);
	}
	if (len == 0)
		return err_set(e, EINVAL, "'%s': no file name", spec);
	if (c->nr_disks == VMCONFIG_MAX_DISKS)
		return err_set(e, ENOSPC, "'%s': at most %d disks", spec, VMCONFIG_MAX_DISKS);
	d.path = strndup(spec, len);
	if (!d.path)
		return err_set(e, ENOMEM, "%s", strerror(ENOMEM));
	c->disk[c->nr_disks++] = d;
	return 0;
}

int vmconfig_parse_mac(const char *s, uint8_t mac[6])
{
	for (int i = 0; i < 6; i++) {
		if (!isxdigit((unsigned char)s[0]) || !isxdigit((unsigned char)s[1]))
			return -EINVAL;
		mac[i] = (uint8_t)strtoul((char[]){ s[0], s[1], 0 }, NULL, 16);
		s += 2;
		if (i < 5 && *s++ != ':')
			return -EINVAL;
	}
	if (*s)
		return -EINVAL;
	if (mac[0] & 1)
		return -EINVAL; /* multicast: not an interface address */
	return 0;
}

/* The interface (other than skip) that already has this MAC, or -1. */
static int mac_user(const struct vmconfig *c, const uint8_t mac[6], unsigned skip)
{
	for (unsigned i = 0; i < c->nr_nets; i++)
		if (i != skip && c->net[i].has_mac && !memcmp(c->net[i].mac, mac, 6))
			return (int)i;
	return -1;
}

int vmconfig_add_net(struct vmconfig *c, const char *spec, struct err *e)
{
	const char *comma = strchr(spec, ',');
	struct vmconfig_net *n;
	size_t len = comma ? (size_t)(comma - spec) : strlen(spec);

	if (len == 0)
		return err_set(e, EINVAL, "'%s': no tap device name", spec);
	if (len >= 16)
		return err_set(e, EINVAL, "'%s': tap device name longer than 15 characters", spec);
	if (c->nr_nets == VMCONFIG_MAX_NETS)
		return err_set(e, ENOSPC, "'%s': at most %d network interfaces", spec,
			       VMCONFIG_MAX_NETS);
	n = &c->net[c->nr_nets];
	memset(n, 0, sizeof(*n));
	if (comma) {
		if (strncmp(comma + 1, "mac=", 4) != 0)
			return err_set(e, EINVAL, "'%s': unknown network option '%s' (mac=...)",
				       spec, comma + 1);
		if (vmconfig_parse_mac(comma + 5, n->mac))
			return err_set(e, EINVAL, "'%s': '%s' is not a unicast MAC address", spec,
				       comma + 5);
		if (mac_user(c, n->mac, c->nr_nets) >= 0)
			return err_set(e, EEXIST, "'%s': the MAC address is already in use: %s",
				       spec, comma + 5);
		n->has_mac = true;
	}
	n->tap = strndup(spec, len);
	if (!n->tap)
		return err_set(e, ENOMEM, "%s", strerror(ENOMEM));
	c->nr_nets++;
	return 0;
}

unsigned vmconfig_prefault_threads(const struct vmconfig *c)
{
	if (c->prefault_threads > 0)
		return (unsigned)c->prefault_threads;
	if (c->prefault_threads == VMCONFIG_PREFAULT_AUTO && c->nr_vfio)
		return prefault_default_threads();
	return 0;
}

int vmconfig_parse_huge_pages(const char *s, enum dma_backing *out)
{
	if (!strcmp(s, "None") || !strcmp(s, "none"))
		*out = DMA_BACKING_ANON;
	else if (!strcmp(s, "2M"))
		*out = DMA_BACKING_HUGE_2M;
	else if (!strcmp(s, "1G"))
		*out = DMA_BACKING_HUGE_1G;
	else if (!strcmp(s, "Transparent") || !strcmp(s, "thp"))
		*out = DMA_BACKING_THP;
	else
		return -EINVAL;
	return 0;
}

int vmconfig_add_vfio(struct vmconfig *c, const char *bdf, struct err *e)
{
	if (c->nr_vfio == VMCONFIG_MAX_VFIO)
		return err_set(e, ENOSPC, "at most %d passthrough devices", VMCONFIG_MAX_VFIO);
	if (set_str(&c->vfio[c->nr_vfio], bdf, e))
		return -ENOMEM;
	c->nr_vfio++;
	return 0;
}

/* CIDs 0-2 are the hypervisor's, the local host's and the host's (§5.10.4). */
static int vsock_set(struct vmconfig *c, uint64_t cid, const char *path, struct err *e)
{
	if (cid < 3 || cid > UINT32_MAX)
		return err_set(e, ERANGE, "vsock: guest CID %llu: between 3 and %u",
			       (unsigned long long)cid, UINT32_MAX);
	if (!*path)
		return err_set(e, EINVAL, "vsock: no socket path");
	if (set_str(&c->vsock_uds, path, e))
		return -ENOMEM;
	c->vsock = true;
	c->vsock_cid = cid;
	return 0;
}

int vmconfig_set_vsock(struct vmconfig *c, const char *spec, struct err *e)
{
	char *end;
	unsigned long long cid;

	errno = 0;
	cid = strtoull(spec, &end, 0);
	if (errno || end == spec || *end != ',')
		return err_set(e, EINVAL, "'%s': expected CID,PATH", spec);
	return vsock_set(c, cid, end + 1, e);
}

int vmconfig_set_console(struct vmconfig *c, const char *spec, struct err *e)
{
	if (!*spec)
		return err_set(e, EINVAL, "empty console (stdio, none or a file name)");
	if (strcmp(spec, "stdio") == 0) {
		c->console = VMCONFIG_CONSOLE_STDIO;
	} else if (strcmp(spec, "none") == 0) {
		c->console = VMCONFIG_CONSOLE_NONE;
	} else {
		c->console = VMCONFIG_CONSOLE_FILE;
		return set_str(&c->console_path, spec, e);
	}
	return 0;
}

/* ---- Firecracker's JSON ---------------------------------------------------------------- */

struct jctx {
	struct vmconfig *c;
	vmconfig_warn_fn *warn;
	void *arg;
	struct err *e;
};

static void jwarn(struct jctx *j, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void jwarn(struct jctx *j, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (j->warn)
		j->warn(j->arg, msg);
}

static const char *jtype(json_object *o)
{
	return json_type_to_name(json_object_get_type(o));
}

static int want(struct jctx *j, const char *where, json_object *o, json_type t)
{
	if (!json_object_is_type(o, t))
		return err_set(j->e, EINVAL, "%s: expected %s, found %s", where,
			       json_type_to_name(t), jtype(o));
	return 0;
}

static int get_string(struct jctx *j, const char *where, json_object *o, char **dst)
{
	int rc = want(j, where, o, json_type_string);

	return rc ? rc : set_str(dst, json_object_get_string(o), j->e);
}

static int get_bool(struct jctx *j, const char *where, json_object *o, bool *dst)
{
	int rc = want(j, where, o, json_type_boolean);

	if (!rc)
		*dst = json_object_get_boolean(o);
	return rc;
}

static int get_uint(struct jctx *j, const char *where, json_object *o, uint64_t max, uint64_t *dst)
{
	int64_t v;
	int rc = want(j, where, o, json_type_int);

	if (rc)
		return rc;
	errno = 0;
	v = json_object_get_int64(o);
	if (v < 0 || (uint64_t)v > max || errno)
		return err_set(j->e, ERANGE, "%s: %lld is out of range (0..%llu)", where,
			       (long long)v, (unsigned long long)max);
	*dst = (uint64_t)v;
	return 0;
}

/*
 * Keys Firecracker accepts that mvm-run does not implement: warned about, then skipped. A key
 * with a value that changes nothing is skipped silently: null, [] and {}, or the value written
 * after '=' in the list, Firecracker's default ("cache_type=\"Unsafe\"", "smt=false").
 */
static bool unsupported(struct jctx *j, const char *where, const char *key, json_object *v,
			const char *const *keys)
{
	for (; *keys; keys++) {
		const char *eq = strchr(*keys, '=');
		size_t klen = eq ? (size_t)(eq - *keys) : strlen(*keys);

		if (strncmp(key, *keys, klen) == 0 && key[klen] == '\0') {
			bool noop =
				json_object_is_type(v, json_type_null) ||
				(json_object_is_type(v, json_type_array) &&
				 !json_object_array_length(v)) ||
				(json_object_is_type(v, json_type_object) &&
				 !json_object_object_length(v)) ||
				(eq &&
				 strcmp(json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN),
					eq + 1) == 0);

			if (!noop)
				jwarn(j, "%s.%s: not supported, ignored", where, key);
			return true;
		}
	}
	return false;
}

static int unknown(struct jctx *j, const char *where, const char *key)
{
	return err_set(j->e, EINVAL, "%s: unknown key '%s'", where, key);
}

static int parse_boot_source(struct jctx *j, json_object *o)
{
	static const char *const unsup[] = { NULL };
	int rc = want(j, "boot-source", o, json_type_object);

	if (rc)
		return rc;
	json_object_object_foreach(o, key, v)
	{
		if (strcmp(key, "kernel_image_path") == 0)
			rc = get_string(j, "boot-source.kernel_image_path", v, &j->c->kernel);
		else if (strcmp(key, "boot_args") == 0)
			rc = json_object_is_type(v, json_type_null)
				     ? 0
				     : get_string(j, "boot-source.boot_args", v, &j->c->cmdline);
		else if (strcmp(key, "initrd_path") == 0)
			rc = json_object_is_type(v, json_type_null)
				     ? 0
				     : get_string(j, "boot-source.initrd_path", v, &j->c->initrd);
		else if (!unsupported(j, "boot-source", key, v, unsup))
			rc = unknown(j, "boot-source", key);
		if (rc)
			return rc;
	}
	if (!j->c->kernel)
		return err_set(j->e, EINVAL, "boot-source: kernel_image_path is missing");
	return 0;
}

static int drive_index(const struct vmconfig *c, const char *id)
{
	for (unsigned i = 0; id && i < c->nr_disks; i++)
		if (c->disk[i].id && strcmp(c->disk[i].id, id) == 0)
			return (int)i;
	return -1;
}

/*
 * Firecracker's rules (vmm_config/drive.rs, BlockDeviceBuilder::insert): a drive_id seen before
 * replaces that drive (an update); a second root device is refused ("A root block device already
 * exists!"); the root device is the first disk (vda).
 */
static int place_drive(struct jctx *j, const char *where, struct vmconfig_disk *d)
{
	struct vmconfig *c = j->c;
	int old = drive_index(c, d->id);
	bool has_root = c->nr_disks && c->disk[0].root;

	if (d->root && has_root && old != 0)
		return err_set(j->e, EEXIST, "%s: a root block device already exists (drive '%s')",
			       where, c->disk[0].id ? c->disk[0].id : c->disk[0].path);
	if (old >= 0) {
		jwarn(j, "%s: drive_id '%s' again: replaces the earlier drive, as in Firecracker",
		      where, d->id);
		free(c->disk[old].id);
		free(c->disk[old].path);
		c->disk[old] = *d;
		if (old != 0 && d->root) {
			c->disk[old] = c->disk[0];
			c->disk[0] = *d;
		}
		return 0;
	}
	if (c->nr_disks == VMCONFIG_MAX_DISKS)
		return err_set(j->e, ENOSPC, "%s: at most %d drives", where, VMCONFIG_MAX_DISKS);
	if (d->root) {
		memmove(&c->disk[1], &c->disk[0], c->nr_disks * sizeof(*d));
		c->disk[0] = *d;
	} else {
		c->disk[c->nr_disks] = *d;
	}
	c->nr_disks++;
	return 0;
}

static int get_io_engine(struct jctx *j, const char *where, json_object *o,
			 enum vmconfig_io_engine *dst)
{
	int rc = want(j, where, o, json_type_string);

	if (!rc && vmconfig_parse_io_engine(json_object_get_string(o), dst))
		rc = err_set(j->e, EINVAL, "%s: '%s' is not \"Sync\" or \"Async\"", where,
			     json_object_get_string(o));
	return rc;
}

static int parse_drive(struct jctx *j, json_object *o, unsigned idx)
{
	static const char *const unsup[] = { "partuuid", "cache_type=\"Unsafe\"", "rate_limiter",
					     "socket", NULL };
	char where[32];
	struct vmconfig_disk d = { 0 };
	int rc;

	snprintf(where, sizeof(where), "drives[%u]", idx);
	rc = want(j, where, o, json_type_object);
	if (rc)
		return rc;
	json_object_object_foreach(o, key, v)
	{
		char w[64];

		snprintf(w, sizeof(w), "%s.%s", where, key);
		if (strcmp(key, "drive_id") == 0)
			rc = get_string(j, w, v, &d.id);
		else if (strcmp(key, "path_on_host") == 0)
			rc = get_string(j, w, v, &d.path);
		else if (strcmp(key, "is_root_device") == 0)
			rc = get_bool(j, w, v, &d.root);
		else if (strcmp(key, "is_read_only") == 0)
			rc = json_object_is_type(v, json_type_null)
				     ? 0
				     : get_bool(j, w, v, &d.read_only);
		else if (strcmp(key, "io_engine") == 0)
			rc = get_io_engine(j, w, v, &d.io_engine);
		else if (!unsupported(j, where, key, v, unsup))
			rc = unknown(j, where, key);
		if (rc)
			goto fail;
	}
	if (!d.path) {
		rc = err_set(j->e, EINVAL, "%s: path_on_host is missing", where);
		goto fail;
	}
	rc = place_drive(j, where, &d);
	if (!rc)
		return 0;
fail:
	free(d.id);
	free(d.path);
	return rc;
}

static int parse_machine(struct jctx *j, json_object *o)
{
	static const char *const unsup[] = { "track_dirty_pages=false", "cpu_template=\"None\"",
					     NULL };
	int rc = want(j, "machine-config", o, json_type_object);
	uint64_t v;

	if (rc)
		return rc;
	json_object_object_foreach(o, key, val)
	{
		if (strcmp(key, "vcpu_count") == 0) {
			rc = get_uint(j, "machine-config.vcpu_count", val, 32, &v);
			if (!rc && v == 0)
				rc = err_set(j->e, ERANGE,
					     "machine-config.vcpu_count: must be >= 1");
			if (!rc)
				j->c->cpus = (unsigned)v;
		} else if (strcmp(key, "mem_size_mib") == 0) {
			rc = get_uint(j, "machine-config.mem_size_mib", val, 1ULL << 30, &v);
			if (!rc && v == 0)
				rc = err_set(j->e, ERANGE,
					     "machine-config.mem_size_mib: must be >= 1");
			if (!rc)
				j->c->mem_bytes = v << 20;
		} else if (strcmp(key, "huge_pages") == 0) {
			char *hp = NULL;

			rc = get_string(j, "machine-config.huge_pages", val, &hp);
			if (!rc && vmconfig_parse_huge_pages(hp, &j->c->mem_backing))
				rc = err_set(
					j->e, EINVAL,
					"machine-config.huge_pages: '%s' is not None, 2M, 1G or "
					"Transparent",
					hp);
			free(hp);
		} else if (strcmp(key, "smt") == 0) {
			bool smt = false;

			rc = get_bool(j, "machine-config.smt", val, &smt);
			if (!rc && smt)
				jwarn(j, "machine-config.smt: not supported, ignored");
		} else if (!unsupported(j, "machine-config", key, val, unsup)) {
			rc = unknown(j, "machine-config", key);
		}
		if (rc)
			return rc;
	}
	return 0;
}

/* A config file's machine-config needs both sizes, as in Firecracker (MachineConfig has no
 * default for either); the API's PATCH changes some (its PUT checks them itself). */
static int machine_required(struct jctx *j, json_object *o)
{
	if (!json_object_object_get_ex(o, "vcpu_count", NULL))
		return err_set(j->e, EINVAL, "machine-config: vcpu_count is missing");
	if (!json_object_object_get_ex(o, "mem_size_mib", NULL))
		return err_set(j->e, EINVAL, "machine-config: mem_size_mib is missing");
	return 0;
}

/*
 * Firecracker's rules (vmm_config/net.rs, NetBuilder::build): a guest_mac that another interface
 * has is refused ("The MAC address is already in use"); an iface_id seen before replaces that
 * interface (an update).
 */
static int place_net(struct jctx *j, const char *where, struct vmconfig_net *n, const char *mac)
{
	struct vmconfig *c = j->c;
	unsigned old = c->nr_nets;
	int user;

	for (unsigned i = 0; n->id && i < c->nr_nets; i++)
		if (c->net[i].id && strcmp(c->net[i].id, n->id) == 0)
			old = i;
	user = n->has_mac ? mac_user(c, n->mac, old) : -1;
	if (user >= 0)
		return err_set(
			j->e, EEXIST,
			"%s.guest_mac: the MAC address is already in use: %s (interface '%s')",
			where, mac, c->net[user].id ? c->net[user].id : c->net[user].tap);
	if (old < c->nr_nets) {
		jwarn(j,
		      "%s: iface_id '%s' again: replaces the earlier interface, as in Firecracker",
		      where, n->id);
		free(c->net[old].id);
		free(c->net[old].tap);
		c->net[old] = *n;
		return 0;
	}
	if (c->nr_nets == VMCONFIG_MAX_NETS)
		return err_set(j->e, ENOSPC, "%s: at most %d interfaces", where, VMCONFIG_MAX_NETS);
	c->net[c->nr_nets++] = *n;
	return 0;
}

static int parse_net(struct jctx *j, json_object *o, unsigned idx)
{
	static const char *const unsup[] = { "rx_rate_limiter", "tx_rate_limiter", NULL };
	char where[40];
	struct vmconfig_net n = { 0 };
	char *mac = NULL;
	int rc;

	snprintf(where, sizeof(where), "network-interfaces[%u]", idx);
	rc = want(j, where, o, json_type_object);
	if (rc)
		return rc;
	json_object_object_foreach(o, key, v)
	{
		char w[80];

		snprintf(w, sizeof(w), "%s.%s", where, key);
		if (strcmp(key, "iface_id") == 0)
			rc = get_string(j, w, v, &n.id);
		else if (strcmp(key, "host_dev_name") == 0)
			rc = get_string(j, w, v, &n.tap);
		else if (strcmp(key, "guest_mac") == 0)
			rc = json_object_is_type(v, json_type_null) ? 0 : get_string(j, w, v, &mac);
		else if (!unsupported(j, where, key, v, unsup))
			rc = unknown(j, where, key);
		if (rc)
			goto fail;
	}
	if (!n.tap) {
		rc = err_set(j->e, EINVAL, "%s: host_dev_name is missing", where);
		goto fail;
	}
	if (strlen(n.tap) >= 16) {
		rc = err_set(j->e, EINVAL, "%s: host_dev_name longer than 15 characters", where);
		goto fail;
	}
	if (mac) {
		if (vmconfig_parse_mac(mac, n.mac)) {
			rc = err_set(j->e, EINVAL,
				     "%s.guest_mac: '%s' is not a unicast MAC address", where, mac);
			goto fail;
		}
		n.has_mac = true;
	}
	rc = place_net(j, where, &n, mac);
	if (rc)
		goto fail;
	free(mac);
	return 0;
fail:
	free(mac);
	free(n.id);
	free(n.tap);
	return rc;
}

/* "vfio": [{"id": "gpu0", "bdf": "0000:01:00.0"}, ...]: PCI passthrough (not Firecracker's). */
static int parse_vfio(struct jctx *j, json_object *o, unsigned idx)
{
	char where[40], *bdf = NULL, *id = NULL;
	int rc;

	snprintf(where, sizeof(where), "vfio[%u]", idx);
	rc = want(j, where, o, json_type_object);
	if (rc)
		return rc;
	json_object_object_foreach(o, key, v)
	{
		char w[80];

		snprintf(w, sizeof(w), "%s.%s", where, key);
		if (strcmp(key, "bdf") == 0)
			rc = get_string(j, w, v, &bdf);
		else if (strcmp(key, "id") == 0)
			rc = get_string(j, w, v, &id);
		else
			rc = unknown(j, where, key);
		if (rc)
			break;
	}
	if (!rc && !bdf)
		rc = err_set(j->e, EINVAL, "%s: bdf is missing", where);
	if (!rc)
		rc = vmconfig_add_vfio(j->c, bdf, j->e);
	free(bdf);
	free(id);
	return rc;
}

static int parse_array(struct jctx *j, const char *where, json_object *o,
		       int (*fn)(struct jctx *, json_object *, unsigned))
{
	int rc = want(j, where, o, json_type_array);
	size_t n;

	if (rc)
		return rc;
	n = json_object_array_length(o);
	for (size_t i = 0; i < n; i++) {
		rc = fn(j, json_object_array_get_idx(o, i), (unsigned)i);
		if (rc)
			return rc;
	}
	return 0;
}

/* Firecracker's "entropy": an object adds the device (its rate_limiter is not implemented); null
 * adds none, as in Firecracker's example configs; anything else is an error. */
static int parse_entropy(struct jctx *j, json_object *v)
{
	if (json_object_is_type(v, json_type_null))
		return 0;
	if (!json_object_is_type(v, json_type_object))
		return err_set(j->e, EINVAL, "entropy: expected an object or null, found %s",
			       jtype(v));
	j->c->rng = true;
	return 0;
}

/* Firecracker's "vsock": {"guest_cid": N, "uds_path": "...", "vsock_id": "..." (optional)}. */
static int parse_vsock(struct jctx *j, json_object *o)
{
	uint64_t cid = 0;
	char *path = NULL;
	int rc;

	if (json_object_is_type(o, json_type_null))
		return 0;
	rc = want(j, "vsock", o, json_type_object);
	if (rc)
		return rc;
	json_object_object_foreach(o, key, v)
	{
		if (strcmp(key, "guest_cid") == 0)
			rc = get_uint(j, "vsock.guest_cid", v, UINT32_MAX, &cid);
		else if (strcmp(key, "uds_path") == 0)
			rc = get_string(j, "vsock.uds_path", v, &path);
		else if (strcmp(key, "vsock_id") == 0)
			rc = want(j, "vsock.vsock_id", v, json_type_string);
		else
			rc = unknown(j, "vsock", key);
		if (rc)
			break;
	}
	if (!rc && !path)
		rc = err_set(j->e, EINVAL, "vsock: uds_path is missing");
	if (!rc)
		rc = vsock_set(j->c, cid, path, j->e);
	free(path);
	return rc;
}

int vmconfig_parse_json(struct vmconfig *c, const char *text, vmconfig_warn_fn *warn, void *arg,
			struct err *e)
{
	static const char *const unsup[] = { "logger",	   "metrics", "mmds-config",	"balloon",
					     "cpu-config", "pmem",    "memory-hotplug", NULL };
	struct jctx j = { c, warn, arg, e };
	struct json_tokener *tok = json_tokener_new();
	json_object *root;
	int rc = 0;

	if (!tok)
		return err_set(e, ENOMEM, "%s", strerror(ENOMEM));
	root = json_tokener_parse_ex(tok, text, (int)strlen(text));
	if (!root || json_tokener_get_error(tok) != json_tokener_success) {
		rc = err_set(e, EINVAL, "not valid JSON: %s (near byte %zu)",
			     json_tokener_error_desc(json_tokener_get_error(tok)),
			     json_tokener_get_parse_end(tok));
		goto out;
	}
	if (!json_object_is_type(root, json_type_object)) {
		rc = err_set(e, EINVAL, "expected a JSON object at the top, found %s", jtype(root));
		goto out;
	}
	json_object_object_foreach(root, key, v)
	{
		if (strcmp(key, "boot-source") == 0)
			rc = parse_boot_source(&j, v);
		else if (strcmp(key, "drives") == 0)
			rc = parse_array(&j, "drives", v, parse_drive);
		else if (strcmp(key, "machine-config") == 0)
			rc = parse_machine(&j, v) ?: machine_required(&j, v);
		else if (strcmp(key, "network-interfaces") == 0)
			rc = parse_array(&j, "network-interfaces", v, parse_net);
		else if (strcmp(key, "vfio") == 0)
			rc = parse_array(&j, "vfio", v, parse_vfio);
		else if (strcmp(key, "entropy") == 0)
			rc = parse_entropy(&j, v);
		else if (strcmp(key, "vsock") == 0)
			rc = parse_vsock(&j, v);
		else if (!unsupported(&j, "config", key, v, unsup))
			rc = unknown(&j, "config", key);
		if (rc)
			goto out;
	}
	if (!c->kernel)
		rc = err_set(e, EINVAL, "boot-source is missing");
out:
	if (root)
		json_object_put(root);
	json_tokener_free(tok);
	return rc;
}

/* ---- Firecracker's API: one section at a time, and the configuration back as JSON --------- */

static json_object *parse_body(const char *text, struct err *e)
{
	struct json_tokener *tok = json_tokener_new();
	json_object *root;

	if (!tok) {
		err_set(e, ENOMEM, "%s", strerror(ENOMEM));
		return NULL;
	}
	root = json_tokener_parse_ex(tok, text, (int)strlen(text));
	if (!root || json_tokener_get_error(tok) != json_tokener_success) {
		err_set(e, EINVAL, "not valid JSON: %s (near byte %zu)",
			json_tokener_error_desc(json_tokener_get_error(tok)),
			json_tokener_get_parse_end(tok));
		json_object_put(root);
		root = NULL;
	}
	json_tokener_free(tok);
	return root;
}

/* The body's id (drive_id, iface_id) must be the path's, as Firecracker checks. */
static int check_id(struct jctx *j, json_object *o, const char *key, const char *id)
{
	json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
		return err_set(j->e, EINVAL, "%s is missing", key);
	if (!id || strcmp(json_object_get_string(v), id) != 0)
		return err_set(j->e, EINVAL,
			       "the id from the path does not match the id from the body");
	return 0;
}

static void disk_remove(struct vmconfig *c, unsigned i)
{
	free(c->disk[i].path);
	free(c->disk[i].id);
	memmove(&c->disk[i], &c->disk[i + 1], (c->nr_disks - i - 1) * sizeof(c->disk[0]));
	c->nr_disks--;
}

static void net_remove(struct vmconfig *c, unsigned i)
{
	free(c->net[i].tap);
	free(c->net[i].id);
	memmove(&c->net[i], &c->net[i + 1], (c->nr_nets - i - 1) * sizeof(c->net[0]));
	c->nr_nets--;
}

/* The old entry is found again by its id string's address: entries move as drives are added. */
static int put_drive(struct jctx *j, json_object *o, const char *id)
{
	struct vmconfig *c = j->c;
	const char *old = NULL;
	int rc = want(j, "drive", o, json_type_object);

	if (!rc)
		rc = check_id(j, o, "drive_id", id);
	for (unsigned i = 0; !rc && i < c->nr_disks; i++)
		if (c->disk[i].id && strcmp(c->disk[i].id, id) == 0)
			old = c->disk[i].id;
	if (!rc)
		rc = parse_drive(j, o, c->nr_disks);
	for (unsigned i = 0; !rc && old && i < c->nr_disks; i++)
		if (c->disk[i].id == old) {
			disk_remove(c, i);
			break;
		}
	return rc;
}

static int put_net(struct jctx *j, json_object *o, const char *id)
{
	struct vmconfig *c = j->c;
	const char *old = NULL;
	int rc = want(j, "network interface", o, json_type_object);

	if (!rc)
		rc = check_id(j, o, "iface_id", id);
	for (unsigned i = 0; !rc && i < c->nr_nets; i++)
		if (c->net[i].id && strcmp(c->net[i].id, id) == 0)
			old = c->net[i].id;
	if (!rc)
		rc = parse_net(j, o, c->nr_nets);
	for (unsigned i = 0; !rc && old && i < c->nr_nets; i++)
		if (c->net[i].id == old) {
			net_remove(c, i);
			break;
		}
	return rc;
}

static int put_boot_source(struct jctx *j, json_object *o)
{
	struct vmconfig *c = j->c;
	char *kernel = c->kernel, *initrd = c->initrd, *cmdline = c->cmdline;
	int rc;

	c->kernel = c->initrd = c->cmdline = NULL;
	rc = parse_boot_source(j, o);
	if (rc) {
		free(c->kernel);
		free(c->initrd);
		free(c->cmdline);
		c->kernel = kernel;
		c->initrd = initrd;
		c->cmdline = cmdline;
		return rc;
	}
	free(kernel);
	free(initrd);
	free(cmdline);
	return 0;
}

static int put_machine(struct jctx *j, json_object *o)
{
	struct vmconfig *c = j->c;
	uint64_t mem = c->mem_bytes;
	enum dma_backing backing = c->mem_backing;
	unsigned cpus = c->cpus;
	int rc = parse_machine(j, o);

	if (rc) {
		c->mem_bytes = mem;
		c->mem_backing = backing;
		c->cpus = cpus;
	}
	return rc;
}

static int put_vsock(struct jctx *j, json_object *o)
{
	struct vmconfig *c = j->c;
	char *uds = c->vsock_uds;
	bool had = c->vsock;
	uint64_t cid = c->vsock_cid;
	int rc;

	c->vsock_uds = NULL;
	c->vsock = false;
	rc = want(j, "vsock", o, json_type_object);
	if (!rc)
		rc = parse_vsock(j, o);
	if (rc) {
		free(c->vsock_uds);
		c->vsock_uds = uds;
		c->vsock = had;
		c->vsock_cid = cid;
		return rc;
	}
	free(uds);
	return 0;
}

int vmconfig_put_json(struct vmconfig *c, const char *section, const char *id, const char *text,
		      vmconfig_warn_fn *warn, void *arg, struct err *e)
{
	struct jctx j = { c, warn, arg, e };
	json_object *o = parse_body(text, e);
	int rc;

	if (!o)
		return -EINVAL;
	if (strcmp(section, "boot-source") == 0)
		rc = put_boot_source(&j, o);
	else if (strcmp(section, "machine-config") == 0)
		rc = put_machine(&j, o);
	else if (strcmp(section, "drives") == 0)
		rc = put_drive(&j, o, id);
	else if (strcmp(section, "network-interfaces") == 0)
		rc = put_net(&j, o, id);
	else if (strcmp(section, "entropy") == 0)
		rc = parse_entropy(&j, o);
	else if (strcmp(section, "vsock") == 0)
		rc = put_vsock(&j, o);
	else
		rc = err_set(e, ENOENT, "%s: no such section", section);
	json_object_put(o);
	return rc;
}

static void add_str(json_object *o, const char *key, const char *v)
{
	json_object_object_add(o, key, v ? json_object_new_string(v) : NULL);
}

json_object *vmconfig_machine_to_json(const struct vmconfig *c)
{
	static const char *const huge[] = { [DMA_BACKING_ANON] = "None",
					    [DMA_BACKING_HUGE_2M] = "2M",
					    [DMA_BACKING_HUGE_1G] = "1G" };
	json_object *m = json_object_new_object();

	if (!m)
		return NULL;
	json_object_object_add(m, "vcpu_count", json_object_new_int((int)c->cpus));
	json_object_object_add(m, "mem_size_mib",
			       json_object_new_int64((int64_t)(c->mem_bytes >> 20)));
	json_object_object_add(m, "smt", json_object_new_boolean(0));
	json_object_object_add(m, "track_dirty_pages", json_object_new_boolean(0));
	add_str(m, "huge_pages", huge[c->mem_backing]);
	return m;
}

static json_object *boot_to_json(const struct vmconfig *c)
{
	json_object *b = json_object_new_object();

	add_str(b, "kernel_image_path", c->kernel);
	add_str(b, "initrd_path", c->initrd);
	add_str(b, "boot_args", c->cmdline);
	return b;
}

static json_object *drives_to_json(const struct vmconfig *c)
{
	json_object *a = json_object_new_array();

	for (unsigned i = 0; i < c->nr_disks; i++) {
		json_object *d = json_object_new_object();

		add_str(d, "drive_id", c->disk[i].id);
		add_str(d, "path_on_host", c->disk[i].path);
		json_object_object_add(d, "is_root_device",
				       json_object_new_boolean(c->disk[i].root));
		json_object_object_add(d, "is_read_only",
				       json_object_new_boolean(c->disk[i].read_only));
		add_str(d, "io_engine", vmconfig_io_engine_name(c->disk[i].io_engine));
		json_object_array_add(a, d);
	}
	return a;
}

static json_object *nets_to_json(const struct vmconfig *c)
{
	json_object *a = json_object_new_array();

	for (unsigned i = 0; i < c->nr_nets; i++) {
		const uint8_t *mac = c->net[i].mac;
		json_object *n = json_object_new_object();
		char s[18];

		snprintf(s, sizeof(s), "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2],
			 mac[3], mac[4], mac[5]);
		add_str(n, "iface_id", c->net[i].id);
		add_str(n, "host_dev_name", c->net[i].tap);
		add_str(n, "guest_mac", c->net[i].has_mac ? s : NULL);
		json_object_array_add(a, n);
	}
	return a;
}

json_object *vmconfig_to_json(const struct vmconfig *c)
{
	json_object *o = json_object_new_object();

	if (!o)
		return NULL;
	json_object_object_add(o, "boot-source", boot_to_json(c));
	json_object_object_add(o, "drives", drives_to_json(c));
	json_object_object_add(o, "machine-config", vmconfig_machine_to_json(c));
	json_object_object_add(o, "network-interfaces", nets_to_json(c));
	json_object_object_add(o, "entropy", c->rng ? json_object_new_object() : NULL);
	if (c->vsock) {
		json_object *v = json_object_new_object();

		json_object_object_add(v, "guest_cid", json_object_new_uint64(c->vsock_cid));
		add_str(v, "uds_path", c->vsock_uds);
		json_object_object_add(o, "vsock", v);
	} else {
		json_object_object_add(o, "vsock", NULL);
	}
	return o;
}

int vmconfig_load_json(struct vmconfig *c, const char *path, vmconfig_warn_fn *warn, void *arg,
		       struct err *e)
{
	char *text;
	int rc = file_read_all(path, VMCONFIG_MAX_FILE_BYTES, &text, NULL, e);

	if (rc)
		return rc;
	rc = vmconfig_parse_json(c, text, warn, arg, e);
	free(text);
	if (rc)
		err_prefix(e, "%s", path);
	return rc;
}
