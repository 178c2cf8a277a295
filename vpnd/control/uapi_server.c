/* UAPI connections on the packet loop: see uapi_server.h. */
#include "vpnd/control/uapi_server.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "crypto/crypto.h"
#include "vpnd/control/uapi.h"

#define READ_CHUNK 4096

void uapi_server_init(struct uapi_server *s)
{
	memset(s, 0, sizeof(*s));
	for (unsigned i = 0; i < UAPI_CONN_MAX; i++)
		s->conn[i].fd = -1;
}

static void conn_close(struct uapi_conn *c)
{
	if (c->buf) {
		wg_secure_wipe(c->buf, c->cap);
		free(c->buf);
	}
	close(c->fd);
	memset(c, 0, sizeof(*c));
	c->fd = -1;
}

int uapi_server_add(struct uapi_server *s, int fd, uint64_t now)
{
	unsigned oldest = 0;

	for (unsigned i = 0; i < UAPI_CONN_MAX; i++) {
		if (s->conn[i].fd < 0) {
			oldest = i;
			break;
		}
		if (s->conn[i].seq < s->conn[oldest].seq)
			oldest = i;
	}
	/* All taken: the oldest goes, so that idle clients can never lock
	 * the operator out for longer than one of them takes to be oldest. */
	if (s->conn[oldest].fd >= 0)
		conn_close(&s->conn[oldest]);
	s->conn[oldest].fd = fd;
	s->conn[oldest].deadline_ns = now + UAPI_DEADLINE_NS;
	s->conn[oldest].seq = s->accepted++;
	return (int)oldest;
}

static bool request_complete(const char *buf, size_t len)
{
	return (len == 1 && buf[0] == '\n') || (len >= 2 && !memcmp(buf + len - 2, "\n\n", 2));
}

/* Room for READ_CHUNK more bytes and a terminator; false past the cap. */
static bool grow(struct uapi_conn *c)
{
	size_t ncap;
	char *nb;

	if (c->len + READ_CHUNK + 1 <= c->cap)
		return true;
	ncap = c->cap ? c->cap * 2 : 2 * READ_CHUNK;
	if (ncap > UAPI_MAX_REQUEST + READ_CHUNK + 1)
		return false;
	nb = wg_realloc_wiped(c->buf, c->cap, ncap);
	if (!nb)
		return false;
	c->buf = nb;
	c->cap = ncap;
	return true;
}

/* Reads what is there; answers a whole request. */
static enum uapi_conn_state conn_read(struct uapi_conn *c, struct device *dev)
{
	for (;;) {
		ssize_t n;
		char *answer;
		size_t answer_len;

		if (!grow(c))
			return UAPI_CONN_CLOSED;	/* oversized request */
		n = read(c->fd, c->buf + c->len, c->cap - c->len - 1);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return UAPI_CONN_WANTS_READ;
		if (n <= 0)
			return UAPI_CONN_CLOSED;	/* end before the request did */
		c->len += (size_t)n;
		c->buf[c->len] = '\0';
		if (!request_complete(c->buf, c->len))
			continue;
		answer = uapi_answer(dev, c->buf, &answer_len);
		wg_secure_wipe(c->buf, c->cap);
		free(c->buf);
		c->buf = answer;
		c->len = c->cap = answer_len;
		c->off = 0;
		c->answering = true;
		return answer ? UAPI_CONN_WANTS_WRITE : UAPI_CONN_CLOSED;
	}
}

static enum uapi_conn_state conn_write(struct uapi_conn *c)
{
	while (c->off < c->len) {
		ssize_t n = write(c->fd, c->buf + c->off, c->len - c->off);

		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return UAPI_CONN_WANTS_WRITE;
		if (n <= 0)
			return UAPI_CONN_CLOSED;
		c->off += (size_t)n;
	}
	return UAPI_CONN_CLOSED;	/* all written: the exchange is over */
}

enum uapi_conn_state uapi_server_ready(struct uapi_server *s, unsigned i,
				       struct device *dev, uint64_t now)
{
	struct uapi_conn *c = &s->conn[i];
	enum uapi_conn_state st;

	if (i >= UAPI_CONN_MAX || c->fd < 0)
		return UAPI_CONN_CLOSED;
	if (now >= c->deadline_ns)
		st = UAPI_CONN_CLOSED;
	else if (!c->answering)
		st = conn_read(c, dev);
	else
		st = UAPI_CONN_WANTS_WRITE;
	if (st == UAPI_CONN_WANTS_WRITE)
		st = conn_write(c);
	if (st == UAPI_CONN_CLOSED)
		conn_close(c);
	return st;
}

uint64_t uapi_server_expire(struct uapi_server *s, uint64_t now)
{
	uint64_t next = 0;

	for (unsigned i = 0; i < UAPI_CONN_MAX; i++) {
		struct uapi_conn *c = &s->conn[i];

		if (c->fd < 0)
			continue;
		if (now >= c->deadline_ns)
			conn_close(c);
		else if (!next || c->deadline_ns < next)
			next = c->deadline_ns;
	}
	return next;
}

void uapi_server_close_all(struct uapi_server *s)
{
	for (unsigned i = 0; i < UAPI_CONN_MAX; i++)
		if (s->conn[i].fd >= 0)
			conn_close(&s->conn[i]);
}
