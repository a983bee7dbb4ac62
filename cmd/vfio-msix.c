/* vfio-msix: a device's MSI/MSI-X capabilities and VFIO IRQs, and an end-to-end interrupt test
 * timed beside an eventfd floor. */
#include <linux/vfio.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "cli.h"
#include "clock.h"
#include "msix.h"
#include "out.h"
#include "pcicap.h"
#include "testdrv.h"
#include "vfio.h"

static char *opt_dump, *opt_vectors, *opt_count, *opt_source, *opt_backend, *opt_timeout;

static struct poptOption options[] = {
	{ "pci-dump", 'F', POPT_ARG_STRING, &opt_dump, 0,
	  "info: read config space from an `lspci -xxx` dump instead of the system", "FILE" },
	{ "vectors", 'n', POPT_ARG_STRING, &opt_vectors, 0,
	  "test: the first N vectors, or a list like 0,2-4 (default: all)", "N|LIST" },
	{ "count", 'k', POPT_ARG_STRING, &opt_count, 0, "test: interrupts per vector (default 10)",
	  "K" },
	{ "source", 's', POPT_ARG_STRING, &opt_source, 0,
	  "test: loopback (VFIO signals the eventfd) or device (the device raises it; edu, e1000e)",
	  "loopback|device" },
	{ "timeout", 't', POPT_ARG_STRING, &opt_timeout, 0,
	  "test: milliseconds to wait for each interrupt (default 2000)", "MS" },
	{ "backend", 'b', POPT_ARG_STRING, &opt_backend, 0,
	  "VFIO back-end: auto (default), container or iommufd", "auto|container|iommufd" },
	CLI_COMMON_TABLE,
	POPT_AUTOHELP POPT_TABLEEND
};

static void irq_flags_text(uint32_t f, char *buf, size_t len)
{
	snprintf(buf, len, "%s%s%s%s", f & VFIO_IRQ_INFO_EVENTFD ? "eventfd," : "",
		 f & VFIO_IRQ_INFO_MASKABLE ? "maskable," : "",
		 f & VFIO_IRQ_INFO_AUTOMASKED ? "automasked," : "",
		 f & VFIO_IRQ_INFO_NORESIZE ? "noresize," : "");
	if (*buf)
		buf[strlen(buf) - 1] = '\0';
	else
		snprintf(buf, len, "-");
}

static void print_msi(struct out *o, const struct pcicap_msi *m)
{
	out_str(o, "cap", "msi");
	out_hex(o, "offset", m->offset, 2);
	out_bool(o, "enabled", m->enabled);
	out_u64(o, "vectors_enabled", m->vectors_enabled);
	out_u64(o, "vectors_max", m->vectors_max);
	out_bool(o, "maskable", m->per_vector_mask);
	out_bool(o, "64bit", m->is_64bit);
	out_hex(o, "address", m->address, m->is_64bit ? 16 : 8);
	out_hex(o, "data", m->data, 4);
	if (cli.json && m->per_vector_mask) {
		out_hex(o, "mask", m->mask, 8);
		out_hex(o, "pending", m->pending, 8);
	}
}

static void print_msix(struct out *o, const struct pcicap_msix *m)
{
	out_str(o, "cap", "msix");
	out_hex(o, "offset", m->offset, 2);
	out_bool(o, "enabled", m->enabled);
	out_bool(o, "function_mask", m->function_mask);
	out_u64(o, "table_size", m->table_size);
	out_u64(o, "table_bar", m->table_bir);
	out_hex(o, "table_offset", m->table_offset, 8);
	out_u64(o, "pba_bar", m->pba_bir);
	out_hex(o, "pba_offset", m->pba_offset, 8);
}

static int resolve(const char *text, struct pci_addr *a)
{
	struct err e = { 0 };
	bool has_domain;

	if (opt_dump) {
		if (pci_addr_parse(text, a, &has_domain, &e))
			cli_die(EXIT_USAGE, NULL, "DEVICE %s", e.msg);
		return 0;
	}
	if (vfio_resolve_device(text, a, &e))
		cli_die(EXIT_USAGE, NULL, "%s", e.msg);
	return 0;
}

/* The device on an IOMMU of its own (nothing is mapped: the IOMMU holds the group). */
static int dev_open(struct vfio_dev **vd, const struct pci_addr *a, enum vfio_backend backend,
		    struct err *e)
{
	struct vfio_iommu *io;
	int rc = vfio_iommu_open(&io, backend, e);

	if (!rc && (rc = vfio_dev_open(vd, a, io, e)))
		vfio_iommu_close(io);
	return rc;
}

static void dev_close(struct vfio_dev *vd)
{
	struct vfio_iommu *io = vd ? vfio_dev_iommu(vd) : NULL;

	vfio_dev_close(vd);
	vfio_iommu_close(io);
}

static int cmd_info(const char *dev, enum vfio_backend backend)
{
	struct pcicap_ctx *c;
	struct pcicap_info ci;
	struct vfio_dev *vd = NULL;
	struct pci_addr a;
	struct err e = { 0 };
	struct out *o;
	char bdf[PCI_ADDR_STRLEN];

	resolve(dev, &a);
	if (pcicap_open(&c, opt_dump, &e))
		cli_die(EXIT_FAIL, NULL, "%s", e.msg);
	if (pcicap_read(c, &a, &ci, &e)) {
		pcicap_close(c);
		cli_die(e.code == ENODEV ? EXIT_USAGE : EXIT_FAIL, NULL, "%s", e.msg);
	}
	pcicap_close(c);
	/* VFIO's view only where the device is on vfio-pci; otherwise just the capabilities. */
	if (!opt_dump && dev_open(&vd, &a, backend, &e)) {
		cli_verbose("no VFIO IRQ info: %s", e.msg);
		vd = NULL;
	}
	pci_addr_format(&a, bdf);
	o = cli_out(stdout);
	if (cli.json) {
		out_record_begin(o);
		out_str(o, "device", bdf);
		out_hex(o, "vendor", ci.vendor, 4);
		out_hex(o, "device_id", ci.device, 4);
		if (ci.msi.present) {
			out_object_begin(o, "msi");
			print_msi(o, &ci.msi);
			out_object_end(o);
		} else {
			out_null(o, "msi");
		}
		if (ci.msix.present) {
			out_object_begin(o, "msix");
			print_msix(o, &ci.msix);
			out_object_end(o);
		} else {
			out_null(o, "msix");
		}
	}
	if (!cli.json) {
		if (ci.msi.present) {
			out_record_begin(o);
			print_msi(o, &ci.msi);
			out_record_end(o);
		}
		if (ci.msix.present) {
			out_record_begin(o);
			print_msix(o, &ci.msix);
			out_record_end(o);
		}
	}
	if (vd) {
		if (cli.json)
			out_array_begin(o, "vfio_irqs");
		for (uint32_t i = 0; i < vfio_num_irqs(vd); i++) {
			struct vfio_irq irq;
			char flags[64];

			if (vfio_irq_info(vd, i, &irq, &e))
				continue;
			irq_flags_text(irq.flags, flags, sizeof(flags));
			if (cli.json) {
				out_object_begin(o, NULL);
				out_str(o, "index", vfio_irq_name(i));
				out_u64(o, "count", irq.count);
				out_str(o, "flags", flags);
				out_object_end(o);
			} else {
				out_record_begin(o);
				out_str(o, "cap", "irq");
				out_str(o, "index", vfio_irq_name(i));
				out_u64(o, "count", irq.count);
				out_str(o, "flags", flags);
				out_record_end(o);
			}
		}
		if (cli.json)
			out_array_end(o);
		dev_close(vd);
	} else if (cli.json) {
		out_null(o, "vfio_irqs");
	}
	if (cli.json)
		out_record_end(o);
	cli_out_close(o);
	return EXIT_OK;
}

/* "N" (the first N) or a list "0,2-4"; every vector below max. Sets sel[], returns how many. */
static uint32_t parse_vectors(const char *s, uint32_t max, bool *sel)
{
	char *copy, *tok, *save = NULL;
	uint32_t n = 0, v;

	memset(sel, 0, max * sizeof(*sel));
	if (!s) {
		for (v = 0; v < max; v++)
			sel[v] = true;
		return max;
	}
	if (!strpbrk(s, ",-")) {
		uint32_t want;

		if (parse_u32(s, &want) || want == 0 || want > max)
			cli_die(EXIT_USAGE, "--vectors", "'%s': the device has %u vectors (1..%u)",
				s, max, max);
		for (v = 0; v < want; v++)
			sel[v] = true;
		return want;
	}
	copy = strdup(s);
	for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		char *dash = strchr(tok, '-');
		uint32_t lo, hi;

		if (dash)
			*dash = '\0';
		if (parse_u32(tok, &lo) || (dash ? parse_u32(dash + 1, &hi) : (hi = lo, 0)) ||
		    lo > hi || hi >= max)
			cli_die(EXIT_USAGE, "--vectors", "'%s': vectors are 0..%u", s, max - 1);
		for (v = lo; v <= hi; v++)
			n += !sel[v], sel[v] = true;
	}
	free(copy);
	return n;
}

static struct msix_state model;

/* Wait until fd is readable and read its count: the count, or 0 when nothing came in time. */
static uint64_t eventfd_wait(int fd, uint32_t timeout_ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	uint64_t cnt;

	if (poll(&p, 1, (int)timeout_ms) == 1 && read(fd, &cnt, sizeof(cnt)) == sizeof(cnt))
		return cnt;
	return 0;
}

/*
 * The floor under every measured latency: this process signals an eventfd itself and waits for
 * it the same way (poll, then read). An interrupt's path ends in the same signal and wake-up, so
 * the ratio to the floor is what the interrupt path costs on top.
 */
static int floor_sample(int fd, uint32_t timeout_ms, int64_t *ns, struct err *e)
{
	const uint64_t one = 1;
	int64_t t0 = clock_now_ns();

	if (write(fd, &one, sizeof(one)) != sizeof(one))
		return err_set(e, errno, "eventfd write: %s", strerror(errno));
	if (eventfd_wait(fd, timeout_ms) != 1)
		return err_set(e, ETIMEDOUT, "the floor's eventfd did not count one signal");
	*ns = clock_now_ns() - t0;
	return 0;
}

static int cmd_test(const char *dev, enum vfio_backend backend)
{
	uint32_t count = 10, timeout_ms = 2000, index, nvec, last = 0, lost_total = 0;
	bool device = false, *sel;
	struct vfio_dev *vd;
	struct testdrv td;
	struct vfio_irq irq;
	struct pci_addr a;
	struct err e = { 0 };
	struct out *o = NULL;
	int64_t *lat, *floor_ns;
	int *fds, floor_fd;

	if (opt_count && (parse_u32(opt_count, &count) || count == 0 || count > 1000000))
		cli_die(EXIT_USAGE, "--count", "'%s' is not a number from 1 to 1000000", opt_count);
	if (opt_timeout && (parse_u32(opt_timeout, &timeout_ms) || timeout_ms == 0))
		cli_die(EXIT_USAGE, "--timeout", "'%s' is not a positive number of ms",
			opt_timeout);
	if (opt_source && strcmp(opt_source, "loopback") && strcmp(opt_source, "device"))
		cli_die(EXIT_USAGE, "--source", "'%s': loopback or device", opt_source);
	device = opt_source && !strcmp(opt_source, "device");
	if (opt_dump)
		cli_die(EXIT_USAGE, "--pci-dump", "only for info");
	resolve(dev, &a);
	if (dev_open(&vd, &a, backend, &e))
		cli_die(EXIT_FAIL, NULL, "%s", e.msg);
	if (device) {
		if (testdrv_probe(vd, &td, &e))
			goto fail;
		index = td.irq_index;
	} else {
		index = VFIO_PCI_MSIX_IRQ_INDEX;
		if (vfio_irq_info(vd, index, &irq, &e) || irq.count == 0)
			index = VFIO_PCI_MSI_IRQ_INDEX;
	}
	if (vfio_irq_info(vd, index, &irq, &e))
		goto fail;
	if (irq.count == 0) {
		err_set(&e, ENOTSUP, "%s has no MSI or MSI-X vectors", vfio_dev_bdf(vd));
		goto fail;
	}
	if (device && irq.count > td.vectors)
		irq.count = td.vectors; /* vectors the test driver can raise */
	sel = calloc(irq.count, sizeof(*sel));
	fds = calloc(irq.count, sizeof(*fds));
	lat = calloc(count, sizeof(*lat));
	floor_ns = calloc(count, sizeof(*floor_ns));
	if (!sel || !fds || !lat || !floor_ns)
		cli_die(EXIT_FAIL, NULL, "out of memory");
	floor_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (floor_fd < 0) {
		err_set(&e, errno, "eventfd for the floor: %s", strerror(errno));
		goto fail;
	}
	nvec = parse_vectors(opt_vectors, irq.count, sel);
	if (msix_state_init(&model, irq.count, &e))
		goto fail;
	for (uint32_t v = 0; v < irq.count; v++) {
		fds[v] = -1;
		if (!sel[v])
			continue;
		fds[v] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (fds[v] < 0 || msix_vec_configure(&model, v, fds[v], 0, v, &e) ||
		    msix_vec_enable(&model, v, &e)) {
			err_set(&e, errno, "eventfd for vector %u: %s", v, strerror(errno));
			goto fail;
		}
		last = v;
	}
	if (vfio_irq_enable(vd, index, 0, last + 1, fds, &e))
		goto fail;
	msix_set_enable(&model, true);
	if (device && testdrv_irq_setup(&td, &e))
		goto fail;
	cli_verbose("%s: %s, %u vectors, %u interrupts each, source %s", vfio_dev_bdf(vd),
		    vfio_irq_name(index), nvec, count, device ? td.name : "loopback");
	o = cli_out(stdout);
	out_list_begin(o);
	for (uint32_t v = 0; v < irq.count; v++) {
		uint32_t delivered = 0, extra = 0;
		struct stats_i64 fl;
		uint64_t cnt;

		if (!sel[v])
			continue;
		while (read(fds[v], &cnt, sizeof(cnt)) == sizeof(cnt))
			; /* start from zero */
		/* Each interrupt is followed by one floor sample: both see the same load. */
		for (uint32_t k = 0; k < count; k++) {
			int64_t t0 = clock_now_ns();
			int rc = msix_can_deliver(&model, v)
					 ? (device ? testdrv_irq_fire(&td, v, &e)
						   : vfio_irq_trigger(vd, index, v, &e))
					 : -EINVAL;

			if (rc)
				goto fail;
			cnt = eventfd_wait(fds[v], timeout_ms);
			if (cnt) {
				lat[delivered++] = clock_now_ns() - t0;
				extra += (uint32_t)(cnt - 1);
			}
			if (device && testdrv_irq_ack(&td, v, &e))
				goto fail;
			if (floor_sample(floor_fd, timeout_ms, &floor_ns[k], &e))
				goto fail;
		}
		lost_total += count - delivered;
		fl = stats_summary_i64(floor_ns, count);
		out_record_begin(o);
		out_u64(o, "vector", v);
		out_u64(o, "fired", count);
		out_u64(o, "delivered", delivered);
		if (delivered) {
			struct stats_i64 st = stats_summary_i64(lat, delivered);

			out_double(o, "median_us", st.median / 1000.0, 1);
			out_double(o, "max_us", st.max / 1000.0, 1);
			out_double(o, "floor_us", fl.median / 1000.0, 1);
			if (fl.median > 0)
				out_double(o, "ratio", (double)st.median / (double)fl.median, 2);
			else
				out_null(o, "ratio");
		} else {
			out_null(o, "median_us");
			out_null(o, "max_us");
			out_double(o, "floor_us", fl.median / 1000.0, 1);
			out_null(o, "ratio");
		}
		if (cli.json) {
			out_u64(o, "extra", extra);
			out_str(o, "irq", vfio_irq_name(index));
			out_str(o, "source", device ? td.name : "loopback");
		}
		out_record_end(o);
	}
	out_list_end(o);
	cli_out_close(o);
	if (device)
		testdrv_irq_teardown(&td);
	vfio_irq_disable(vd, index, NULL);
	for (uint32_t v = 0; v < irq.count; v++) {
		int fd;

		if (sel[v] && !msix_vec_disable(&model, v, &fd, NULL))
			close(fd); /* the model hands each eventfd back */
	}
	dev_close(vd);
	close(floor_fd);
	free(sel);
	free(fds);
	free(lat);
	free(floor_ns);
	if (lost_total) {
		cli_error(NULL, "%u interrupts lost", lost_total);
		return EXIT_FAIL;
	}
	return EXIT_OK;
fail:
	out_free(o); /* the vectors measured so far, and JSON that stays whole */
	cli_error(NULL, "%s", e.msg);
	dev_close(vd);
	return EXIT_FAIL;
}

int main(int argc, const char **argv)
{
	poptContext pc = cli_parse(argc, argv, options,
				   "info DEVICE [--pci-dump FILE] | test DEVICE [--vectors N|LIST] "
				   "[--count K] [--source loopback|device]");
	const char *cmd = poptGetArg(pc), *dev = poptGetArg(pc), *extra = poptGetArg(pc);
	enum vfio_backend backend = VFIO_BACKEND_AUTO;
	int status;

	if (!cmd)
		cli_die(EXIT_USAGE, NULL, "a command is needed: info or test (see --help)");
	if (strcmp(cmd, "info") && strcmp(cmd, "test"))
		cli_die(EXIT_USAGE, cmd, "unknown command (info or test)");
	if (!dev)
		cli_die(EXIT_USAGE, cmd, "a DEVICE (PCI address) is needed");
	if (extra)
		cli_die(EXIT_USAGE, extra, "unexpected argument");
	if (opt_backend && vfio_backend_parse(opt_backend, &backend))
		cli_die(EXIT_USAGE, "--backend", "'%s': auto, container or iommufd", opt_backend);
	if (!strcmp(cmd, "info") && (opt_vectors || opt_count || opt_source || opt_timeout))
		cli_die(EXIT_USAGE, "info",
			"--vectors, --count, --source and --timeout are for test");
	status = !strcmp(cmd, "info") ? cmd_info(dev, backend) : cmd_test(dev, backend);
	cli_done();
	return status;
}
