/* vpnd peer list: every peer of IFACE's files, with the running state
 * (endpoint, latest handshake, transfer) when IFACE is up, and running
 * peers that are in no file. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "crypto/crypto.h"
#include "vpnd/cli/peer_cmd.h"
#include "vpnd/control/reload.h"
#include "vpnd/control/uapi.h"

static void human_bytes(char *buf, size_t len, uint64_t n)
{
	static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	double v = (double)n;
	int u = 0;

	while (v >= 1024 && u < 4) {
		v /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(buf, len, "%llu B", (unsigned long long)n);
	else
		snprintf(buf, len, "%.2f %s", v, units[u]);
}

static void human_age(char *buf, size_t len, uint64_t sec)
{
	uint64_t now = (uint64_t)time(NULL), age;

	if (!sec) {
		snprintf(buf, len, "never");
		return;
	}
	age = now > sec ? now - sec : 0;
	if (age >= 3600)
		snprintf(buf, len, "%lluh %llum ago", (unsigned long long)(age / 3600),
			 (unsigned long long)(age / 60 % 60));
	else if (age >= 60)
		snprintf(buf, len, "%llum %llus ago", (unsigned long long)(age / 60),
			 (unsigned long long)(age % 60));
	else
		snprintf(buf, len, "%llus ago", (unsigned long long)age);
}

struct row {
	char name[NAME_MAX_LEN + 32], key[KEY_B64_LEN + 1], aips[1024];
	char endpoint[80], handshake[32], transfer[80];
};

enum { COLS = 6 };

static const char *col(const struct row *r, int c)
{
	const char *v[COLS] = { r->name, r->key, r->aips, r->endpoint, r->handshake, r->transfer };

	return v[c];
}

static void live_columns(struct row *r, const struct running_peer *rp)
{
	char rx[32], tx[32];

	if (rp->has_endpoint)
		format_endpoint(r->endpoint, sizeof(r->endpoint), &rp->endpoint);
	else
		snprintf(r->endpoint, sizeof(r->endpoint), "-");
	human_age(r->handshake, sizeof(r->handshake), rp->last_handshake_sec);
	human_bytes(rx, sizeof(rx), rp->rx_bytes);
	human_bytes(tx, sizeof(tx), rp->tx_bytes);
	snprintf(r->transfer, sizeof(r->transfer), "%s / %s", rx, tx);
}

/* A peer's name: its file under IFACE.d without ".conf", or FILE:LINE for
 * a peer written in IFACE.conf itself. */
static void peer_name(char *buf, size_t len, const struct config_peer *cp, const char *dir)
{
	size_t dl = strlen(dir);
	const char *f = cp->file;

	if (!strncmp(f, dir, dl) && f[dl] == '/' && !strchr(f + dl + 1, '/')) {
		size_t n = strlen(f + dl + 1);

		snprintf(buf, len, "%.*s", (int)(n > 5 ? n - 5 : n), f + dl + 1);
	} else {
		char tmp[PATH_MAX];

		snprintf(tmp, sizeof(tmp), "%s", f);
		snprintf(buf, len, "%s:%d", basename(tmp), cp->line);
	}
}

static const struct running_peer *find_live(const struct running_state *rs,
					    const uint8_t key[KEY_LEN])
{
	for (size_t i = 0; i < rs->n_peers; i++)
		if (!memcmp(rs->peers[i].public_key, key, KEY_LEN))
			return &rs->peers[i];
	return NULL;
}

int peer_list(const struct peer_args *a)
{
	struct iface_paths p;
	struct config cfg = { 0 };
	struct running_state rs = { 0 };
	struct row *rows = NULL, head = { "NAME", "PUBLIC KEY", "ALLOWED IPS", "ENDPOINT",
					  "LATEST HANDSHAKE", "TRANSFER (RX / TX)" };
	size_t n = 0, width[COLS] = { 0 };
	bool live = false;
	char err[256], *answer;
	int ncols, ret = 1;

	if (peer_cmd_resolve_paths(a, &p) < 0)
		return 1;
	if (peer_cmd_load_config(&cfg, p.conf) < 0)
		return 1;
	if (uapi_alive(p.ifname) && (answer = uapi_request(p.ifname, "get=1\n\n", err, sizeof(err)))) {
		live = running_state_parse(&rs, answer, err, sizeof(err)) == 0;
		wg_secure_wipe(answer, strlen(answer));
		uapi_answer_free(answer);
	}
	rows = calloc(cfg.n_peers + rs.n_peers + 1, sizeof(*rows));
	if (!rows) {
		fprintf(stderr, "vpnd: out of memory\n");
		goto out;
	}
	for (size_t i = 0; i < cfg.n_peers; i++, n++) {
		const struct config_peer *cp = &cfg.peers[i];
		const struct running_peer *rp = live ? find_live(&rs, cp->public_key) : NULL;

		peer_name(rows[n].name, sizeof(rows[n].name), cp, p.dir);
		wg_key_to_base64(rows[n].key, cp->public_key);
		peer_cmd_list_prefixes(rows[n].aips, sizeof(rows[n].aips), cp->allowed_ips, cp->n_allowed_ips);
		if (!rows[n].aips[0])
			snprintf(rows[n].aips, sizeof(rows[n].aips), "(none)");
		if (rp) {
			live_columns(&rows[n], rp);
		} else if (live) {
			snprintf(rows[n].endpoint, sizeof(rows[n].endpoint), "(not running)");
			snprintf(rows[n].handshake, sizeof(rows[n].handshake), "-");
			snprintf(rows[n].transfer, sizeof(rows[n].transfer), "-");
		}
	}
	/* Peers running but in no file (added with wg set, say). */
	for (size_t i = 0; live && i < rs.n_peers; i++) {
		const struct running_peer *rp = &rs.peers[i];
		bool known = false;

		for (size_t j = 0; j < cfg.n_peers && !known; j++)
			known = !memcmp(cfg.peers[j].public_key, rp->public_key, KEY_LEN);
		if (known)
			continue;
		snprintf(rows[n].name, sizeof(rows[n].name), "(not in config)");
		wg_key_to_base64(rows[n].key, rp->public_key);
		peer_cmd_list_prefixes(rows[n].aips, sizeof(rows[n].aips), rp->allowed_ips, rp->n_allowed_ips);
		live_columns(&rows[n], rp);
		n++;
	}
	ncols = live ? COLS : 3;
	for (int c = 0; c < ncols; c++) {
		width[c] = strlen(col(&head, c));
		for (size_t i = 0; i < n; i++)
			if (strlen(col(&rows[i], c)) > width[c])
				width[c] = strlen(col(&rows[i], c));
	}
	for (size_t i = 0; i <= n; i++) {
		const struct row *r = i ? &rows[i - 1] : &head;

		for (int c = 0; c < ncols - 1; c++)
			printf("%-*s  ", (int)width[c], col(r, c));
		printf("%s\n", col(r, ncols - 1));
	}
	ret = 0;
out:
	free(rows);
	running_state_free(&rs);
	config_free(&cfg);
	return ret;
}
