/* The monitor <-> worker channel: the worker holds no CAP_NET_ADMIN and no
 * netlink socket, so the root monitor makes and binds its UDP sockets and
 * sets their mark, and passes them over (SCM_RIGHTS) on a SOCK_SEQPACKET
 * socketpair made before the fork. The monitor also watches the link (route
 * netlink) and stops the worker when the interface is deleted.
 *
 * Requests are fixed-size records; the monitor trusts nothing in them but
 * the port and mark it is asked for: a worker can only get UDP sockets, on
 * unprivileged ports (which any user may bind) or on the one privileged
 * port (< 1024) the operator's config names (broker_allow_port). A port
 * below 1024 asked for otherwise (`wg set listen-port 53`, or a worker
 * taken over to impersonate a host service) is refused with EACCES and
 * logged: the root monitor never binds a privileged port on the word of
 * the unprivileged worker alone. */
#ifndef VPND_DAEMON_BROKER_H
#define VPND_DAEMON_BROKER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "vpnd/datapath/device.h"

#include "tun/netlink.h"

/* The monitor's side: a thread serving the channel and the link watch. */
struct broker {
	int fd;			/* monitor's end of the channel */
	int events_fd;		/* monitor's end of the link events (one way) */
	struct nl_link link;	/* where the interface is: it may move (netns) */
	pid_t worker;
	struct nl_watch *watch;
	pthread_t thread;
	bool started;
	char ifname[16];
	_Atomic uint16_t low_port;	/* the config's port if < 1024, else 0 */
};

/* The privileged port the config names (its ListenPort when below 1024;
 * anything else: none). Set before broker_start and after each reload. */
void broker_allow_port(struct broker *b, uint16_t config_port);
/* Whether the worker may have a socket on port (0 = any free port). */
bool broker_port_allowed(const struct broker *b, uint16_t port);

/* SO_MARK on fd (0 clears): 0 or -errno. Root (CAP_NET_ADMIN) only; the
 * one place vpnd sets a socket's mark. */
int broker_set_mark(int fd, uint32_t mark);

/* Makes the channel: sv[0] for the monitor, sv[1] for the worker. -1 on
 * error (errno). */
int broker_channel(int sv[2]);

/* Monitor, after the fork: opens the link watch and starts serving fd for
 * worker. The thread ends when the worker closes its end (it exited).
 * Link events other than deletion (administratively up or down, a new
 * MTU: the kernel's wg_open/wg_stop and padding) go to the worker as
 * records on events_fd, a second, one-way socketpair (broker_channel),
 * so that they never mix with the answers to the worker's requests.
 * A move into another network namespace is not a deletion: the watch
 * follows the link (nl_watch_link), and the worker goes on. */
int broker_start(struct broker *b, int fd, int events_fd, const char *ifname,
		 const struct nl_link *link, pid_t worker, char *err, size_t err_len);
/* Waits for the thread (call once the worker is reaped) and closes all. */
void broker_stop(struct broker *b);

/* Worker: the device's udp_ops, asking the monitor on channel fd; ctx is
 * a pointer to that int fd. */
extern const struct udp_socket_ops broker_udp_ops;

/* Worker: the next link event on events_fd (non-blocking). False when
 * there is none (or the monitor is gone). */
bool broker_read_link(int events_fd, bool *up, unsigned *mtu);

#endif
