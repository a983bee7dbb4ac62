/* virtq_stall.c: why a split queue does not move, from its rings and the device's own state. */
#include "virtq.h"

/* The driver asked to hear of an entry in [signalled_used, next_used) (§2.7.7.2). */
static bool interrupt_due(const struct virtq_stall_state *s)
{
	if (s->next_used == s->signalled_used)
		return false;
	if (s->event_idx)
		return virtq_need_event(s->used_event, s->next_used, s->signalled_used);
	return !(s->avail_flags & VIRTQ_AVAIL_F_NO_INTERRUPT);
}

/* The device told the driver not to notify it about what is pending (§2.7.10). */
static bool kick_suppressed(const struct virtq_stall_state *s)
{
	if (s->event_idx)
		return !virtq_need_event(s->avail_event, s->avail_idx, s->next_avail);
	return s->used_flags & VIRTQ_USED_F_NO_NOTIFY;
}

enum virtq_stall virtq_stall_split(const struct virtq_stall_state *s)
{
	bool pending = s->avail_idx != s->next_avail;

	if (interrupt_due(s))
		return VIRTQ_STALL_INTERRUPT_NOT_SENT;
	if (pending && s->kick_pending)
		return VIRTQ_STALL_KICK_PENDING;
	if (pending && kick_suppressed(s))
		return VIRTQ_STALL_KICK_SUPPRESSED;
	if (pending)
		return VIRTQ_STALL_NOT_KICKED;
	if (s->next_avail != s->next_used)
		return VIRTQ_STALL_DEVICE_OWES;
	if (s->interrupt_unacked)
		return VIRTQ_STALL_INTERRUPT_UNACKED;
	return VIRTQ_STALL_IDLE;
}

const char *virtq_stall_name(enum virtq_stall st)
{
	static const char *const names[] = {
		[VIRTQ_STALL_IDLE] = "idle",
		[VIRTQ_STALL_INTERRUPT_NOT_SENT] = "interrupt-not-sent",
		[VIRTQ_STALL_KICK_PENDING] = "kick-pending",
		[VIRTQ_STALL_KICK_SUPPRESSED] = "kick-suppressed",
		[VIRTQ_STALL_NOT_KICKED] = "not-kicked",
		[VIRTQ_STALL_DEVICE_OWES] = "device-owes",
		[VIRTQ_STALL_INTERRUPT_UNACKED] = "interrupt-unacked",
	};

	return (unsigned)st < sizeof(names) / sizeof(names[0]) ? names[st] : "unknown";
}
