/* The event loop's packet I/O: what to do when the TUN or the UDP socket is
 * readable. Each call reads bounded rounds (so timers and the other side
 * get their turn) and flushes the batches it filled. */
#ifndef VPND_DATAPATH_PACKET_IO_H
#define VPND_DATAPATH_PACKET_IO_H

#include <stdbool.h>
#include <stdint.h>

struct device;

enum io_result {
	IO_OK,
	IO_LINK_GONE,	/* the TUN says the interface was deleted: stop */
	IO_RING_FAILED,	/* the io_uring read cannot go on: close the ring,
			 * poll the TUN fd and read() from now on */
};

/* Asks the kernel to tell, with each datagram received on the UDP socket
 * fd (of family), our address it was sent to (IP_PKTINFO, and
 * IPV6_RECVPKTINFO on an IPv6 socket), so that replies leave from it, and
 * its outer TOS / traffic class (IP_RECVTOS, IPV6_RECVTCLASS), whose ECN
 * field reaches the inner packet (ecn.h). Whoever creates the socket
 * calls it. -errno. */
int udp_enable_pktinfo(int fd, int family);

/* The TUN (or, with dev->tun_ring, the ring's fd) is readable. */
enum io_result packet_io_tun_readable(struct device *dev, uint64_t now);
void packet_io_udp_readable(struct device *dev, uint64_t now);

/* True when the loop should read the TUN at once (packet_io_tun_readable)
 * instead of through another epoll_wait: the UDP turn just handled wrote to
 * the TUN, and the kernel handles a TUN write in the writer's context, so
 * its answer (a ping's echo reply, TCP's ACKs) is often queued on the TUN
 * when write() returns. A try that finds nothing (the host only receives:
 * a client's ping replies, a one-way stream) lets the next
 * TUN_ANSWER_BACKOFF UDP turns that wrote to the TUN pass without one, so
 * such traffic pays one empty read per that many turns. Never with a
 * tun_ring (its reads are not read() calls). */
#define TUN_ANSWER_BACKOFF 64
bool packet_io_tun_answer_due(struct device *dev);

#endif
