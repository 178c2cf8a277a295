/* UAPI answers -> struct metrics_interface -> JSON or Prometheus text. */
#include "vpnd/control/metrics.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <arpa/inet.h>

#include "vpnd/common/net.h"
#include "vpnd/common/p2p.h"

/* --- parsing ------------------------------------------------------------- */

static uint64_t num(const char *s)
{
	return strtoull(s, NULL, 10);
}

static bool hex_to_b64(char out[KEY_B64_LEN + 1], const char *hex)
{
	uint8_t k[KEY_LEN];

	if (!wg_key_from_hex(k, hex))
		return false;
	wg_key_to_base64(out, k);
	wg_secure_wipe(k, sizeof(k));
	return true;
}

static struct metrics_peer *add_peer(struct metrics_interface *m)
{
	struct metrics_peer *p = realloc(m->peers, (m->n_peers + 1) * sizeof(*p));

	if (!p)
		return NULL;
	m->peers = p;
	p += m->n_peers++;
	memset(p, 0, sizeof(*p));
	return p;
}

/* Only what parses as a prefix is kept, in our own formatting: the text
 * comes from the daemon's worker, which is not trusted to print to a
 * terminal (no control characters can pass). */
static int add_allowed_ip(struct metrics_peer *p, const char *v)
{
	char **a, text[INET6_ADDRSTRLEN + 5];
	struct ip_prefix pfx;

	if (!parse_ip_prefix(v, &pfx))
		return 0;
	format_prefix(text, sizeof(text), &pfx);
	a = realloc(p->allowed_ips, (p->n_allowed_ips + 1) * sizeof(*a));
	if (!a)
		return -ENOMEM;
	p->allowed_ips = a;
	a[p->n_allowed_ips] = strdup(text);
	if (!a[p->n_allowed_ips])
		return -ENOMEM;
	p->n_allowed_ips++;
	return 0;
}

/* The endpoint as we format it, or "(invalid)": see add_allowed_ip. */
static void set_endpoint(struct metrics_peer *p, const char *v)
{
	union sockaddr_any ep;

	if (parse_endpoint_numeric(v, &ep))
		format_endpoint(p->endpoint, sizeof(p->endpoint), &ep);
	else
		snprintf(p->endpoint, sizeof(p->endpoint), "(invalid)");
}

/* A drop reason's name is [a-z0-9_] only. */
static bool reason_name_ok(const char *s)
{
	if (!*s || strlen(s) >= METRICS_REASON_LEN)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_'))
			return false;
	return true;
}

static int get_line(struct metrics_interface *m, struct metrics_peer **cur, const char *k,
		    const char *v)
{
	struct metrics_peer *p = *cur;

	if (!strcmp(k, "private_key")) {
		uint8_t priv[KEY_LEN], pub[KEY_LEN];

		if (wg_key_from_hex(priv, v) && wg_key_public_from_private(pub, priv))
			wg_key_to_base64(m->public_key, pub);
		wg_secure_wipe(priv, sizeof(priv));
	} else if (!strcmp(k, "listen_port")) {
		m->listen_port = (unsigned)num(v);
	} else if (!strcmp(k, "fwmark")) {
		m->fwmark = (uint32_t)num(v);
	} else if (!strcmp(k, "public_key")) {
		*cur = p = add_peer(m);
		if (!p)
			return -ENOMEM;
		if (!hex_to_b64(p->public_key, v))
			p->public_key[0] = '\0';
	} else if (!p) {
		return 0;	/* unknown interface key */
	} else if (!strcmp(k, "preshared_key")) {
		/* written always, all zeros for none (as wireguard-go) */
		p->has_preshared_key = v[strspn(v, "0")] != '\0';
	} else if (!strcmp(k, "endpoint")) {
		set_endpoint(p, v);
	} else if (!strcmp(k, "last_handshake_time_sec")) {
		p->latest_handshake = num(v);
	} else if (!strcmp(k, "rx_bytes")) {
		p->rx_bytes = num(v);
	} else if (!strcmp(k, "tx_bytes")) {
		p->tx_bytes = num(v);
	} else if (!strcmp(k, "persistent_keepalive_interval")) {
		p->persistent_keepalive = (unsigned)num(v);
	} else if (!strcmp(k, "allowed_ip")) {
		return add_allowed_ip(p, v);
	}
	return 0;
}

static struct metrics_peer *find_peer(struct metrics_interface *m, const char *b64)
{
	for (size_t i = 0; i < m->n_peers; i++)
		if (!strcmp(m->peers[i].public_key, b64))
			return &m->peers[i];
	return NULL;
}

const struct metrics_peer *metrics_find_peer(const struct metrics_interface *m,
					     const char *public_key)
{
	return find_peer((struct metrics_interface *)m, public_key);
}

static void stats_line(struct metrics_interface *m, struct metrics_peer **cur, bool *in_peers,
		       const char *k, const char *v)
{
	struct metrics_peer *p = *cur;

	if (!strcmp(k, "public_key")) {
		char b64[KEY_B64_LEN + 1];

		*in_peers = true;
		/* A peer added between the two requests is not in m. */
		*cur = hex_to_b64(b64, v) ? find_peer(m, b64) : NULL;
	} else if (*in_peers) {
		if (!p)
			return;
		if (!strcmp(k, "rx_packets"))
			p->rx_packets = num(v);
		else if (!strcmp(k, "tx_packets"))
			p->tx_packets = num(v);
		else if (!strcmp(k, "handshakes_sent"))
			p->handshakes_sent = num(v);
		else if (!strcmp(k, "handshakes_received"))
			p->handshakes_received = num(v);
	} else if (!strncmp(k, "drop_", 5)) {
		if (m->n_drops < METRICS_MAX_DROPS && reason_name_ok(k + 5)) {
			snprintf(m->drops[m->n_drops].reason, METRICS_REASON_LEN, "%s", k + 5);
			m->drops[m->n_drops++].count = num(v);
		}
	} else if (!strcmp(k, "cookie_replies_sent")) {
		m->cookie_replies_sent = num(v);
	} else if (!strcmp(k, "handshakes_answered")) {
		m->handshakes_answered = num(v);
	} else if (!strcmp(k, "under_load")) {
		m->under_load = num(v) != 0;
	} else if (!strcmp(k, "peer_to_peer")) {
		enum p2p_mode mode;

		snprintf(m->peer_to_peer, sizeof(m->peer_to_peer), "%s",
			 p2p_mode_parse(v, &mode) ? p2p_mode_name(mode) : "?");
	}
}

/* Calls get_line or stats_line for each key=value line of text. */
static int parse_text(struct metrics_interface *m, const char *text, bool stats)
{
	size_t len = strlen(text);
	char *copy = malloc(len + 1), *save = NULL;
	struct metrics_peer *cur = NULL;
	bool in_peers = false;
	int ret = 0;

	if (!copy)
		return -ENOMEM;
	memcpy(copy, text, len + 1);
	for (char *l = strtok_r(copy, "\n", &save); l && !ret; l = strtok_r(NULL, "\n", &save)) {
		char *eq = strchr(l, '=');

		if (!eq)
			continue;
		*eq = '\0';
		if (stats)
			stats_line(m, &cur, &in_peers, l, eq + 1);
		else
			ret = get_line(m, &cur, l, eq + 1);
	}
	wg_secure_wipe(copy, len + 1);	/* the get=1 answer holds the private key */
	free(copy);
	return ret;
}

int metrics_parse(struct metrics_interface *m, const char *name, const char *get,
		  const char *stats)
{
	int ret;

	memset(m, 0, sizeof(*m));
	snprintf(m->name, sizeof(m->name), "%s", name);
	ret = parse_text(m, get ? get : "", false);
	if (!ret && stats)
		ret = parse_text(m, stats, true);
	if (ret)
		metrics_free(m);
	return ret;
}

void metrics_free(struct metrics_interface *m)
{
	for (size_t i = 0; i < m->n_peers; i++) {
		for (size_t j = 0; j < m->peers[i].n_allowed_ips; j++)
			free(m->peers[i].allowed_ips[j]);
		free(m->peers[i].allowed_ips);
	}
	free(m->peers);
	memset(m, 0, sizeof(*m));
}

/* --- JSON ---------------------------------------------------------------- */

static void json_string(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c == '\n')
			fputs("\\n", f);
		else if (c == '\t')
			fputs("\\t", f);
		else if (c < 0x20 || c == 0x7f)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

/* A string, or null when empty. */
static void json_string_or_null(FILE *f, const char *s)
{
	if (*s)
		json_string(f, s);
	else
		fputs("null", f);
}

static void json_peer(FILE *f, const struct metrics_peer *p)
{
	fputs("{\"public_key\": ", f);
	json_string(f, p->public_key);
	fputs(", \"name\": ", f);
	json_string_or_null(f, p->name);
	fputs(", \"endpoint\": ", f);
	json_string_or_null(f, p->endpoint);
	fputs(", \"allowed_ips\": [", f);
	for (size_t i = 0; i < p->n_allowed_ips; i++) {
		if (i)
			fputs(", ", f);
		json_string(f, p->allowed_ips[i]);
	}
	fprintf(f, "], \"latest_handshake\": %llu, \"rx_bytes\": %llu, \"tx_bytes\": %llu, "
		"\"rx_packets\": %llu, \"tx_packets\": %llu, \"persistent_keepalive\": %u, "
		"\"handshakes_sent\": %llu, \"handshakes_received\": %llu}",
		(unsigned long long)p->latest_handshake, (unsigned long long)p->rx_bytes,
		(unsigned long long)p->tx_bytes, (unsigned long long)p->rx_packets,
		(unsigned long long)p->tx_packets, p->persistent_keepalive,
		(unsigned long long)p->handshakes_sent, (unsigned long long)p->handshakes_received);
}

static void json_interface(FILE *f, const struct metrics_interface *m)
{
	fputs("  {\n    \"interface\": ", f);
	json_string(f, m->name);
	fputs(",\n    \"public_key\": ", f);
	json_string_or_null(f, m->public_key);
	fprintf(f, ",\n    \"listen_port\": %u,\n    \"fwmark\": %u,\n    \"peer_to_peer\": ",
		m->listen_port, (unsigned)m->fwmark);
	json_string(f, m->peer_to_peer[0] ? m->peer_to_peer : "kernel");
	fprintf(f, ",\n    \"under_load\": %s,\n    \"cookie_replies_sent\": %llu,\n"
		"    \"handshakes_answered\": %llu,\n    \"drops\": {",
		m->under_load ? "true" : "false", (unsigned long long)m->cookie_replies_sent,
		(unsigned long long)m->handshakes_answered);
	for (size_t i = 0; i < m->n_drops; i++) {
		fputs(i ? ", " : "", f);
		json_string(f, m->drops[i].reason);
		fprintf(f, ": %llu", (unsigned long long)m->drops[i].count);
	}
	fputs("},\n    \"peers\": [", f);
	for (size_t i = 0; i < m->n_peers; i++) {
		fputs(i ? ",\n      " : "\n      ", f);
		json_peer(f, &m->peers[i]);
	}
	fputs(m->n_peers ? "\n    ]\n  }" : "]\n  }", f);
}

void metrics_print_json(FILE *f, const struct metrics_interface *ifs, size_t n)
{
	fputs("[", f);
	for (size_t i = 0; i < n; i++) {
		fputs(i ? ",\n" : "\n", f);
		json_interface(f, &ifs[i]);
	}
	fputs(n ? "\n]\n" : "]\n", f);
}

/* --- Prometheus ---------------------------------------------------------- */

/* Label values escape backslash, double quote and newline. */
static void prom_label(FILE *f, const char *name, const char *value, bool first)
{
	fprintf(f, "%s%s=\"", first ? "" : ",", name);
	for (; *value; value++) {
		if (*value == '\\' || *value == '"')
			fprintf(f, "\\%c", *value);
		else if (*value == '\n')
			fputs("\\n", f);
		else
			fputc(*value, f);
	}
	fputc('"', f);
}

static void prom_header(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

enum prom_kind { PROM_COUNTER, PROM_GAUGE };

struct prom_family {
	const char *name;
	enum prom_kind kind;
	size_t offset;		/* of a uint64_t (or unsigned, see is_uint) */
	bool is_uint;
	const char *help;
};

#define PEER_U64(field) offsetof(struct metrics_peer, field), false
#define IFACE_U64(field) offsetof(struct metrics_interface, field), false

static const struct prom_family peer_families[] = {
	{ "vpnd_peer_rx_bytes_total", PROM_COUNTER, PEER_U64(rx_bytes),
	  "Bytes received from the peer (WireGuard messages, UDP payload)." },
	{ "vpnd_peer_tx_bytes_total", PROM_COUNTER, PEER_U64(tx_bytes),
	  "Bytes sent to the peer (WireGuard messages, UDP payload)." },
	{ "vpnd_peer_rx_packets_total", PROM_COUNTER, PEER_U64(rx_packets),
	  "Transport messages received from the peer (keepalives included)." },
	{ "vpnd_peer_tx_packets_total", PROM_COUNTER, PEER_U64(tx_packets),
	  "Transport messages sent to the peer (keepalives included)." },
	{ "vpnd_peer_handshakes_sent_total", PROM_COUNTER, PEER_U64(handshakes_sent),
	  "Handshake initiations sent to the peer." },
	{ "vpnd_peer_handshakes_received_total", PROM_COUNTER, PEER_U64(handshakes_received),
	  "Valid handshake messages (initiations and responses) received from the peer." },
	{ "vpnd_peer_last_handshake_seconds", PROM_GAUGE, PEER_U64(latest_handshake),
	  "Unix time of the latest completed handshake with the peer; 0 if none." },
	{ "vpnd_peer_persistent_keepalive_seconds", PROM_GAUGE,
	  offsetof(struct metrics_peer, persistent_keepalive), true,
	  "Persistent keepalive interval; 0 if off." },
};

static const struct prom_family iface_families[] = {
	{ "vpnd_cookie_replies_sent_total", PROM_COUNTER, IFACE_U64(cookie_replies_sent),
	  "Cookie replies sent to handshakes that arrived while under load." },
	{ "vpnd_handshakes_answered_total", PROM_COUNTER, IFACE_U64(handshakes_answered),
	  "Handshake initiations answered with a response." },
};

static uint64_t field(const void *base, const struct prom_family *fam)
{
	const char *p = (const char *)base + fam->offset;
	uint64_t v;

	if (fam->is_uint) {
		unsigned u;

		memcpy(&u, p, sizeof(u));
		return u;
	}
	memcpy(&v, p, sizeof(v));
	return v;
}

static const char *type_name(enum prom_kind k)
{
	return k == PROM_COUNTER ? "counter" : "gauge";
}

static size_t total_peers(const struct metrics_interface *ifs, size_t n)
{
	size_t t = 0;

	for (size_t i = 0; i < n; i++)
		t += ifs[i].n_peers;
	return t;
}

static void join_allowed_ips(char *buf, size_t len, const struct metrics_peer *p)
{
	size_t o = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < p->n_allowed_ips && o < len; i++)
		o += (size_t)snprintf(buf + o, len - o, "%s%s", i ? "," : "", p->allowed_ips[i]);
}

static void prom_interfaces(FILE *f, const struct metrics_interface *ifs, size_t n)
{
	prom_header(f, "vpnd_interface_info", "gauge",
		    "Always 1; labels: the interface's public key, UDP port and peer-to-peer policy.");
	for (size_t i = 0; i < n; i++) {
		char port[16];

		snprintf(port, sizeof(port), "%u", ifs[i].listen_port);
		fputs("vpnd_interface_info{", f);
		prom_label(f, "interface", ifs[i].name, true);
		prom_label(f, "public_key", ifs[i].public_key, false);
		prom_label(f, "listen_port", port, false);
		prom_label(f, "peer_to_peer",
			   ifs[i].peer_to_peer[0] ? ifs[i].peer_to_peer : "kernel", false);
		fputs("} 1\n", f);
	}
	prom_header(f, "vpnd_interface_peers", "gauge", "Number of configured peers.");
	for (size_t i = 0; i < n; i++) {
		fputs("vpnd_interface_peers{", f);
		prom_label(f, "interface", ifs[i].name, true);
		fprintf(f, "} %zu\n", ifs[i].n_peers);
	}
	prom_header(f, "vpnd_under_load", "gauge",
		    "1 while the interface is under handshake load (cookies required), else 0.");
	for (size_t i = 0; i < n; i++) {
		fputs("vpnd_under_load{", f);
		prom_label(f, "interface", ifs[i].name, true);
		fprintf(f, "} %d\n", ifs[i].under_load ? 1 : 0);
	}
	prom_header(f, "vpnd_drops_total", "counter", "Packets dropped, by reason.");
	for (size_t i = 0; i < n; i++) {
		for (size_t j = 0; j < ifs[i].n_drops; j++) {
			fputs("vpnd_drops_total{", f);
			prom_label(f, "interface", ifs[i].name, true);
			prom_label(f, "reason", ifs[i].drops[j].reason, false);
			fprintf(f, "} %llu\n", (unsigned long long)ifs[i].drops[j].count);
		}
	}
	for (size_t k = 0; k < sizeof(iface_families) / sizeof(iface_families[0]); k++) {
		const struct prom_family *fam = &iface_families[k];

		prom_header(f, fam->name, type_name(fam->kind), fam->help);
		for (size_t i = 0; i < n; i++) {
			fprintf(f, "%s{", fam->name);
			prom_label(f, "interface", ifs[i].name, true);
			fprintf(f, "} %llu\n", (unsigned long long)field(&ifs[i], fam));
		}
	}
}

static void prom_peer_labels(FILE *f, const struct metrics_interface *m,
			     const struct metrics_peer *p)
{
	prom_label(f, "interface", m->name, true);
	prom_label(f, "public_key", p->public_key, false);
}

static void prom_peers(FILE *f, const struct metrics_interface *ifs, size_t n)
{
	char aips[4096];

	prom_header(f, "vpnd_peer_info", "gauge",
		    "Always 1; labels: the peer's name (\"\" if none), current endpoint and allowed IPs.");
	for (size_t i = 0; i < n; i++) {
		for (size_t j = 0; j < ifs[i].n_peers; j++) {
			const struct metrics_peer *p = &ifs[i].peers[j];

			join_allowed_ips(aips, sizeof(aips), p);
			fputs("vpnd_peer_info{", f);
			prom_peer_labels(f, &ifs[i], p);
			prom_label(f, "name", p->name, false);
			prom_label(f, "endpoint", p->endpoint, false);
			prom_label(f, "allowed_ips", aips, false);
			fputs("} 1\n", f);
		}
	}
	for (size_t k = 0; k < sizeof(peer_families) / sizeof(peer_families[0]); k++) {
		const struct prom_family *fam = &peer_families[k];

		prom_header(f, fam->name, type_name(fam->kind), fam->help);
		for (size_t i = 0; i < n; i++) {
			for (size_t j = 0; j < ifs[i].n_peers; j++) {
				fprintf(f, "%s{", fam->name);
				prom_peer_labels(f, &ifs[i], &ifs[i].peers[j]);
				fprintf(f, "} %llu\n",
					(unsigned long long)field(&ifs[i].peers[j], fam));
			}
		}
	}
}

void metrics_print_prometheus(FILE *f, const struct metrics_interface *ifs, size_t n)
{
	/* A family is written only with samples: no interface, no output. */
	if (!n)
		return;
	prom_interfaces(f, ifs, n);
	if (total_peers(ifs, n))
		prom_peers(f, ifs, n);
}
