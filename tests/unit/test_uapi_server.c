/* Unit tests for the UAPI server's connections (vpnd/control/uapi_server.c)
 * over socketpairs, on a real struct device: a request that arrives a byte
 * at a time never blocks the caller and is answered once whole; a client
 * that stops sending is closed at its deadline; the slots, the request size
 * and a client that never reads its answer are all bounded. Time is passed
 * in, so deadlines are tested without waiting. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "crypto/crypto.h"
#include "vpnd/control/uapi.h"
#include "vpnd/control/uapi_server.h"
#include "vpnd/datapath/device.h"

#define T0 1000000000ull

struct fixture {
	struct device dev;
	struct uapi_server s;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (!f || device_init(&f->dev, "us0") < 0) {
		free(f);
		return -1;
	}
	uapi_server_init(&f->s);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	uapi_server_close_all(&f->s);
	device_destroy(&f->dev);
	free(f);
	return 0;
}

/* A connection: the server's end in a slot (non-blocking), the client's
 * end returned. */
static int connect_one(struct fixture *f, int *slot, uint64_t now)
{
	int sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	fcntl(sv[0], F_SETFL, O_NONBLOCK);
	*slot = uapi_server_add(&f->s, sv[0], now);
	return sv[1];
}

static void send_text(int fd, const char *s)
{
	assert_int_equal(write(fd, s, strlen(s)), (ssize_t)strlen(s));
}

/* Everything the server wrote, once it closed its end. */
static char *read_all(int fd)
{
	static char buf[65536];
	size_t len = 0;
	ssize_t n;

	while ((n = read(fd, buf + len, sizeof(buf) - 1 - len)) > 0)
		len += (size_t)n;
	buf[len] = '\0';
	return buf;
}

/* 1. A get=1 request sent a byte at a time: each step returns at once
 * wanting more; the last byte brings the answer and closes the slot. */
static void test_trickled_request_answered(void **state)
{
	struct fixture *f = *state;
	const char *req = "get=1\n\n";
	int slot, cfd = connect_one(f, &slot, T0);

	assert_int_equal(slot, 0);
	assert_int_equal(uapi_server_ready(&f->s, 0, &f->dev, T0), UAPI_CONN_WANTS_READ);
	for (size_t i = 0; i + 1 < strlen(req); i++) {
		assert_int_equal(write(cfd, req + i, 1), 1);
		assert_int_equal(uapi_server_ready(&f->s, 0, &f->dev, T0 + i),
				 UAPI_CONN_WANTS_READ);
	}
	send_text(cfd, "\n");
	assert_int_equal(uapi_server_ready(&f->s, 0, &f->dev, T0 + 10), UAPI_CONN_CLOSED);
	assert_int_equal(f->s.conn[0].fd, -1);
	assert_non_null(strstr(read_all(cfd), "listen_port="));
	close(cfd);
}

/* 2. A client that stops half-way is closed at its deadline, not before;
 * the earliest pending deadline is reported for the loop's timeout. */
static void test_stalled_client_expires(void **state)
{
	struct fixture *f = *state;
	int slot, cfd = connect_one(f, &slot, T0);

	send_text(cfd, "get=");
	assert_int_equal(uapi_server_ready(&f->s, 0, &f->dev, T0), UAPI_CONN_WANTS_READ);
	assert_int_equal(uapi_server_expire(&f->s, T0 + UAPI_DEADLINE_NS - 1),
			 T0 + UAPI_DEADLINE_NS);
	assert_int_not_equal(f->s.conn[0].fd, -1);
	assert_int_equal(uapi_server_expire(&f->s, T0 + UAPI_DEADLINE_NS), 0);
	assert_int_equal(f->s.conn[0].fd, -1);
	assert_int_equal(read(cfd, (char[8]){ 0 }, 8), 0);	/* closed, no answer */
	close(cfd);
}

/* 3. Only UAPI_CONN_MAX at once: one more takes the oldest one's slot. */
static void test_slots_bounded(void **state)
{
	struct fixture *f = *state;
	int cfd[UAPI_CONN_MAX + 1], slot;

	for (int i = 0; i < UAPI_CONN_MAX; i++) {
		cfd[i] = connect_one(f, &slot, T0 + 10 + (uint64_t)i);
		assert_int_equal(slot, i);
	}
	cfd[UAPI_CONN_MAX] = connect_one(f, &slot, T0 + 100);
	assert_int_equal(slot, 0);			/* the oldest */
	assert_int_equal(read(cfd[0], (char[8]){ 0 }, 8), 0);	/* closed */
	send_text(cfd[UAPI_CONN_MAX], "get=1\n\n");
	assert_int_equal(uapi_server_ready(&f->s, 0, &f->dev, T0 + 101), UAPI_CONN_CLOSED);
	assert_non_null(strstr(read_all(cfd[UAPI_CONN_MAX]), "errno=0"));
	for (int i = 0; i <= UAPI_CONN_MAX; i++)
		close(cfd[i]);
}

/* 3b. Connections accepted in the same loop turn (one clock reading):
 * eviction still goes by order of acceptance, never the newest first (a
 * tie in deadline once sent a just-accepted client out at the next
 * connection: uapi_stall.sh's trickler, cut at 3.5 s instead of 5). */
static void test_slots_evict_in_accept_order(void **state)
{
	struct fixture *f = *state;
	int cfd[UAPI_CONN_MAX + 2], slot;

	for (int i = 0; i < UAPI_CONN_MAX; i++)
		cfd[i] = connect_one(f, &slot, T0);
	cfd[UAPI_CONN_MAX] = connect_one(f, &slot, T0);
	assert_int_equal(slot, 0);			/* the first accepted went */
	assert_int_equal(read(cfd[0], (char[8]){ 0 }, 8), 0);
	cfd[UAPI_CONN_MAX + 1] = connect_one(f, &slot, T0);
	assert_int_equal(slot, 1);			/* the second, not the newest */
	assert_int_equal(read(cfd[1], (char[8]){ 0 }, 8), 0);
	send_text(cfd[UAPI_CONN_MAX], "get=1\n\n");	/* the newer one still served */
	assert_int_equal(uapi_server_ready(&f->s, 0, &f->dev, T0 + 1), UAPI_CONN_CLOSED);
	assert_non_null(strstr(read_all(cfd[UAPI_CONN_MAX]), "errno=0"));
	for (int i = 0; i < UAPI_CONN_MAX + 2; i++)
		close(cfd[i]);
}

/* 4. A request that never ends is cut at UAPI_MAX_REQUEST. */
static void test_oversized_request_closed(void **state)
{
	struct fixture *f = *state;
	static char junk[1 << 16];
	size_t sent = 0;
	int slot, cfd = connect_one(f, &slot, T0);
	enum uapi_conn_state st = UAPI_CONN_WANTS_READ;

	memset(junk, 'a', sizeof(junk));
	fcntl(cfd, F_SETFL, O_NONBLOCK);
	while (st == UAPI_CONN_WANTS_READ && sent < 2 * (size_t)UAPI_MAX_REQUEST) {
		ssize_t n = write(cfd, junk, sizeof(junk));

		if (n > 0)
			sent += (size_t)n;
		st = uapi_server_ready(&f->s, 0, &f->dev, T0);
	}
	assert_int_equal(st, UAPI_CONN_CLOSED);
	assert_true(sent > UAPI_MAX_REQUEST - sizeof(junk));
	close(cfd);
}

/* 5. set=1 goes through (errno=0), an unknown request gets errno=-22, and
 * a client that never reads a large answer leaves the connection waiting
 * to write (not the caller) until its deadline. */
static void test_set_unknown_and_unread_answer(void **state)
{
	struct fixture *f = *state;
	int slot, cfd = connect_one(f, &slot, T0);
	int sz = 4096;

	send_text(cfd, "set=1\nfwmark=7\n\n");
	assert_int_equal(uapi_server_ready(&f->s, 0, &f->dev, T0), UAPI_CONN_CLOSED);
	assert_string_equal(read_all(cfd), "errno=0\n\n");
	assert_int_equal(f->dev.fwmark, 7);
	close(cfd);

	cfd = connect_one(f, &slot, T0);
	send_text(cfd, "bogus=1\n\n");
	assert_int_equal(uapi_server_ready(&f->s, 0, &f->dev, T0), UAPI_CONN_CLOSED);
	assert_string_equal(read_all(cfd), "errno=-22\n\n");
	close(cfd);

	/* 300 peers make an answer larger than a small socket buffer. */
	for (int i = 0; i < 300; i++) {
		uint8_t pub[KEY_LEN];

		wg_random_bytes(pub, sizeof(pub));
		assert_non_null(device_peer_create(&f->dev, pub));
	}
	cfd = connect_one(f, &slot, T0);
	setsockopt(f->s.conn[0].fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	send_text(cfd, "get=1\n\n");
	assert_int_equal(uapi_server_ready(&f->s, 0, &f->dev, T0), UAPI_CONN_WANTS_WRITE);
	assert_int_equal(uapi_server_ready(&f->s, 0, &f->dev, T0 + 1), UAPI_CONN_WANTS_WRITE);
	assert_int_equal(uapi_server_expire(&f->s, T0 + UAPI_DEADLINE_NS), 0);
	assert_int_equal(f->s.conn[0].fd, -1);
	close(cfd);
}

/* A daemon's side that answers with what a compromised worker might, on
 * fd, in a child: mode 0 never ends its answer (a byte every 20 ms), mode 1
 * sends 4 MiB without an end (the test's size limit is 1 MiB). */
static pid_t fake_daemon(int fd, int mode)
{
	static char junk[1 << 16];
	pid_t pid = fork();

	if (pid != 0)
		return pid;
	memset(junk, 'a', sizeof(junk));
	for (int i = 0; i < (mode ? 64 : 100); i++) {
		if (write(fd, junk, mode ? sizeof(junk) : 1) < 0)
			break;
		if (!mode)
			usleep(20000);
	}
	_exit(0);
}

/* One exchange with a fake daemon of mode over a socketpair; err gets
 * uapi_exchange's error. */
static void exchange(int mode, char *err, size_t err_len)
{
	int sv[2], status;
	pid_t child;

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	child = fake_daemon(sv[1], mode);
	close(sv[1]);
	assert_null(uapi_exchange(sv[0], "fake0", "get=1\n\n", err, err_len));
	kill(child, SIGKILL);
	waitpid(child, &status, 0);
	close(sv[0]);
}

/* 6. The client side (the root monitor, reload, show) bounds what it takes
 * from a daemon: one deadline for the whole exchange, a size limit. */
static void test_client_bounds_answer(void **state)
{
	char err[128];

	(void)state;
	uapi_client_deadline_ns = 300ull * 1000 * 1000;
	exchange(0, err, sizeof(err));
	assert_string_equal(err, "fake0: no answer in time");
	/* The size must end it, however long it takes on a loaded machine. */
	uapi_client_deadline_ns = 120ull * 1000 * 1000 * 1000;
	uapi_client_max_answer = 1u << 20;
	exchange(1, err, sizeof(err));
	assert_string_equal(err, "fake0: answer too large");
	uapi_client_deadline_ns = UAPI_CLIENT_DEADLINE_NS;
	uapi_client_max_answer = UAPI_MAX_ANSWER;
}

static int group_setup(void **state)
{
	(void)state;
	return wg_crypto_init() ? 0 : -1;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_trickled_request_answered, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stalled_client_expires, setup, teardown),
		cmocka_unit_test_setup_teardown(test_slots_bounded, setup, teardown),
		cmocka_unit_test_setup_teardown(test_slots_evict_in_accept_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_oversized_request_closed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_set_unknown_and_unread_answer, setup,
						teardown),
		cmocka_unit_test(test_client_bounds_answer),
	};
	return cmocka_run_group_tests(tests, group_setup, NULL);
}
