/* The UAPI server's connections, served on the packet loop without ever
 * blocking it: a connection reads its request as bytes arrive, is answered
 * (uapi_answer) as soon as the request is whole, and writes its answer as
 * the socket takes it. A client that connects and trickles bytes, or never
 * reads its answer, costs one slot until its deadline, never the loop's
 * time: every exchange has one overall deadline (UAPI_DEADLINE_NS from
 * accept), at most UAPI_CONN_MAX connections are open at once (beyond that
 * the oldest, by order of acceptance, not by clock (several are accepted
 * at one clock reading), is closed for the new one), and a request is at most UAPI_MAX_REQUEST
 * bytes. Buffers that held a request or an answer are wiped (keys). */
#ifndef VPND_CONTROL_UAPI_SERVER_H
#define VPND_CONTROL_UAPI_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct device;

#define UAPI_CONN_MAX    8
#define UAPI_DEADLINE_NS (5ull * 1000 * 1000 * 1000)

struct uapi_conn {
	int fd;			/* -1: free slot */
	char *buf;		/* the request, then the answer */
	size_t len, cap, off;	/* off: bytes of the answer written */
	bool answering;
	uint64_t deadline_ns;
	uint64_t seq;		/* order of acceptance: the eviction order */
};

struct uapi_server {
	struct uapi_conn conn[UAPI_CONN_MAX];
	uint64_t accepted;	/* connections so far (the next seq) */
};

/* What the caller's poll must wait for next on the connection's fd. */
enum uapi_conn_state {
	UAPI_CONN_WANTS_READ,
	UAPI_CONN_WANTS_WRITE,
	UAPI_CONN_CLOSED,	/* done or failed: the fd is closed, the slot free */
};

void uapi_server_init(struct uapi_server *s);
/* Takes ownership of fd (accepted, non-blocking) and returns its slot;
 * when every slot is taken, the oldest connection is closed for it. */
int uapi_server_add(struct uapi_server *s, int fd, uint64_t now);
/* Slot i's fd is ready: reads or writes as far as it can without blocking;
 * a whole request is answered against dev at once. */
enum uapi_conn_state uapi_server_ready(struct uapi_server *s, unsigned i,
				       struct device *dev, uint64_t now);
/* Closes every connection past its deadline. Returns the earliest deadline
 * still pending, 0 if none. */
uint64_t uapi_server_expire(struct uapi_server *s, uint64_t now);
void uapi_server_close_all(struct uapi_server *s);

#endif
