/* mvm_api.h: Firecracker's REST API over a Unix socket for one microVM (libmicrohttpd, json-c). */
#ifndef CORE_MVM_API_H
#define CORE_MVM_API_H

#include <stdbool.h>

#include "err.h"
#include "mvm.h"
#include "vmconfig.h"

/* Firecracker's default limit on a request body (its --http-api-max-payload-size). */
#define MVM_API_MAX_BODY 51200

/* Build the VM from the configuration (the caller's mvm_open); -errno and e on failure. */
typedef int mvm_api_start_fn(void *opaque, struct err *e);

struct mvm_api_config {
	const char *sock_path;
	/* Pre-boot configuration, changed by PUT requests until InstanceStart; the API thread is
	 * its only user from mvm_api_open on. */
	struct vmconfig *cfg;
	struct mvm *m; /* the VM, valid once started */
	mvm_api_start_fn *start;
	vmconfig_warn_fn *warn; /* keys Firecracker knows that mvm-run does not implement */
	void *opaque;		/* for start and warn */
};

struct mvm_api;

/*
 * Listen on a Unix socket at c->sock_path (a stale socket there, one nobody listens on, is
 * replaced; anything else is -EADDRINUSE) and serve requests on a thread of libmicrohttpd's.
 * Errors: -errno with e set (ERR_INPUT for the path, ERR_HOST for the rest).
 */
int mvm_api_open(struct mvm_api **api, const struct mvm_api_config *c, struct err *e);
/* The VM was built and started without the API (--config): InstanceStart is refused. */
void mvm_api_set_started(struct mvm_api *api);
/* Wait for InstanceStart to build the VM (0), or for mvm_api_cancel (-ECANCELED). */
int mvm_api_wait_start(struct mvm_api *api);
void mvm_api_cancel(struct mvm_api *api);
/* Stop serving and close the socket (the socket file stays, as Firecracker leaves it). */
void mvm_api_close(struct mvm_api *api);

#endif
