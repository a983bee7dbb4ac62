/* virtq_priv.h: the packed-ring entry points and the walk steps the virtq_*.c files share
 * (nothing outside them includes this; the ring accessors are in virtq.h, for its inline hot
 * path). */
#ifndef CORE_VIRTQ_PRIV_H
#define CORE_VIRTQ_PRIV_H

#include "virtq.h"

/*
 * Behind virtq.h's calls: the packed-ring versions (virtq_packed.c) and the walk steps both
 * formats share (virtq.c). Devices do not call these.
 */
uint16_t virtq_packed_len(const struct virtq *q);
int virtq_packed_chain_start(const struct virtq *q, uint16_t pos, struct virtq_chain *c);
void virtq_packed_undo_pop(struct virtq *q, const struct virtq_chain *c);
bool virtq_packed_try_enable_notification(struct virtq *q);
bool virtq_packed_prepare_kick(struct virtq *q);
int virtq_chain_enter_indirect(struct virtq_chain *c, const struct virtq_desc *d);

#endif
