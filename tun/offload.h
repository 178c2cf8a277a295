/* TUN offloads (IFF_VNET_HDR): the kernel hands us TCP (and UDP) super-
 * packets of up to 64 KiB with a virtio_net_hdr in front and checksums left
 * partial; we split them into MTU-sized IP packets with full checksums, so
 * one read() brings tens of packets. On the way back we write packets with a
 * zero header ("no offload, checksum done").
 *
 * Bytes in, bytes out: no fd here except tun_enable_offload(). */
#ifndef VPND_OFFLOAD_H
#define VPND_OFFLOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VNET_HDR_LEN 10		/* struct virtio_net_hdr */

/* Asks the kernel for checksum and TSO4/TSO6 (and USO4/USO6 where it has
 * them) on a TUN opened with IFF_VNET_HDR. Returns the accepted flags. */
int tun_enable_offload(int fd, unsigned *accepted);

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
 * does not fit). */
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
 * packet (merged_len + b's payload) still under 64 KiB. */
bool gro_can_merge(const uint8_t *first, size_t first_len, const uint8_t *prev, size_t prev_len,
		   const uint8_t *b, size_t b_len, size_t merged_len);

/* Writes n packets to a TUN opened with IFF_VNET_HDR, merging runs of
 * consecutive segments of one TCP flow into one write with a GSO header,
 * so the kernel takes tens of packets per system call. */
void tun_write_batch(int fd, struct tun_pkt *pkts, size_t n);

#endif
