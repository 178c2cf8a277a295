/* vpnd peer add|remove|list: a server's clients, one file each in
 * CONFIG_DIR/IFACE.d/NAME.conf.
 *
 *   vpnd peer add NAME --iface IFACE [--ip ADDR]... [--endpoint HOST[:PORT]]
 *                 [--output FILE] [--qr]
 *   vpnd peer remove NAME --iface IFACE
 *   vpnd peer list --iface IFACE
 *
 * peer add picks the next free tunnel address in the subnet of IFACE's
 * first IPv4 Address (and of its first IPv6 one, if it has one), makes the
 * client's keys and a preshared key, writes the server's peer file (0600)
 * and applies it live when IFACE is up. The client's complete wg-quick
 * config goes to stdout (or to --output FILE, 0600), or as a QR code with
 * --qr. The client's private key is never stored on the server.
 *
 * An address is taken when it is one of IFACE's addresses or lies in a
 * peer's AllowedIPs prefix carved out of the subnet (a prefix as long as the
 * subnet's or longer); broader prefixes (a default route, a supernet) are
 * not counted, since a client's /32 is more specific anyway. IPv4 skips the
 * subnet's network and broadcast addresses, IPv6 the subnet-router anycast
 * address (host part 0).
 *
 * The client's Endpoint is --endpoint HOST[:PORT], else the first
 * "# Endpoint = HOST[:PORT]" comment in IFACE.conf (a comment, so the file
 * stays a valid wg-quick config); a missing port is IFACE's ListenPort. */
#include "vpnd/control/reload_apply.h"
#include "vpnd/common/lock.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "crypto/crypto.h"
#include "vpnd/control/config.h"
#include "vpnd/cli/qr.h"
#include "vpnd/control/reload.h"
#include "vpnd/control/uapi.h"

enum { NAME_MAX_LEN = 64, MAX_IPS = 4, IPV6_SCAN_MAX = 1 << 20 };

struct peer_args {
	const char *name, *iface, *endpoint, *output;
	const char *ips[MAX_IPS];
	size_t n_ips;
	bool qr;
};

struct iface_paths {
	char conf[PATH_MAX], dir[PATH_MAX], file[PATH_MAX + NAME_MAX_LEN + 8];
	char ifname[IFNAMSIZ];
};

static void warn_stderr(const char *msg)
{
	fprintf(stderr, "vpnd: %s\n", msg);
}

/* --- arguments ------------------------------------------------------------ */

static int usage(void)
{
	fprintf(stderr,
		"Usage: vpnd peer add NAME --iface IFACE [--ip ADDR]... [--endpoint HOST[:PORT]]\n"
		"                     [--output FILE] [--qr]\n"
		"       vpnd peer remove NAME --iface IFACE\n"
		"       vpnd peer list --iface IFACE\n");
	return 1;
}

/* "--opt VALUE" or "--opt=VALUE"; advances *i past the value. */
static const char *opt_value(int argc, char **argv, int *i, const char *opt, bool *bad)
{
	size_t n = strlen(opt);

	if (!strncmp(argv[*i], opt, n) && argv[*i][n] == '=')
		return argv[*i] + n + 1;
	if (strcmp(argv[*i], opt))
		return NULL;
	if (*i + 1 >= argc) {
		fprintf(stderr, "vpnd: missing value after: '%s'\n", opt);
		*bad = true;
		return NULL;
	}
	return argv[++*i];
}

static int parse_args(int argc, char **argv, struct peer_args *a, bool want_name)
{
	bool bad = false;
	const char *v;

	memset(a, 0, sizeof(*a));
	for (int i = 0; i < argc && !bad; i++) {
		if ((v = opt_value(argc, argv, &i, "--iface", &bad))) {
			a->iface = v;
		} else if ((v = opt_value(argc, argv, &i, "--ip", &bad))) {
			if (a->n_ips >= MAX_IPS) {
				fprintf(stderr, "vpnd: too many --ip options: '%s'\n", v);
				return -1;
			}
			a->ips[a->n_ips++] = v;
		} else if ((v = opt_value(argc, argv, &i, "--endpoint", &bad))) {
			a->endpoint = v;
		} else if ((v = opt_value(argc, argv, &i, "--output", &bad))) {
			a->output = v;
		} else if (bad) {
			break;
		} else if (!strcmp(argv[i], "--qr")) {
			a->qr = true;
		} else if (argv[i][0] == '-') {
			fprintf(stderr, "vpnd: unknown option: '%s'\n", argv[i]);
			return -1;
		} else if (want_name && !a->name) {
			a->name = argv[i];
		} else {
			fprintf(stderr, "vpnd: unexpected argument: '%s'\n", argv[i]);
			return -1;
		}
	}
	if (bad)
		return -1;
	if (!a->iface || (want_name && !a->name))
		return usage(), -1;
	return 0;
}

/* A file name under IFACE.d: letters, digits, '-', '_', '.', not first '.'. */
static bool valid_peer_name(const char *s)
{
	size_t n = strlen(s);

	if (!n || n > NAME_MAX_LEN || s[0] == '.' || s[0] == '-')
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && !strchr("-_.", s[i]))
			return false;
	return true;
}

static int resolve_paths(const struct peer_args *a, struct iface_paths *p)
{
	size_t len;

	if (strchr(a->iface, '/') || strlen(a->iface) >= IFNAMSIZ || !a->iface[0]) {
		fprintf(stderr, "vpnd: invalid interface name: '%s'\n", a->iface);
		return -1;
	}
	if (a->name && !valid_peer_name(a->name)) {
		fprintf(stderr, "vpnd: invalid peer name (letters, digits, '-', '_', '.'; "
			"at most %d): '%s'\n", NAME_MAX_LEN, a->name);
		return -1;
	}
	config_resolve(a->iface, p->conf, sizeof(p->conf), p->ifname);
	len = strlen(p->conf) - strlen(".conf");
	snprintf(p->dir, sizeof(p->dir), "%.*s.d", (int)len, p->conf);
	if (a->name)
		snprintf(p->file, sizeof(p->file), "%s/%s.conf", p->dir, a->name);
	return 0;
}

static int load_config(struct config *cfg, const char *path)
{
	char err[PATH_MAX + 512];

	if (config_load(cfg, path, err, sizeof(err), warn_stderr) != CONFIG_OK) {
		fprintf(stderr, "vpnd: %s\n", err);
		return -1;
	}
	return 0;
}

/* Applies the config live when the interface is up; prints what changed. */
static int apply_live(const struct iface_paths *p)
{
	struct reload_report rep;
	char err[PATH_MAX + 512], line[256];

	if (!uapi_alive(p->ifname)) {
		fprintf(stderr, "vpnd: %s is not up: the change applies at the next vpnd up\n",
			p->ifname);
		return 0;
	}
	if (reload_apply(p->ifname, p->conf, warn_stderr, &rep, NULL, err, sizeof(err)) < 0) {
		fprintf(stderr, "vpnd: %s\nvpnd: %s: the peer file is written but not applied "
			"live; fix it and run 'vpnd reload %s'\n", err, p->ifname, p->ifname);
		return -1;
	}
	reload_report_format(line, sizeof(line), p->ifname, &rep);
	fprintf(stderr, "vpnd: %s\n", line);
	return 0;
}

/* --- addresses -------------------------------------------------------------- */

static size_t fam_bits(int family)
{
	return family == AF_INET ? 32 : 128;
}

static void mask_to(struct ip_prefix *out, const struct ip_prefix *in, unsigned cidr)
{
	*out = *in;
	out->cidr = (uint8_t)cidr;
	for (size_t i = 0; i < fam_bits(in->family) / 8; i++) {
		unsigned left = cidr > 8 * i ? cidr - 8 * i : 0;

		if (left == 0)
			out->addr[i] = 0;
		else if (left < 8)
			out->addr[i] &= (uint8_t)(0xff << (8 - left));
	}
}

static bool in_subnet(const struct ip_prefix *subnet, const struct ip_prefix *p)
{
	struct ip_prefix m;

	if (p->family != subnet->family || p->cidr < subnet->cidr)
		return false;
	mask_to(&m, p, subnet->cidr);
	return !memcmp(m.addr, subnet->addr, fam_bits(p->family) / 8);
}

static uint64_t be64(const uint8_t *b, size_t n)
{
	uint64_t v = 0;

	for (size_t i = 0; i < n; i++)
		v = v << 8 | b[i];
	return v;
}

/* The host part of addr within subnet, if it fits 64 bits. */
static bool host_offset(const struct ip_prefix *subnet, const uint8_t *addr, uint64_t *off)
{
	unsigned host_bits = (unsigned)fam_bits(subnet->family) - subnet->cidr;

	if (subnet->family == AF_INET) {
		*off = be64(addr, 4) & ((UINT64_C(1) << host_bits) - 1);
		return true;
	}
	if (host_bits > 64) {
		struct ip_prefix hi = { .family = AF_INET6 };

		/* bits between the subnet's length and the low 64 must be 0 */
		memcpy(hi.addr, addr, 8);
		for (unsigned b = subnet->cidr; b < 64; b++)
			if (hi.addr[b / 8] & (0x80 >> (b % 8)))
				return false;
		*off = be64(addr + 8, 8);
		return true;
	}
	*off = be64(addr + 8, 8) & (host_bits == 64 ? UINT64_MAX : (UINT64_C(1) << host_bits) - 1);
	return true;
}

static void address_at(struct ip_prefix *out, const struct ip_prefix *subnet, uint64_t off)
{
	size_t bytes = fam_bits(subnet->family) / 8;

	*out = *subnet;
	out->cidr = (uint8_t)fam_bits(subnet->family);
	for (size_t i = 0; i < 8 && i < bytes; i++)
		out->addr[bytes - 1 - i] |= (uint8_t)(off >> (8 * i));
}

struct range {
	uint64_t lo, hi;
};

static int cmp_range(const void *a, const void *b)
{
	const struct range *x = a, *y = b;

	return x->lo < y->lo ? -1 : x->lo > y->lo;
}

/* The first host of subnet not taken, or the given one checked. */
struct used {
	struct range *v;
	size_t n;
};

static int collect_used(struct used *u, const struct config *cfg, const struct ip_prefix *subnet)
{
	size_t total = cfg->n_addresses;

	for (size_t i = 0; i < cfg->n_peers; i++)
		total += cfg->peers[i].n_allowed_ips;
	u->n = 0;
	u->v = malloc((total + 1) * sizeof(*u->v));
	if (!u->v)
		return -1;
	for (size_t i = 0; i < cfg->n_addresses; i++) {
		struct ip_prefix host = cfg->addresses[i];
		uint64_t off;

		host.cidr = (uint8_t)fam_bits(host.family);
		if (in_subnet(subnet, &host) && host_offset(subnet, host.addr, &off))
			u->v[u->n++] = (struct range){ off, off };
	}
	for (size_t i = 0; i < cfg->n_peers; i++) {
		for (size_t j = 0; j < cfg->peers[i].n_allowed_ips; j++) {
			const struct ip_prefix *p = &cfg->peers[i].allowed_ips[j];
			unsigned span = (unsigned)fam_bits(p->family) - p->cidr;
			uint64_t off;

			if (!in_subnet(subnet, p) || !host_offset(subnet, p->addr, &off))
				continue;
			u->v[u->n++] = (struct range){
				off, span >= 63 ? UINT64_MAX : off + (UINT64_C(1) << span) - 1
			};
		}
	}
	qsort(u->v, u->n, sizeof(*u->v), cmp_range);
	return 0;
}

static bool is_used(const struct used *u, uint64_t off)
{
	for (size_t i = 0; i < u->n; i++)
		if (u->v[i].lo <= off && off <= u->v[i].hi)
			return true;
	return false;
}

/* Usable host offsets of a subnet: [*first, *last]; false if none. */
static bool host_range(const struct ip_prefix *subnet, uint64_t *first, uint64_t *last)
{
	unsigned host_bits = (unsigned)fam_bits(subnet->family) - subnet->cidr;

	if (host_bits == 0)
		return false;
	if (subnet->family == AF_INET) {
		*first = host_bits == 1 ? 0 : 1;
		*last = (UINT64_C(1) << host_bits) - (host_bits == 1 ? 1 : 2);
	} else {
		*first = 1;
		*last = host_bits >= 20 ? IPV6_SCAN_MAX : (UINT64_C(1) << host_bits) - 1;
	}
	return *first <= *last;
}

/* The first free host, sweeping the sorted ranges once. */
static bool pick_free(const struct used *u, uint64_t first, uint64_t last, uint64_t *out)
{
	uint64_t c = first;

	for (size_t i = 0; i < u->n && c <= last; i++) {
		if (u->v[i].hi < c)
			continue;
		if (u->v[i].lo > c)
			break;
		if (u->v[i].hi == UINT64_MAX)
			return false;
		c = u->v[i].hi + 1;
	}
	if (c > last)
		return false;
	*out = c;
	return true;
}

/* The interface's first Address of a family, masked to its subnet. */
static bool iface_subnet(const struct config *cfg, int family, struct ip_prefix *out)
{
	for (size_t i = 0; i < cfg->n_addresses; i++) {
		if (cfg->addresses[i].family == family) {
			mask_to(out, &cfg->addresses[i], cfg->addresses[i].cidr);
			return true;
		}
	}
	return false;
}

static int check_given(const struct config *cfg, const char *text, struct ip_prefix *out)
{
	struct ip_prefix subnet;
	struct used u;
	uint64_t off, first, last;
	bool used;

	if (!parse_ip_prefix(text, out) || out->cidr != fam_bits(out->family)) {
		fprintf(stderr, "vpnd: invalid --ip (one address, IPv4 or IPv6): '%s'\n", text);
		return -1;
	}
	if (!iface_subnet(cfg, out->family, &subnet) || !in_subnet(&subnet, out) ||
	    !host_offset(&subnet, out->addr, &off) || !host_range(&subnet, &first, &last) ||
	    off < first || (out->family == AF_INET && off > last)) {
		fprintf(stderr, "vpnd: --ip is not a host address of the interface's subnet: "
			"'%s'\n", text);
		return -1;
	}
	if (collect_used(&u, cfg, &subnet) < 0)
		return -1;
	used = is_used(&u, off);
	free(u.v);
	if (used) {
		fprintf(stderr, "vpnd: address already in use: '%s'\n", text);
		return -1;
	}
	return 0;
}

static int pick_address(const struct config *cfg, int family, struct ip_prefix *out)
{
	struct ip_prefix subnet;
	struct used u;
	uint64_t first, last, off;
	char text[INET6_ADDRSTRLEN + 8];
	bool ok;

	if (!iface_subnet(cfg, family, &subnet))
		return 1;	/* no such family: nothing to pick */
	if (collect_used(&u, cfg, &subnet) < 0)
		return -1;
	ok = host_range(&subnet, &first, &last) && pick_free(&u, first, last, &off);
	free(u.v);
	if (!ok) {
		format_prefix(text, sizeof(text), &subnet);
		fprintf(stderr, "vpnd: no free address in the interface's subnet: '%s'\n", text);
		return -1;
	}
	address_at(out, &subnet, off);
	return 0;
}

/* --- endpoint ------------------------------------------------------------------ */

static bool valid_host(const char *h, bool bracketed)
{
	const char *ok = bracketed ? "0123456789abcdefABCDEF:." :
		"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._";

	return h[0] && strspn(h, ok) == strlen(h);
}

static bool valid_port(const char *s)
{
	char *end;
	long v;

	if (!isdigit((unsigned char)s[0]))
		return false;
	v = strtol(s, &end, 10);
	return !*end && v >= 1 && v <= 65535;
}

/* HOST, HOST:PORT, [V6], [V6]:PORT or a bare V6 -> "host:port". */
static int make_endpoint(char *out, size_t len, const char *in, const struct config *cfg)
{
	char host[256], port[16] = "";
	const char *colon;
	bool bracketed = false;
	struct in6_addr a6;
	struct in_addr a4;

	if (in[0] == '[') {
		const char *end = strchr(in, ']');

		if (!end || (end[1] && end[1] != ':') || (size_t)(end - in - 1) >= sizeof(host))
			goto bad;
		snprintf(host, sizeof(host), "%.*s", (int)(end - in - 1), in + 1);
		if (end[1])
			snprintf(port, sizeof(port), "%s", end + 2);
		bracketed = true;
	} else if ((colon = strchr(in, ':')) && !strchr(colon + 1, ':')) {
		if ((size_t)(colon - in) >= sizeof(host) || strlen(colon + 1) >= sizeof(port))
			goto bad;
		snprintf(host, sizeof(host), "%.*s", (int)(colon - in), in);
		snprintf(port, sizeof(port), "%s", colon + 1);
	} else {
		if (strlen(in) >= sizeof(host))
			goto bad;
		snprintf(host, sizeof(host), "%s", in);
		bracketed = strchr(in, ':') != NULL;
	}
	if (!valid_host(host, bracketed))
		goto bad;
	/* Numeric hosts must be real addresses; names are the client's to
	 * resolve. */
	if (bracketed && inet_pton(AF_INET6, host, &a6) != 1)
		goto bad;
	if (!bracketed && strspn(host, "0123456789.") == strlen(host) &&
	    inet_pton(AF_INET, host, &a4) != 1)
		goto bad;
	if (!port[0]) {
		if (!cfg->has_listen_port) {
			fprintf(stderr, "vpnd: endpoint needs a port (the interface has no "
				"ListenPort): '%s'\n", in);
			return -1;
		}
		snprintf(port, sizeof(port), "%u", cfg->listen_port);
	}
	if (!valid_port(port))
		goto bad;
	snprintf(out, len, bracketed ? "[%s]:%s" : "%s:%s", host, port);
	return 0;
bad:
	fprintf(stderr, "vpnd: invalid endpoint (HOST[:PORT]): '%s'\n", in);
	return -1;
}

/* The first "# Endpoint = X" comment of the interface's file. */
static bool endpoint_hint(const char *path, char *out, size_t len)
{
	char line[1024];
	bool found = false;
	FILE *f = fopen(path, "re");

	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f)) {
		char *s = line, *end;

		while (*s == ' ' || *s == '\t')
			s++;
		if (*s++ != '#')
			continue;
		while (*s == ' ' || *s == '\t')
			s++;
		if (strncasecmp(s, "Endpoint", 8))
			continue;
		s += 8;
		while (*s == ' ' || *s == '\t')
			s++;
		if (*s++ != '=')
			continue;
		while (*s == ' ' || *s == '\t')
			s++;
		end = s + strcspn(s, " \t\r\n#");
		if (end == s || (size_t)(end - s) >= len)
			continue;
		snprintf(out, len, "%.*s", (int)(end - s), s);
		found = true;
	}
	wg_secure_wipe(line, sizeof(line));	/* the file holds the private key */
	fclose(f);
	return found;
}

/* --- files ------------------------------------------------------------------------ */

static int write_new_file(const char *path, const char *text)
{
	char tmp[PATH_MAX + NAME_MAX_LEN + 64], *slash;
	size_t len = strlen(text);
	int fd, ret = -1;

	/* A hidden temporary name (never loaded: not "*.conf" as a glob sees
	 * it), then link(): no half-written peer file is ever read, and an
	 * existing one is never replaced. */
	snprintf(tmp, sizeof(tmp), "%s", path);
	slash = strrchr(tmp, '/');
	snprintf(slash + 1, sizeof(tmp) - (size_t)(slash + 1 - tmp), ".%s.%d.tmp",
		 strrchr(path, '/') + 1, (int)getpid());
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		fprintf(stderr, "vpnd: cannot create %s: %s\n", tmp, strerror(errno));
		return -1;
	}
	if (write(fd, text, len) != (ssize_t)len || fsync(fd) < 0) {
		fprintf(stderr, "vpnd: cannot write %s: %s\n", tmp, strerror(errno));
		goto out;
	}
	if (link(tmp, path) < 0) {
		if (errno == EEXIST)
			fprintf(stderr, "vpnd: peer already exists: '%s'\n", path);
		else
			fprintf(stderr, "vpnd: cannot create %s: %s\n", path, strerror(errno));
		goto out;
	}
	ret = 0;
out:
	close(fd);
	unlink(tmp);
	return ret;
}

static int write_output(const char *path, const char *text)
{
	size_t len = strlen(text);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	if (fd < 0 || fchmod(fd, 0600) < 0 || write(fd, text, len) != (ssize_t)len) {
		fprintf(stderr, "vpnd: cannot write %s: %s\n", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

/* --- peer add ----------------------------------------------------------------------- */

struct new_peer {
	uint8_t priv[KEY_LEN], pub[KEY_LEN], psk[KEY_LEN], server_pub[KEY_LEN];
	struct ip_prefix addrs[MAX_IPS];
	size_t n_addrs;
	char endpoint[300];
	char server_file[2048];
	char client_conf[4096];
};

static void list_prefixes(char *buf, size_t len, const struct ip_prefix *v, size_t n)
{
	size_t o = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < n && o < len; i++) {
		char p[INET6_ADDRSTRLEN + 8];

		format_prefix(p, sizeof(p), &v[i]);
		o += (size_t)snprintf(buf + o, len - o, "%s%s", i ? ", " : "", p);
	}
}

/* The interface's subnets, once each: what the client routes through it. */
static size_t iface_subnets(const struct config *cfg, struct ip_prefix *out, size_t max)
{
	size_t n = 0;

	for (size_t i = 0; i < cfg->n_addresses && n < max; i++) {
		struct ip_prefix s;
		bool dup = false;

		mask_to(&s, &cfg->addresses[i], cfg->addresses[i].cidr);
		for (size_t j = 0; j < n; j++)
			dup |= !ip_prefix_cmp(&s, &out[j]);
		if (!dup)
			out[n++] = s;
	}
	return n;
}

static int choose_addresses(const struct config *cfg, const struct peer_args *a,
			    struct new_peer *np)
{
	bool have4 = false, have6 = false;
	int r;

	for (size_t i = 0; i < a->n_ips; i++) {
		struct ip_prefix p;

		if (check_given(cfg, a->ips[i], &p) < 0)
			return -1;
		if ((p.family == AF_INET && have4) || (p.family == AF_INET6 && have6)) {
			fprintf(stderr, "vpnd: one --ip per address family: '%s'\n", a->ips[i]);
			return -1;
		}
		have4 |= p.family == AF_INET;
		have6 |= p.family == AF_INET6;
		np->addrs[np->n_addrs++] = p;
	}
	/* Families not given are picked, IPv4 first. */
	if (!have4) {
		r = pick_address(cfg, AF_INET, &np->addrs[np->n_addrs]);
		if (r < 0)
			return -1;
		if (r == 0)
			np->n_addrs++;
	}
	if (!have6) {
		r = pick_address(cfg, AF_INET6, &np->addrs[np->n_addrs]);
		if (r < 0)
			return -1;
		if (r == 0)
			np->n_addrs++;
	}
	if (!np->n_addrs) {
		fprintf(stderr, "vpnd: the interface has no Address to pick from: '%s'\n",
			a->iface);
		return -1;
	}
	return 0;
}

static void compose(struct new_peer *np, const struct config *cfg, const char *name)
{
	char priv[KEY_B64_LEN + 1], pub[KEY_B64_LEN + 1], psk[KEY_B64_LEN + 1];
	char spub[KEY_B64_LEN + 1], addrs[512], subnets_text[512], date[32];
	struct ip_prefix subnets[8];
	size_t n_sub = iface_subnets(cfg, subnets, 8);
	time_t now = time(NULL);
	struct tm tm;

	wg_key_to_base64(priv, np->priv);
	wg_key_to_base64(pub, np->pub);
	wg_key_to_base64(psk, np->psk);
	wg_key_to_base64(spub, np->server_pub);
	list_prefixes(addrs, sizeof(addrs), np->addrs, np->n_addrs);
	list_prefixes(subnets_text, sizeof(subnets_text), subnets, n_sub);
	strftime(date, sizeof(date), "%Y-%m-%d", gmtime_r(&now, &tm));
	snprintf(np->server_file, sizeof(np->server_file),
		 "# %s, added by vpnd peer add on %s\n"
		 "[Peer]\n"
		 "PublicKey = %s\n"
		 "PresharedKey = %s\n"
		 "AllowedIPs = %s\n", name, date, pub, psk, addrs);
	snprintf(np->client_conf, sizeof(np->client_conf),
		 "[Interface]\n"
		 "PrivateKey = %s\n"
		 "Address = %s\n"
		 "\n"
		 "[Peer]\n"
		 "PublicKey = %s\n"
		 "PresharedKey = %s\n"
		 "AllowedIPs = %s\n"
		 "Endpoint = %s\n"
		 "PersistentKeepalive = 25\n", priv, addrs, spub, psk, subnets_text, np->endpoint);
	wg_secure_wipe(priv, sizeof(priv));
	wg_secure_wipe(psk, sizeof(psk));
}

static int emit_client(const struct new_peer *np, const struct peer_args *a)
{
	char err[128];

	if (a->output && write_output(a->output, np->client_conf) < 0)
		return -1;
	if (a->qr) {
		if (qr_print(stdout, np->client_conf, isatty(STDOUT_FILENO), err, sizeof(err)) < 0) {
			fprintf(stderr, "vpnd: %s\n", err);
			return -1;
		}
	} else if (!a->output) {
		fputs(np->client_conf, stdout);
	}
	return fflush(stdout) == 0 ? 0 : -1;
}

static int peer_add(const struct peer_args *a)
{
	struct iface_paths p;
	struct config cfg = { 0 }, check = { 0 };
	struct new_peer *np = NULL;
	char hint[300], addrs[512], err[PATH_MAX + 512];
	struct stat sb;
	int ret = 1, lock_fd = -1;

	if (resolve_paths(a, &p) < 0)
		return 1;
	np = wg_secure_alloc(sizeof(*np));
	if (!np) {
		fprintf(stderr, "vpnd: out of memory\n");
		return 1;
	}
	memset(np, 0, sizeof(*np));
	/* Two peer adds at once must not pick the same address. */
	lock_fd = lock_config_file(p.conf);
	if (load_config(&cfg, p.conf) < 0)
		goto out;
	if (stat(p.file, &sb) == 0) {
		fprintf(stderr, "vpnd: peer already exists: '%s'\n", p.file);
		goto out;
	}
	if (a->endpoint) {
		if (make_endpoint(np->endpoint, sizeof(np->endpoint), a->endpoint, &cfg) < 0)
			goto out;
	} else if (endpoint_hint(p.conf, hint, sizeof(hint))) {
		if (make_endpoint(np->endpoint, sizeof(np->endpoint), hint, &cfg) < 0)
			goto out;
	} else {
		fprintf(stderr, "vpnd: no endpoint for the client: give --endpoint HOST[:PORT] "
			"or put '# Endpoint = HOST[:PORT]' in: '%s'\n", p.conf);
		goto out;
	}
	if (choose_addresses(&cfg, a, np) < 0)
		goto out;
	wg_key_generate_private(np->priv);
	wg_random_bytes(np->psk, sizeof(np->psk));
	if (!wg_key_public_from_private(np->pub, np->priv) ||
	    !wg_key_public_from_private(np->server_pub, cfg.private_key)) {
		fprintf(stderr, "vpnd: cannot derive a public key\n");
		goto out;
	}
	compose(np, &cfg, a->name);
	if (mkdir(p.dir, 0700) < 0 && errno != EEXIST) {
		fprintf(stderr, "vpnd: cannot create %s: %s\n", p.dir, strerror(errno));
		goto out;
	}
	if (write_new_file(p.file, np->server_file) < 0)
		goto out;
	/* The whole config must still load; if not, the new file goes. */
	if (config_load(&check, p.conf, err, sizeof(err), NULL) != CONFIG_OK) {
		fprintf(stderr, "vpnd: %s\n", err);
		unlink(p.file);
		goto out;
	}
	config_free(&check);
	list_prefixes(addrs, sizeof(addrs), np->addrs, np->n_addrs);
	fprintf(stderr, "vpnd: %s: added peer %s (%s) in %s\n", p.ifname, a->name, addrs, p.file);
	if (lock_fd >= 0)
		close(lock_fd);	/* reload_apply takes it again */
	lock_fd = -1;
	ret = emit_client(np, a) < 0 ? 1 : 0;
	if (apply_live(&p) < 0)
		ret = 1;
out:
	if (lock_fd >= 0)
		close(lock_fd);
	config_free(&cfg);
	wg_secure_free(np);
	return ret;
}

/* --- peer remove ----------------------------------------------------------------------- */

static int peer_remove(const struct peer_args *a)
{
	struct iface_paths p;
	struct config cfg = { 0 };
	char aside[PATH_MAX + 96];
	int lock_fd, ret = 1;

	if (resolve_paths(a, &p) < 0)
		return 1;
	lock_fd = lock_config_file(p.conf);
	if (access(p.file, F_OK) < 0) {
		fprintf(stderr, "vpnd: no such peer: '%s'\n", p.file);
		goto out;
	}
	/* Set aside under a hidden name, then the rest must load: a config
	 * that would be refused is not left half-changed. */
	snprintf(aside, sizeof(aside), "%s/.%s.conf.removed.%d", p.dir, a->name, (int)getpid());
	if (rename(p.file, aside) < 0) {
		fprintf(stderr, "vpnd: cannot remove %s: %s\n", p.file, strerror(errno));
		goto out;
	}
	if (load_config(&cfg, p.conf) < 0) {
		if (rename(aside, p.file) < 0)
			fprintf(stderr, "vpnd: cannot restore %s: %s\n", p.file, strerror(errno));
		goto out;
	}
	unlink(aside);
	fprintf(stderr, "vpnd: %s: removed peer %s (%s)\n", p.ifname, a->name, p.file);
	if (lock_fd >= 0)
		close(lock_fd);
	lock_fd = -1;
	ret = apply_live(&p) < 0 ? 1 : 0;
out:
	if (lock_fd >= 0)
		close(lock_fd);
	config_free(&cfg);
	return ret;
}

/* --- peer list --------------------------------------------------------------------------- */

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

static int peer_list(const struct peer_args *a)
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

	if (resolve_paths(a, &p) < 0)
		return 1;
	if (load_config(&cfg, p.conf) < 0)
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
		list_prefixes(rows[n].aips, sizeof(rows[n].aips), cp->allowed_ips, cp->n_allowed_ips);
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
		list_prefixes(rows[n].aips, sizeof(rows[n].aips), rp->allowed_ips, rp->n_allowed_ips);
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

int peer_main(int argc, char **argv)
{
	struct peer_args a;

	if (argc < 2)
		return usage();
	if (!strcmp(argv[1], "add")) {
		if (parse_args(argc - 2, argv + 2, &a, true) < 0)
			return 1;
		return peer_add(&a);
	}
	if (!strcmp(argv[1], "remove")) {
		if (parse_args(argc - 2, argv + 2, &a, true) < 0)
			return 1;
		if (a.n_ips || a.endpoint || a.output || a.qr) {
			fprintf(stderr, "vpnd: peer remove takes only NAME and --iface\n");
			return 1;
		}
		return peer_remove(&a);
	}
	if (!strcmp(argv[1], "list")) {
		if (parse_args(argc - 2, argv + 2, &a, false) < 0)
			return 1;
		if (a.n_ips || a.endpoint || a.output || a.qr) {
			fprintf(stderr, "vpnd: peer list takes only --iface\n");
			return 1;
		}
		return peer_list(&a);
	}
	fprintf(stderr, "vpnd: unknown peer command: '%s'\n", argv[1]);
	return usage();
}
