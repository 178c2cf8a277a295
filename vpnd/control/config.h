/* wg-quick-compatible configuration files.
 *
 *   NAME.conf        [Interface] and optionally [Peer] sections
 *   NAME.d/FILE.conf  more [Peer] sections, one file per peer on a server
 *
 * A config with any error is refused whole; the error names the file, the
 * line, what is wrong and the bad text:
 *   "/etc/vpnd/wg0.conf:7: invalid AllowedIPs: '10.0.0.0/33'"
 * Parsing has no side effect but reading files and resolving host names. */
#ifndef VPND_CONFIG_H
#define VPND_CONFIG_H

#include <limits.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "crypto/crypto.h"
#include "vpnd/common/net.h"
#include "vpnd/common/p2p.h"

#define CONFIG_DEFAULT_MTU DEFAULT_TUNNEL_MTU

struct config_peer {
	uint8_t public_key[KEY_LEN];
	bool has_preshared_key;
	uint8_t preshared_key[KEY_LEN];
	struct ip_prefix *allowed_ips;
	size_t n_allowed_ips;
	bool has_endpoint;
	union sockaddr_any endpoint;	/* resolved */
	char endpoint_text[256];	/* as written, for re-resolution */
	uint16_t persistent_keepalive;	/* seconds, 0 = off */
	char file[PATH_MAX];		/* where the [Peer] section starts */
	int line;
};

/* Table = (wg-quick): where AllowedIPs routes go. */
enum config_table {
	TABLE_AUTO = 0,	/* main; a /0 goes to the full-tunnel table (fulltunnel.h) */
	TABLE_OFF,	/* no routes at all */
	TABLE_ID,	/* every route, /0 included, in config.table; no rules */
};

struct config {
	bool has_private_key;
	uint8_t private_key[KEY_LEN];
	struct ip_prefix *addresses;
	size_t n_addresses;
	bool has_listen_port;
	uint16_t listen_port;
	unsigned mtu;			/* CONFIG_DEFAULT_MTU unless set */
	uint32_t fwmark;
	enum p2p_mode peer_to_peer;	/* P2P_KERNEL unless set */
	enum config_table table_mode;
	uint32_t table;			/* TABLE_ID only */
	bool kill_switch;		/* KillSwitch = true (fulltunnel.h) */
	bool save_config;		/* SaveConfig = true: vpnd down writes peers back */
	/* DNS = (dns.h): addresses (cidr 32/128) and search domains (only
	 * letters, digits, '-', '_', '.': they go into resolvconf's input). */
	struct ip_prefix *dns;
	size_t n_dns;
	char **dns_search;
	size_t n_dns_search;
	struct config_peer *peers;
	size_t n_peers;
	/* wg-quick hooks, in file order; run by vpnd up/down with %i. */
	char **pre_up, **post_up, **pre_down, **post_down;
	size_t n_pre_up, n_post_up, n_pre_down, n_post_down;
};

enum config_status {
	CONFIG_OK = 0,
	CONFIG_ERR_IO,		/* cannot open/read a file */
	CONFIG_ERR_SYNTAX,	/* bad line, unknown section or key, bad value */
	CONFIG_ERR_NOMEM,
	CONFIG_ERR_UNRESOLVED,	/* an Endpoint host name did not resolve (yet): retry */
};

/* Loads path and every *.conf in the sibling directory "<path minus .conf>.d"
 * (sorted by name). On error cfg is left empty and err holds the message.
 * Warnings (e.g. a private key readable by group/others) go to warn_fn. */
enum config_status config_load(struct config *cfg, const char *path, char *err, size_t err_len,
			       void (*warn_fn)(const char *msg));
/* Same, for text already in memory; name is used in messages. */
enum config_status config_parse_text(struct config *cfg, const char *text, const char *name,
				     char *err, size_t err_len);
/* Wipes the private and preshared keys but keeps the rest (addresses,
 * hooks, endpoints): for a process that holds a config after applying it. */
void config_wipe_secrets(struct config *cfg);
/* Frees everything and wipes key material. Safe on a zeroed struct. */
void config_free(struct config *cfg);

#endif
