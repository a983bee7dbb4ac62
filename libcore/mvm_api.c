/* mvm_api.c: Firecracker's API on a Unix socket: pre-boot configuration, start, pause, status. */
#include "mvm_api.h"

#include <errno.h>
#include <json-c/json.h>
#include <microhttpd.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "virtio_devs.h"
#include "virtio_mmio.h"

enum api_state { API_NOT_STARTED, API_RUNNING, API_CANCELLED };

struct mvm_api {
	struct mvm_api_config c;
	struct MHD_Daemon *daemon;
	int fd;
	pthread_mutex_t lock;
	pthread_cond_t changed;
	enum api_state state;
	bool paused;
};

/* One request's body as it arrives; too_big once it passed MVM_API_MAX_BODY. */
struct body {
	char *data;
	size_t len;
	bool too_big;
};

/* A reply: a status and a JSON body (none for 204). */
struct reply {
	unsigned status;
	json_object *json;
};

#define NOT_AFTER_START	 "The requested operation is not supported after starting the microVM."
#define NOT_BEFORE_START "The requested operation is not supported before starting the microVM."

static struct reply fault(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static struct reply fault(const char *fmt, ...)
{
	json_object *o = json_object_new_object();
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	json_object_object_add(o, "fault_message", json_object_new_string(msg));
	return (struct reply){ MHD_HTTP_BAD_REQUEST, o };
}

static struct reply ok(json_object *o)
{
	return (struct reply){ o ? MHD_HTTP_OK : MHD_HTTP_NO_CONTENT, o };
}

static bool started(struct mvm_api *a)
{
	bool s;

	pthread_mutex_lock(&a->lock);
	s = a->state == API_RUNNING;
	pthread_mutex_unlock(&a->lock);
	return s;
}

/* ---- GET ------------------------------------------------------------------------------- */

static struct reply get_instance(struct mvm_api *a)
{
	json_object *o = json_object_new_object();
	const char *state = !started(a) ? "Not started" : a->paused ? "Paused" : "Running";

	json_object_object_add(o, "app_name", json_object_new_string("mvm-run"));
	json_object_object_add(o, "id", json_object_new_string("anonymous-instance"));
	json_object_object_add(o, "state", json_object_new_string(state));
	json_object_object_add(o, "vmm_version", json_object_new_string(PROJECT_VERSION));
	json_object_object_add(o, "pid", json_object_new_int(getpid()));
	return ok(o);
}

static void add_u64(json_object *o, const char *key, uint64_t v)
{
	json_object_object_add(o, key, json_object_new_uint64(v));
}

static json_object *queue_json(const struct virtq *q, unsigned i, bool pending_kick)
{
	json_object *o = json_object_new_object();

	add_u64(o, "index", i);
	json_object_object_add(o, "ready", json_object_new_boolean(q->ready));
	add_u64(o, "size", q->size);
	add_u64(o, "max_size", q->max_size);
	json_object_object_add(o, "packed", json_object_new_boolean(q->packed));
	json_object_object_add(o, "event_idx", json_object_new_boolean(q->event_idx));
	json_object_object_add(o, "indirect", json_object_new_boolean(q->indirect));
	add_u64(o, "desc_gpa", q->desc_gpa);
	add_u64(o, "driver_gpa", q->driver_gpa);
	add_u64(o, "device_gpa", q->device_gpa);
	/* The device's own indices: what it has consumed and what it has made used. */
	add_u64(o, "next_avail", q->next_avail);
	add_u64(o, "next_used", q->next_used);
	/* next_used when the device last interrupted the driver for this queue */
	add_u64(o, "signalled_used", q->signalled_used);
	/* Paused: a notification that came meanwhile waits for the resume. */
	json_object_object_add(o, "pending_kick", json_object_new_boolean(pending_kick));
	return o;
}

static json_object *device_json(struct vmdev_set *s, unsigned i)
{
	struct virtio_mmio *m = vmdev_transport(s, i);
	json_object *o = json_object_new_object(), *qs = json_object_new_array();
	unsigned irq = 0;
	gpa_t gpa = 0;

	vmdev_where(s, i, &gpa, &irq);
	pthread_mutex_lock(&m->lock);
	add_u64(o, "index", i);
	json_object_object_add(o, "type", json_object_new_string(m->ops->name));
	add_u64(o, "device_id", m->ops->device_id);
	add_u64(o, "mmio_gpa", gpa);
	add_u64(o, "irq", irq);
	add_u64(o, "status", m->status);
	add_u64(o, "device_features", m->device_features);
	add_u64(o, "driver_features", m->driver_features);
	add_u64(o, "notifications", m->notifications);
	add_u64(o, "interrupts", m->interrupts);
	/* InterruptStatus: bits raised and not yet acknowledged by the driver */
	add_u64(o, "interrupt_status", m->interrupt_status);
	json_object_object_add(o, "paused", json_object_new_boolean(m->paused));
	json_object_object_add(o, "broken",
			       m->broken[0] ? json_object_new_string(m->broken) : NULL);
	for (unsigned q = 0; q < m->ops->nr_queues; q++)
		json_object_array_add(qs, queue_json(&m->vq[q], q, m->pending_kicks & (1u << q)));
	pthread_mutex_unlock(&m->lock);
	json_object_object_add(o, "queues", qs);
	return o;
}

/* Guest RAM as this process maps it: where a reader of /proc/PID/mem finds each region. */
static json_object *memory_json(const struct vm_ram *ram)
{
	json_object *a = json_object_new_array();

	for (unsigned i = 0; i < ram->nr_regions; i++) {
		json_object *r = json_object_new_object();

		add_u64(r, "gpa", ram->region[i].gpa);
		add_u64(r, "size", ram->region[i].size_bytes);
		add_u64(r, "hva", (uint64_t)(uintptr_t)ram->region[i].hva);
		json_object_array_add(a, r);
	}
	return a;
}

static struct reply get_queues(struct mvm_api *a)
{
	json_object *o, *devs;

	if (!started(a))
		return fault(NOT_BEFORE_START);
	o = json_object_new_object();
	devs = json_object_new_array();
	json_object_object_add(o, "pid", json_object_new_int(getpid()));
	json_object_object_add(o, "memory", memory_json(&a->c.m->vm.ram));
	for (unsigned i = 0; i < a->c.m->devs.n; i++)
		json_object_array_add(devs, device_json(&a->c.m->devs, i));
	json_object_object_add(o, "devices", devs);
	return ok(o);
}

static struct reply get_vfio(struct mvm_api *a)
{
	struct vfio_pt_set *pt = &a->c.m->pt;
	json_object *o, *devs;

	if (!started(a))
		return fault(NOT_BEFORE_START);
	o = json_object_new_object();
	devs = json_object_new_array();
	for (unsigned i = 0; pt->vm && i < pt->n; i++) {
		json_object *d = json_object_new_object();
		char line[512];

		vfio_pt_describe(pt, i, line, sizeof(line));
		add_u64(d, "index", i);
		json_object_object_add(d, "description", json_object_new_string(line));
		json_object_array_add(devs, d);
	}
	json_object_object_add(o, "devices", devs);
	return ok(o);
}

/* ---- PUT, PATCH -------------------------------------------------------------------------- */

static json_object *parse_json(const char *text, struct err *e)
{
	struct json_tokener *tok = json_tokener_new();
	json_object *o;

	if (!tok) {
		err_set(e, ENOMEM, "%s", strerror(ENOMEM));
		return NULL;
	}
	o = json_tokener_parse_ex(tok, text, (int)strlen(text));
	if (!o || json_tokener_get_error(tok) != json_tokener_success) {
		err_set(e, EINVAL, "not valid JSON: %s",
			json_tokener_error_desc(json_tokener_get_error(tok)));
		json_object_put(o);
		o = NULL;
	} else if (!json_object_is_type(o, json_type_object)) {
		err_set(e, EINVAL, "expected a JSON object, found %s",
			json_type_to_name(json_object_get_type(o)));
		json_object_put(o);
		o = NULL;
	}
	json_tokener_free(tok);
	return o;
}

/* The one string field of a body like {"action_type": "..."}; other keys are errors. */
static int one_string(const char *text, const char *key, char *out, size_t len, struct err *e)
{
	json_object *o = parse_json(text, e);
	int rc = 0;

	if (!o)
		return -EINVAL;
	*out = 0;
	json_object_object_foreach(o, k, v)
	{
		if (strcmp(k, key) != 0) {
			rc = err_set(e, EINVAL, "unknown field '%s', expected '%s'", k, key);
			break;
		}
		if (!json_object_is_type(v, json_type_string)) {
			rc = err_set(e, EINVAL, "%s: expected a string", key);
			break;
		}
		snprintf(out, len, "%s", json_object_get_string(v));
	}
	if (!rc && !*out)
		rc = err_set(e, EINVAL, "missing field '%s'", key);
	json_object_put(o);
	return rc;
}

/*
 * A drive asking for io_engine Async where this process gets no io_uring: refused at PUT /drives,
 * as Firecracker refuses it, before the configuration changes (never a silent Sync).
 */
static bool async_refused(const char *section, const char *body, struct err *e)
{
	json_object *o, *v;
	bool refused = false;

	if (strcmp(section, "drives") != 0 || !(o = parse_json(body, e)))
		return false; /* the parser says what is wrong with the body */
	if (json_object_is_type(o, json_type_object) &&
	    json_object_object_get_ex(o, "io_engine", &v) &&
	    json_object_is_type(v, json_type_string) &&
	    strcmp(json_object_get_string(v), "Async") == 0 && virtio_blk_async_probe(e))
		refused = true;
	json_object_put(o);
	return refused;
}

static struct reply put_config(struct mvm_api *a, const char *section, const char *id,
			       const char *body)
{
	struct err e = { 0 };

	if (started(a))
		return fault(NOT_AFTER_START);
	if (id) {
		for (const char *p = id; *p; p++)
			if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
			      (*p >= '0' && *p <= '9') || *p == '_'))
				return fault("API Resource IDs can only contain alphanumeric "
					     "characters and underscores.");
	}
	if (async_refused(section, body, &e))
		return fault("io_engine \"Async\": %s", e.msg);
	if (vmconfig_put_json(a->c.cfg, section, id, body, a->c.warn, a->c.opaque, &e))
		return fault("%s", e.msg);
	return ok(NULL);
}

/* PUT replaces the machine configuration: Firecracker requires both sizes (PATCH changes some). */
static struct reply put_machine(struct mvm_api *a, const char *body)
{
	static const char *const required[] = { "vcpu_count", "mem_size_mib" };
	struct err e = { 0 };
	json_object *o;

	if (started(a))
		return fault(NOT_AFTER_START);
	o = parse_json(body, &e);
	if (!o)
		return fault("%s", e.msg);
	for (unsigned i = 0; i < 2; i++) {
		if (!json_object_object_get_ex(o, required[i], NULL)) {
			json_object_put(o);
			return fault("machine-config: missing field '%s'", required[i]);
		}
	}
	json_object_put(o);
	return put_config(a, "machine-config", NULL, body);
}

static struct reply instance_start(struct mvm_api *a)
{
	struct err e = { 0 };

	if (started(a))
		return fault(NOT_AFTER_START);
	if (!a->c.cfg->kernel)
		return fault("Cannot start microvm without kernel configuration.");
	if (a->c.start(a->c.opaque, &e))
		return fault("Failed to start the microVM: %s", e.msg);
	pthread_mutex_lock(&a->lock);
	if (a->state == API_NOT_STARTED)
		a->state = API_RUNNING;
	pthread_cond_broadcast(&a->changed);
	pthread_mutex_unlock(&a->lock);
	return ok(NULL);
}

static struct reply put_action(struct mvm_api *a, const char *body)
{
	struct err e = { 0 };
	char action[32];

	if (one_string(body, "action_type", action, sizeof(action), &e))
		return fault("%s", e.msg);
	if (strcmp(action, "InstanceStart") == 0)
		return instance_start(a);
	if (strcmp(action, "SendCtrlAltDel") == 0) {
		if (!started(a))
			return fault(NOT_BEFORE_START);
		if (mvm_send_ctrl_alt_del(a->c.m))
			return fault(
				"SendCtrlAltDel: the guest has not read the keys of the last one");
		return ok(NULL);
	}
	if (strcmp(action, "FlushMetrics") == 0)
		return fault("FlushMetrics: mvm-run has no metrics");
	return fault("unknown action_type '%s' (InstanceStart, SendCtrlAltDel)", action);
}

static struct reply patch_vm(struct mvm_api *a, const char *body)
{
	struct err e = { 0 };
	char state[32];

	if (one_string(body, "state", state, sizeof(state), &e))
		return fault("%s", e.msg);
	if (strcmp(state, "Paused") != 0 && strcmp(state, "Resumed") != 0)
		return fault("unknown state '%s' (Paused, Resumed)", state);
	if (!started(a))
		return fault(NOT_BEFORE_START);
	if (strcmp(state, "Paused") == 0)
		mvm_pause(a->c.m);
	else
		mvm_resume(a->c.m);
	a->paused = strcmp(state, "Paused") == 0;
	return ok(NULL);
}

/* ---- routing ------------------------------------------------------------------------------ */

/* The id after a prefix such as "/drives/", or NULL when url is not under it. */
static const char *id_under(const char *url, const char *prefix)
{
	size_t n = strlen(prefix);

	if (strncmp(url, prefix, n) != 0 || !url[n] || strchr(url + n, '/'))
		return NULL;
	return url + n;
}

static struct reply route(struct mvm_api *a, const char *method, const char *url, const char *body)
{
	bool get = strcmp(method, "GET") == 0, put = strcmp(method, "PUT") == 0;
	bool patch = strcmp(method, "PATCH") == 0;
	const char *id;

	if (get && *body)
		return fault("GET request cannot have a body.");
	if (get && strcmp(url, "/") == 0)
		return get_instance(a);
	if (get && strcmp(url, "/machine-config") == 0)
		return ok(vmconfig_machine_to_json(a->c.cfg));
	if (get && strcmp(url, "/vm/config") == 0)
		return ok(vmconfig_to_json(a->c.cfg));
	if (get && strcmp(url, "/mvm/queues") == 0)
		return get_queues(a);
	if (get && strcmp(url, "/mvm/vfio") == 0)
		return get_vfio(a);
	if (put && strcmp(url, "/machine-config") == 0)
		return put_machine(a, body);
	if (patch && strcmp(url, "/machine-config") == 0)
		return put_config(a, "machine-config", NULL, body);
	if (put && strcmp(url, "/boot-source") == 0)
		return put_config(a, "boot-source", NULL, body);
	if (put && strcmp(url, "/entropy") == 0)
		return put_config(a, "entropy", NULL, body);
	if (put && (id = id_under(url, "/drives/")))
		return put_config(a, "drives", id, body);
	if (put && (id = id_under(url, "/network-interfaces/")))
		return put_config(a, "network-interfaces", id, body);
	if (put && strcmp(url, "/vsock") == 0)
		return put_config(a, "vsock", NULL, body);
	if (put && strcmp(url, "/actions") == 0)
		return put_action(a, body);
	if (patch && strcmp(url, "/vm") == 0)
		return patch_vm(a, body);
	/* Firecracker's answer to any other method and path, path without its slash. */
	return fault("Invalid request method and/or path: %s %s.", method, url + (*url == '/'));
}

static enum MHD_Result send_reply(struct MHD_Connection *conn, struct reply r)
{
	const char *text =
		r.json ? json_object_to_json_string_ext(
				 r.json, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)
		       : "";
	struct MHD_Response *resp =
		MHD_create_response_from_buffer(strlen(text), (void *)text, MHD_RESPMEM_MUST_COPY);
	enum MHD_Result rc;

	json_object_put(r.json);
	if (!resp)
		return MHD_NO;
	if (r.status != MHD_HTTP_NO_CONTENT)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
	rc = MHD_queue_response(conn, r.status, resp);
	MHD_destroy_response(resp);
	return rc;
}

/* libmicrohttpd calls this first with the headers, then per piece of body, then once more. */
static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
				  const char *method, const char *version, const char *upload,
				  size_t *upload_size, void **req)
{
	struct mvm_api *a = cls;
	struct body *b = *req;

	(void)version;
	if (!b) {
		b = calloc(1, sizeof(*b));
		if (!b)
			return MHD_NO;
		*req = b;
		return MHD_YES;
	}
	if (*upload_size) {
		if (!b->too_big && b->len + *upload_size <= MVM_API_MAX_BODY) {
			char *p = realloc(b->data, b->len + *upload_size + 1);

			if (!p)
				return MHD_NO;
			memcpy(p + b->len, upload, *upload_size);
			b->data = p;
			b->len += *upload_size;
			b->data[b->len] = 0;
		} else {
			b->too_big = true; /* read to the end, then refuse */
		}
		*upload_size = 0;
		return MHD_YES;
	}
	if (b->too_big)
		return send_reply(conn, fault("Request payload is larger than the limit of %d "
					      "bytes allowed by the server.",
					      MVM_API_MAX_BODY));
	if (b->data && strlen(b->data) != b->len)
		return send_reply(conn, fault("the request body contains a NUL byte"));
	return send_reply(conn, route(a, method, url, b->data ? b->data : ""));
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **req,
			 enum MHD_RequestTerminationCode why)
{
	struct body *b = *req;

	(void)cls;
	(void)conn;
	(void)why;
	if (b)
		free(b->data);
	free(b);
	*req = NULL;
}

/* ---- the socket and the server ------------------------------------------------------------ */

/* A socket file nobody listens on is left over from an earlier run: it may go. */
static bool stale_socket(const struct sockaddr_un *sa)
{
	struct stat st;
	int fd;
	bool stale;

	if (stat(sa->sun_path, &st) < 0 || !S_ISSOCK(st.st_mode))
		return false;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return false;
	stale = connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) < 0 && errno == ECONNREFUSED;
	close(fd);
	return stale;
}

static int listen_unix(const char *path, struct err *e)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path))
		return err_input(e, ENAMETOOLONG, "%s: socket path longer than %zu bytes", path,
				 sizeof(sa.sun_path) - 1);
	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return err_set(e, errno, "socket: %s", strerror(errno));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int err = errno;

		if (err == EADDRINUSE && stale_socket(&sa) && unlink(path) == 0 &&
		    bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
			goto listen;
		close(fd);
		return err_input(e, err, "%s: %s", path,
				 err == EADDRINUSE ? "in use (another VM's socket?)"
						   : strerror(err));
	}
listen:
	if (listen(fd, 16) < 0) {
		int err = errno;

		close(fd);
		return err_input(e, err, "%s: listen: %s", path, strerror(err));
	}
	return fd;
}

/*
 * One request to ourselves: once it is answered, the server's thread has set itself up (it
 * names itself with prctl, which the seccomp filter installed later would not allow).
 */
static int ping(const char *path, struct err *e)
{
	static const char req[] = "GET / HTTP/1.0\r\n\r\n";
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct pollfd p;
	char buf[512];
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), rc = -EIO;
	ssize_t n;

	memcpy(sa.sun_path, path, strlen(path) + 1);
	if (fd < 0)
		return err_set(e, errno, "socket: %s", strerror(errno));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    write(fd, req, sizeof(req) - 1) != (ssize_t)(sizeof(req) - 1))
		goto out;
	p = (struct pollfd){ .fd = fd, .events = POLLIN };
	while (poll(&p, 1, 5000) == 1 && (n = read(fd, buf, sizeof(buf))) > 0)
		if (n > 12 && strncmp(buf, "HTTP/1.", 7) == 0 && strncmp(buf + 8, " 200", 4) == 0)
			rc = 0;
out:
	close(fd);
	return rc ? err_set(e, EIO, "%s: the HTTP server does not answer", path) : 0;
}

int mvm_api_open(struct mvm_api **out, const struct mvm_api_config *c, struct err *e)
{
	struct mvm_api *a = calloc(1, sizeof(*a));

	if (!a)
		return err_set(e, ENOMEM, "%s", strerror(ENOMEM));
	a->c = *c;
	pthread_mutex_init(&a->lock, NULL);
	pthread_cond_init(&a->changed, NULL);
	a->fd = listen_unix(c->sock_path, e);
	if (a->fd < 0) {
		int rc = a->fd;

		free(a);
		return rc;
	}
	/* One internal thread serves the requests, one at a time, with poll(). */
	a->daemon =
		MHD_start_daemon(MHD_USE_POLL_INTERNAL_THREAD, 0, NULL, NULL, on_request, a,
				 MHD_OPTION_LISTEN_SOCKET, a->fd, MHD_OPTION_NOTIFY_COMPLETED,
				 on_completed, a, MHD_OPTION_CONNECTION_LIMIT, 16u, MHD_OPTION_END);
	if (!a->daemon) {
		close(a->fd);
		free(a);
		return err_set(e, EIO, "%s: the HTTP server (libmicrohttpd) did not start",
			       c->sock_path);
	}
	if (ping(c->sock_path, e)) {
		mvm_api_close(a);
		return -EIO;
	}
	*out = a;
	return 0;
}

void mvm_api_set_started(struct mvm_api *a)
{
	pthread_mutex_lock(&a->lock);
	a->state = API_RUNNING;
	pthread_cond_broadcast(&a->changed);
	pthread_mutex_unlock(&a->lock);
}

int mvm_api_wait_start(struct mvm_api *a)
{
	int rc;

	pthread_mutex_lock(&a->lock);
	while (a->state == API_NOT_STARTED)
		pthread_cond_wait(&a->changed, &a->lock);
	rc = a->state == API_RUNNING ? 0 : -ECANCELED;
	pthread_mutex_unlock(&a->lock);
	return rc;
}

void mvm_api_cancel(struct mvm_api *a)
{
	pthread_mutex_lock(&a->lock);
	if (a->state == API_NOT_STARTED)
		a->state = API_CANCELLED;
	pthread_cond_broadcast(&a->changed);
	pthread_mutex_unlock(&a->lock);
}

void mvm_api_close(struct mvm_api *a)
{
	if (!a)
		return;
	MHD_stop_daemon(a->daemon);
	close(a->fd);
	pthread_mutex_destroy(&a->lock);
	pthread_cond_destroy(&a->changed);
	free(a);
}
