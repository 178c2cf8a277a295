/* Full tunnel (the road-warrior client), as wg-quick does it, per address
 * family whose AllowedIPs hold a /0 under Table = auto:
 *   - the UDP socket carries FwMark (default: the table T);
 *   - the /0 route goes to table T, never to main: T = FwMark if set, else
 *     the first of 51820, 51821, ... that no route or rule uses (wg-quick);
 *   - rules "not fwmark T lookup T" and "lookup main suppress_prefixlength 0";
 *   - net.ipv4.conf.all.src_valid_mark=1 (old value restored on down);
 *   - nftables table "inet vpnd-IFNAME": the anti-spoof drop of packets for
 *     the tunnel's addresses arriving on other interfaces, and the conntrack
 *     mark save/restore for rp_filter (wg-quick's raw/mangle rules);
 *   - KillSwitch = true: an "unreachable default" route in table T that
 *     stays when the interface goes, so nothing leaks while the daemon is
 *     down-but-configured, until vpnd down.
 * What was done is written to STATE_DIR/IFNAME.fulltunnel before each step,
 * so that vpnd down, a failed up, the monitor after a worker's crash, or the
 * next up after the monitor's own crash, undo exactly that. */
#ifndef VPND_CONTROL_FULLTUNNEL_H
#define VPND_CONTROL_FULLTUNNEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vpnd/control/config.h"

#define FULLTUNNEL_TABLE 51820
#define FULLTUNNEL_TABLE_TRIES 1000	/* 51820..52819, then a refusal */
#define FULLTUNNEL_STATE_DIR "/var/run/vpnd"

struct nl;

/* The fwmark for the UDP socket: FwMark if set, else the full-tunnel table
 * when a /0 needs one (picked: the one fulltunnel_pick_table chose at up,
 * or the running fwmark on reload; 0: FULLTUNNEL_TABLE), else 0 (none).
 * The one place that decides it. */
uint32_t fulltunnel_fwmark(const struct config *cfg, uint32_t picked);

/* At up, before the socket is marked: the table of a full tunnel into
 * *table (0 without one). 0, or -errno with err set. */
int fulltunnel_pick_table(struct nl *nl, const struct config *cfg, uint32_t *table, char *err,
			  size_t err_len);

/* True if cfg routes a /0 of family through the policy-routing table. */
bool fulltunnel_family(const struct config *cfg, int family);

/* Checks that need the whole config, before anything on the host is
 * touched: KillSwitch without a full tunnel is refused (it would protect
 * nothing), and so is a full tunnel whose interface name cannot name an
 * nftables table. 0, or -EINVAL with err set. */
int fulltunnel_check(const char *ifname, const struct config *cfg, char *err, size_t err_len);

/* Installs everything for ifname (already up, its /0 allowed IPs in the
 * device) with the table fulltunnel_pick_table chose. Nothing to do: 0.
 * On error, -errno and err; the caller then closes the interface and calls
 * fulltunnel_undo. */
int fulltunnel_up(struct nl *nl, const char *ifname, unsigned ifindex, const struct config *cfg,
		  uint32_t table, char *err, size_t err_len);

enum fulltunnel_undo {
	FULLTUNNEL_NOTHING,	/* no state file */
	FULLTUNNEL_UNDONE,	/* everything recorded was removed */
	FULLTUNNEL_KEPT,	/* kill switch held (keep_kill_switch) */
	FULLTUNNEL_FAILED,	/* some step failed: err says which; state kept */
};

/* Undoes what the state file of ifname records. Call after the interface
 * is gone (its routes go with it). keep_kill_switch: a daemon that died
 * unasked leaves everything of a KillSwitch config in place. */
enum fulltunnel_undo fulltunnel_undo(const char *ifname, bool keep_kill_switch, char *err,
				     size_t err_len);

#endif
