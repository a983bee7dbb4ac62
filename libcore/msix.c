/* msix.c: the MSI-X vector state machine (bookkeeping only; VFIO calls live in vfio_irq.c). */
#include "msix.h"

#include <string.h>

const char *msix_vec_state_name(enum msix_vec_state st)
{
	switch (st) {
	case MSIX_VEC_UNCONFIGURED:
		return "unconfigured";
	case MSIX_VEC_CONFIGURED:
		return "configured";
	case MSIX_VEC_ENABLED:
		return "enabled";
	}
	return "?";
}

int msix_state_init(struct msix_state *s, uint32_t table_size, struct err *e)
{
	memset(s, 0, sizeof(*s));
	if (table_size == 0 || table_size > MSIX_MAX_VECTORS)
		return err_set(e, EINVAL, "MSI-X table size %u: must be 1..%d", table_size,
			       MSIX_MAX_VECTORS);
	s->table_size = table_size;
	for (uint32_t i = 0; i < MSIX_MAX_VECTORS; i++)
		s->vec[i].eventfd = -1;
	return 0;
}

static int check_idx(const struct msix_state *s, uint32_t idx, struct err *e)
{
	if (idx >= s->table_size)
		return err_set(e, ERANGE, "vector %u: the table has %u vectors (0..%u)", idx,
			       s->table_size, s->table_size - 1);
	return 0;
}

int msix_vec_configure(struct msix_state *s, uint32_t idx, int eventfd, uint64_t addr,
		       uint32_t data, struct err *e)
{
	struct msix_vec *v;
	int rc = check_idx(s, idx, e);

	if (rc)
		return rc;
	v = &s->vec[idx];
	if (v->state == MSIX_VEC_ENABLED)
		return err_set(e, EBUSY, "vector %u is enabled: disable it before reconfiguring",
			       idx);
	if (eventfd < 0)
		return err_set(e, EINVAL, "vector %u: no eventfd", idx);
	if (v->state == MSIX_VEC_UNCONFIGURED)
		s->nconfigured++;
	v->state = MSIX_VEC_CONFIGURED;
	v->eventfd = eventfd;
	v->addr = addr;
	v->data = data;
	return 0;
}

int msix_vec_enable(struct msix_state *s, uint32_t idx, struct err *e)
{
	struct msix_vec *v;
	int rc = check_idx(s, idx, e);

	if (rc)
		return rc;
	v = &s->vec[idx];
	if (v->state == MSIX_VEC_UNCONFIGURED)
		return err_set(e, ENOENT, "vector %u is not configured", idx);
	if (v->state == MSIX_VEC_ENABLED)
		return err_set(e, EALREADY, "vector %u is already enabled", idx);
	v->state = MSIX_VEC_ENABLED;
	s->nenabled++;
	return 0;
}

int msix_vec_disable(struct msix_state *s, uint32_t idx, int *eventfd, struct err *e)
{
	struct msix_vec *v;
	int rc = check_idx(s, idx, e);

	if (rc)
		return rc;
	v = &s->vec[idx];
	if (v->state == MSIX_VEC_UNCONFIGURED)
		return err_set(e, ENOENT, "vector %u is not configured", idx);
	if (v->state == MSIX_VEC_ENABLED)
		s->nenabled--;
	s->nconfigured--;
	if (eventfd)
		*eventfd = v->eventfd;
	v->state = MSIX_VEC_UNCONFIGURED;
	v->eventfd = -1;
	v->addr = 0;
	v->data = 0;
	return 0;
}

int msix_vec_mask(struct msix_state *s, uint32_t idx, bool masked, struct err *e)
{
	int rc = check_idx(s, idx, e);

	if (rc)
		return rc;
	s->vec[idx].masked = masked;
	return 0;
}

void msix_set_enable(struct msix_state *s, bool enabled)
{
	s->enabled = enabled;
}

void msix_set_function_mask(struct msix_state *s, bool masked)
{
	s->function_mask = masked;
}

bool msix_can_deliver(const struct msix_state *s, uint32_t idx)
{
	if (idx >= s->table_size)
		return false;
	return s->enabled && !s->function_mask && s->vec[idx].state == MSIX_VEC_ENABLED &&
	       !s->vec[idx].masked;
}

int msix_state_check(const struct msix_state *s, struct err *e)
{
	uint32_t nc = 0, ne = 0;

	if (s->table_size == 0 || s->table_size > MSIX_MAX_VECTORS)
		return err_set(e, EUCLEAN, "table size %u out of range", s->table_size);
	for (uint32_t i = 0; i < MSIX_MAX_VECTORS; i++) {
		const struct msix_vec *v = &s->vec[i];

		if (i >= s->table_size && v->state != MSIX_VEC_UNCONFIGURED)
			return err_set(e, EUCLEAN, "vector %u beyond the table is %s", i,
				       msix_vec_state_name(v->state));
		if ((v->state == MSIX_VEC_UNCONFIGURED) != (v->eventfd < 0))
			return err_set(e, EUCLEAN, "vector %u is %s with eventfd %d", i,
				       msix_vec_state_name(v->state), v->eventfd);
		nc += v->state != MSIX_VEC_UNCONFIGURED;
		ne += v->state == MSIX_VEC_ENABLED;
	}
	if (nc != s->nconfigured || ne != s->nenabled)
		return err_set(e, EUCLEAN, "counts %u/%u, vectors say %u/%u", s->nconfigured,
			       s->nenabled, nc, ne);
	if (!(s->nenabled <= s->nconfigured && s->nconfigured <= s->table_size))
		return err_set(e, EUCLEAN, "enabled %u <= configured %u <= table %u broken",
			       s->nenabled, s->nconfigured, s->table_size);
	return 0;
}
