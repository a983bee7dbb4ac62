/* fuzz_vmconfig.c: libFuzzer target: Firecracker's JSON config and mvm-run's option strings. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vmconfig.h"

static void warn(void *arg, const char *msg)
{
	*(size_t *)arg += strlen(msg); /* a bad message pointer is an ASan report */
}

/* One option string by its first byte: d disk, n net, h huge pages, c console, v vfio, m MAC. */
static void option(struct vmconfig *c, const char *s)
{
	struct err e = { 0 };
	enum dma_backing b;
	uint8_t mac[6];

	switch (s[0]) {
	case 'd':
		vmconfig_add_disk(c, s + 1, &e);
		break;
	case 'n':
		vmconfig_add_net(c, s + 1, &e);
		break;
	case 'h':
		vmconfig_parse_huge_pages(s + 1, &b);
		break;
	case 'c':
		vmconfig_set_console(c, s + 1, &e);
		break;
	case 'v':
		vmconfig_add_vfio(c, s + 1, &e);
		break;
	case 'm':
		vmconfig_parse_mac(s + 1, mac);
		break;
	}
}

/*
 * Input: JSON text (parsed whole, as --config would), or, when it starts with '#', lines of
 * option strings, each led by the letter of the option it is given to.
 */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct vmconfig c;
	size_t warned = 0;
	char *text = malloc(len + 1);

	if (!text)
		return 0;
	memcpy(text, data, len);
	text[len] = '\0';
	vmconfig_init(&c);
	if (len && text[0] == '#') {
		char *save = NULL;

		for (char *l = strtok_r(text + 1, "\n", &save); l; l = strtok_r(NULL, "\n", &save))
			option(&c, l);
	} else {
		struct err e = { 0 };

		if (vmconfig_parse_json(&c, text, warn, &warned, &e) == 0 && !c.kernel)
			abort(); /* success means a kernel was given */
		warned += strlen(e.msg);
	}
	if (c.nr_disks > VMCONFIG_MAX_DISKS || c.nr_nets > VMCONFIG_MAX_NETS)
		abort();
	for (unsigned i = 1; i < c.nr_disks; i++)
		if (c.disk[i].root)
			abort(); /* the root disk, if any, is the first */
	vmconfig_free(&c);
	free(text);
	return warned == (size_t)-1;
}
