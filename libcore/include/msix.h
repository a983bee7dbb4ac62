/* msix.h: the MSI-X state model: vectors configured, enabled and masked, with checked transitions.
 */
#ifndef CORE_MSIX_H
#define CORE_MSIX_H

#include <stdbool.h>
#include <stdint.h>

#include "err.h"

#define MSIX_MAX_VECTORS 2048 /* the table size field is 11 bits: N-1 in 0..2047 */

/*
 * A vector is UNCONFIGURED (no eventfd), CONFIGURED (an eventfd and a message attached, not
 * delivering) or ENABLED (handed to the device/kernel). Masking is independent of the state.
 *
 *   UNCONFIGURED --configure--> CONFIGURED --enable--> ENABLED
 *        ^                        |    ^                  |
 *        +-------- disable -------+    +---- (none) ------+--- disable --> UNCONFIGURED
 *
 * Invariants (msix_state_check): enabled <= configured <= table size, and the counts equal the
 * vectors in each state. Refused transitions leave the state unchanged.
 */
enum msix_vec_state { MSIX_VEC_UNCONFIGURED, MSIX_VEC_CONFIGURED, MSIX_VEC_ENABLED };

struct msix_vec {
	enum msix_vec_state state;
	bool masked;
	int eventfd;   /* -1 when unconfigured */
	uint64_t addr; /* message address and data (what a guest wrote to the table) */
	uint32_t data;
};

struct msix_state {
	uint32_t table_size;
	bool enabled;	    /* function: MSI-X Enable */
	bool function_mask; /* function: Function Mask */
	uint32_t nconfigured, nenabled;
	struct msix_vec vec[MSIX_MAX_VECTORS];
};

/* table_size 1..2048, else -EINVAL. Every vector starts unconfigured and unmasked. */
int msix_state_init(struct msix_state *s, uint32_t table_size, struct err *e);

/*
 * Transitions. Errors: -ERANGE index >= table size; -EBUSY configure of an enabled vector;
 * -EINVAL a negative eventfd; -ENOENT enable/disable of an unconfigured vector;
 * -EALREADY enable of an enabled vector.
 */
int msix_vec_configure(struct msix_state *s, uint32_t idx, int eventfd, uint64_t addr,
		       uint32_t data, struct err *e);
int msix_vec_enable(struct msix_state *s, uint32_t idx, struct err *e);
/* Back to UNCONFIGURED; *eventfd receives the eventfd the vector held (now the caller's). */
int msix_vec_disable(struct msix_state *s, uint32_t idx, int *eventfd, struct err *e);
int msix_vec_mask(struct msix_state *s, uint32_t idx, bool masked, struct err *e);

void msix_set_enable(struct msix_state *s, bool enabled);
void msix_set_function_mask(struct msix_state *s, bool masked);

/* Would an interrupt on idx reach its eventfd now? (function enabled and unmasked, vector
 * enabled and unmasked.) false for an out-of-range index. */
bool msix_can_deliver(const struct msix_state *s, uint32_t idx);

/* Verify the invariants by recomputation: 0 or -EUCLEAN with a message. */
int msix_state_check(const struct msix_state *s, struct err *e);

const char *msix_vec_state_name(enum msix_vec_state st);

#endif
