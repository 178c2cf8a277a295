/* Configurations written back out; see saveconf.h. Key text is built in
 * small buffers that are wiped after use. */
#include "vpnd/control/saveconf.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "crypto/crypto.h"
#include "vpnd/common/atomic_file.h"
#include "vpnd/control/uapi.h"

/* One [Peer], whatever it was read from. */
struct peer_view {
	const uint8_t *public_key;
	const uint8_t *preshared_key;	/* NULL: none */
	const struct ip_prefix *allowed_ips;
	size_t n_allowed_ips;
	const char *endpoint;		/* NULL or "" : none */
	uint16_t keepalive;
};

static void put_key(FILE *f, const char *name, const uint8_t *key)
{
	char b64[KEY_B64_LEN + 1];

	wg_key_to_base64(b64, key);
	fprintf(f, "%s = %s\n", name, b64);
	wg_secure_wipe(b64, sizeof(b64));
}

static void put_prefixes(FILE *f, const char *name, const struct ip_prefix *p, size_t n)
{
	char buf[64];

	if (!n)
		return;
	fprintf(f, "%s = ", name);
	for (size_t i = 0; i < n; i++) {
		format_prefix(buf, sizeof(buf), &p[i]);
		fprintf(f, "%s%s", i ? ", " : "", buf);
	}
	fputc('\n', f);
}

static void put_peer(FILE *f, const struct peer_view *v)
{
	fprintf(f, "\n[Peer]\n");
	put_key(f, "PublicKey", v->public_key);
	if (v->preshared_key)
		put_key(f, "PresharedKey", v->preshared_key);
	put_prefixes(f, "AllowedIPs", v->allowed_ips, v->n_allowed_ips);
	if (v->endpoint && v->endpoint[0])
		fprintf(f, "Endpoint = %s\n", v->endpoint);
	if (v->keepalive)
		fprintf(f, "PersistentKeepalive = %u\n", v->keepalive);
}

static void put_config_peer(FILE *f, const struct config_peer *cp)
{
	struct peer_view v = {
		.public_key = cp->public_key,
		.preshared_key = cp->has_preshared_key ? cp->preshared_key : NULL,
		.allowed_ips = cp->allowed_ips,
		.n_allowed_ips = cp->n_allowed_ips,
		.endpoint = cp->has_endpoint ? cp->endpoint_text : NULL,
		.keepalive = cp->persistent_keepalive,
	};

	put_peer(f, &v);
}

static void put_running_peer(FILE *f, const struct running_peer *rp)
{
	char ep[128] = "";
	struct peer_view v = {
		.public_key = rp->public_key,
		.preshared_key = rp->has_preshared_key ? rp->preshared_key : NULL,
		.allowed_ips = rp->allowed_ips,
		.n_allowed_ips = rp->n_allowed_ips,
		.endpoint = ep,
		.keepalive = rp->persistent_keepalive,
	};

	if (rp->has_endpoint)
		format_endpoint(ep, sizeof(ep), &rp->endpoint);
	put_peer(f, &v);
}

void saveconf_strip(FILE *f, const struct config *cfg)
{
	fprintf(f, "[Interface]\n");
	if (cfg->has_private_key)
		put_key(f, "PrivateKey", cfg->private_key);
	if (cfg->has_listen_port)
		fprintf(f, "ListenPort = %u\n", cfg->listen_port);
	if (cfg->fwmark)
		fprintf(f, "FwMark = 0x%x\n", cfg->fwmark);
	for (size_t i = 0; i < cfg->n_peers; i++)
		put_config_peer(f, &cfg->peers[i]);
}

static void put_running_interface(FILE *f, const struct running_state *rs)
{
	if (rs->has_private_key)
		put_key(f, "PrivateKey", rs->private_key);
	if (rs->listen_port)
		fprintf(f, "ListenPort = %u\n", rs->listen_port);
	if (rs->fwmark)
		fprintf(f, "FwMark = 0x%x\n", rs->fwmark);
}

void saveconf_running(FILE *f, const struct running_state *rs)
{
	fprintf(f, "[Interface]\n");
	put_running_interface(f, rs);
	for (size_t i = 0; i < rs->n_peers; i++)
		put_running_peer(f, &rs->peers[i]);
}

static void put_hooks(FILE *f, const char *name, char **cmds, size_t n)
{
	for (size_t i = 0; i < n; i++)
		fprintf(f, "%s = %s\n", name, cmds[i]);
}

/* DNS = servers (without their /32 or /128), then search domains. */
static void put_dns(FILE *f, const struct config *cfg)
{
	char a[INET6_ADDRSTRLEN];
	size_t n = 0;

	if (!cfg->n_dns && !cfg->n_dns_search)
		return;
	fprintf(f, "DNS = ");
	for (size_t i = 0; i < cfg->n_dns; i++)
		if (inet_ntop(cfg->dns[i].family, cfg->dns[i].addr, a, sizeof(a)))
			fprintf(f, "%s%s", n++ ? ", " : "", a);
	for (size_t i = 0; i < cfg->n_dns_search; i++)
		fprintf(f, "%s%s", n++ ? ", " : "", cfg->dns_search[i]);
	fputc('\n', f);
}

/* The [Interface] keys that are the file's and not the device's. */
static void put_own_keys(FILE *f, const struct config *cfg)
{
	put_prefixes(f, "Address", cfg->addresses, cfg->n_addresses);
	put_dns(f, cfg);
	if (cfg->mtu && cfg->mtu != CONFIG_DEFAULT_MTU)
		fprintf(f, "MTU = %u\n", cfg->mtu);
	if (cfg->table_mode == TABLE_OFF)
		fprintf(f, "Table = off\n");
	else if (cfg->table_mode == TABLE_ID)
		fprintf(f, "Table = %u\n", cfg->table);
	if (cfg->peer_to_peer != P2P_KERNEL)
		fprintf(f, "PeerToPeer = %s\n", p2p_mode_name(cfg->peer_to_peer));
	if (cfg->kill_switch)
		fprintf(f, "KillSwitch = true\n");
	put_hooks(f, "PreUp", cfg->pre_up, cfg->n_pre_up);
	put_hooks(f, "PostUp", cfg->post_up, cfg->n_post_up);
	put_hooks(f, "PreDown", cfg->pre_down, cfg->n_pre_down);
	put_hooks(f, "PostDown", cfg->post_down, cfg->n_post_down);
	fprintf(f, "SaveConfig = true\n");
}

/* True if cfg read this peer from a file other than main_path (NAME.d). */
static bool from_peer_dir(const struct config *cfg, const char *main_path, const uint8_t *pub)
{
	for (size_t i = 0; i < cfg->n_peers; i++)
		if (wg_ct_equal(cfg->peers[i].public_key, pub, KEY_LEN))
			return strcmp(cfg->peers[i].file, main_path) != 0;
	return false;
}

void saveconf_merged(FILE *f, const struct config *cfg, const char *main_path,
		     const struct running_state *rs)
{
	fprintf(f, "[Interface]\n");
	put_own_keys(f, cfg);
	put_running_interface(f, rs);
	for (size_t i = 0; i < rs->n_peers; i++)
		if (!from_peer_dir(cfg, main_path, rs->peers[i].public_key))
			put_running_peer(f, &rs->peers[i]);
}

int saveconf_write(const char *path, const struct config *cfg, const struct running_state *rs,
		   char *err, size_t err_len)
{
	struct atomic_file af;
	int ret = atomic_file_open(&af, path);

	if (ret == 0) {
		saveconf_merged(af.f, cfg, path, rs);
		ret = atomic_file_commit(&af, ATOMIC_REPLACE);
	}
	if (ret < 0)
		snprintf(err, err_len, "SaveConfig: cannot write %s: %s", path, strerror(-ret));
	return ret;
}

int saveconf_fetch(const char *ifname, struct running_state *rs, char *err, size_t err_len)
{
	char *answer = uapi_request(ifname, "get=1\n\n", err, err_len);
	int ret;

	memset(rs, 0, sizeof(*rs));
	if (!answer)
		return -1;
	ret = running_state_parse(rs, answer, err, err_len);
	uapi_answer_free(answer);
	return ret;
}
