/* TUN offloads (IFF_VNET_HDR): the kernel hands us TCP (and UDP) super-
 * packets of up to 64 KiB with a virtio_net_hdr in front and checksums left
 * partial; we split them into MTU-sized IP packets with full checksums, so
 * one read() brings tens of packets. On the way back (tun_write_batch) the
 * segments of one flow in a batch are merged into one super-packet with a
 * GSO header, what the kernel accepted allowing; the others go alone with a
 * zero header ("no offload, checksum done").
 *
 * Bytes in, bytes out: no fd here except tun_enable_offload(). */
#ifndef VPND_OFFLOAD_H
#define VPND_OFFLOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VNET_HDR_LEN 10		/* struct virtio_net_hdr */

/* The TUN_F_* offload bits (linux/if_tun.h; USO is newer than Debian 12's
 * headers): what tun_enable_offload accepted, and what tun_write_batch may
 * use. */
#define TUN_OFF_CSUM 0x01
#define TUN_OFF_TSO4 0x02
#define TUN_OFF_TSO6 0x04
#define TUN_OFF_USO4 0x20
#define TUN_OFF_USO6 0x40

/* Asks the kernel for checksum and TSO4/TSO6 (and USO4/USO6 where it has
 * them: Linux 6.2 on) on a TUN opened with IFF_VNET_HDR. *accepted: the
 * TUN_OFF_* bits the kernel took (0 on failure). 0 or -errno. */
int tun_enable_offload(int fd, unsigned *accepted);

/* True if the virtio_net_hdr at hdr (VNET_HDR_LEN bytes) announces a GSO
 * super-packet, false for a single packet. */
bool vnet_hdr_is_gso(const uint8_t *hdr);

/* Iterates over the segments of one packet read from the TUN. */
struct gso_iter {
	const uint8_t *pkt;	/* the IP packet (after the vnet header) */
	size_t len;
	size_t hdr_len;		/* IP + L4 headers copied into each segment */
	size_t l4_off;		/* offset of the TCP/UDP header */
	size_t seg_size;	/* payload bytes per segment; 0 = no GSO */
	size_t offset;		/* payload bytes already emitted */
	unsigned index;		/* segments emitted */
	uint8_t gso_type;	/* 0 none, 1 TCPv4, 4 TCPv6, 5 UDP L4 */
	bool needs_csum;
	uint16_t csum_start, csum_offset;
};

enum gso_result {
	GSO_OK = 0,
	GSO_ERR_SHORT,		/* shorter than its headers say */
	GSO_ERR_UNSUPPORTED,	/* a GSO type or layout we cannot split */
};

/* in/len: what read() returned (vnet header included). */
enum gso_result gso_begin(struct gso_iter *it, const uint8_t *in, size_t len);
/* Writes the next segment into out (cap bytes) as a complete IP packet with
 * valid checksums; returns its length, or 0 when there are no more (or it
 * does not fit). A single packet (no GSO) may be completed in place: out
 * is then the packet itself (in + VNET_HDR_LEN); a super-packet's segments
 * must not overlap it. */
size_t gso_next(struct gso_iter *it, uint8_t *out, size_t cap);

/* Internet checksum helpers (RFC 1071), exposed for tests. */
uint32_t csum_add(uint32_t sum, const uint8_t *data, size_t len);
uint16_t csum_fold(uint32_t sum);

/* --- writing: merge TCP segments back into super-packets (GRO) ---------- */

/* A decrypted packet waiting for the TUN. VNET_HDR_LEN bytes before data
 * are writable scratch (the vnet header goes there). */
struct tun_pkt {
	uint8_t *data;
	size_t len;
};

/* True if b continues the TCP flow whose segments start with first and end
 * with prev: same addresses, ports, header fields and options, contiguous
 * sequence numbers, plain ACK segments, prev full-sized, and the merged
 * packet (merged_len + b's payload) still under 64 KiB. For UDP: same
 * addresses, ports and header fields, prev as long as the first, b no
 * longer. Either way every segment's own checksums must be valid. */
bool gro_can_merge(const uint8_t *first, size_t first_len, const uint8_t *prev, size_t prev_len,
		   const uint8_t *b, size_t b_len, size_t merged_len);

/* Writes n packets to a TUN opened with IFF_VNET_HDR, so that the kernel
 * takes tens of packets per system call: the segments of one TCP flow, and
 * the equal-sized datagrams of one UDP flow, anywhere in the batch, go as
 * one write with a GSO header (gro_can_merge decides, segment by segment).
 * offloads (TUN_OFF_*, what tun_enable_offload accepted) gates each kind:
 * TCPv4/v6 need CSUM and TSO4/TSO6, UDP needs CSUM and USO4/USO6; without
 * them the kernel would refuse the write, so those packets go alone.
 * Order: the packets of one flow (same addresses, protocol and ports) reach
 * the kernel in the order given; a flow's merge is closed when one of its
 * packets cannot join it, and a packet with no flow we know (not plain TCP
 * or UDP: ICMP, fragments, ...) closes every merge in progress. Packets of
 * different flows may be written in another order than given (each write
 * goes at the position of its first packet). Nothing waits for a later
 * batch: everything given is written before returning. */
void tun_write_batch(int fd, struct tun_pkt *pkts, size_t n, unsigned offloads);

#endif
