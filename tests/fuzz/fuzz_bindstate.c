/* fuzz_bindstate.c: libFuzzer target: vfio-bind's state file parser and message escaping. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bindstate.h"
#include "pciaddr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct bindstate st;
	struct err e = { 0 };
	char *text = malloc(len + 1);
	int rc;

	if (!text)
		return 0;
	memcpy(text, data, len);
	text[len] = '\0';
	memset(&st, 0, sizeof(st));
	st.lock_fd = -1;
	rc = bindstate_parse(&st, text, &e);
	/* what reaches a message has no control byte: the file is anyone's */
	for (const unsigned char *p = (const unsigned char *)e.msg; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			abort();
	for (size_t i = 0; !rc && i < st.n; i++) {
		if (!bindstate_get(&st, st.v[i].bdf))
			abort(); /* every entry parsed can be found again */
		struct pci_addr a;
		char again[PCI_ADDR_STRLEN];
		bool dom;

		/* stored normalised: it parses, with its domain, and prints the same */
		if (pci_addr_parse(st.v[i].bdf, &a, &dom, NULL) || !dom ||
		    strcmp(pci_addr_format(&a, again), st.v[i].bdf))
			abort();
	}
	free(st.v);
	free(text);
	return 0;
}
