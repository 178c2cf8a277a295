/* vpnd peer add|remove|list: a server's clients, one file each in
 * CONFIG_DIR/IFACE.d/NAME.conf.
 *
 *   vpnd peer add NAME --iface IFACE [--ip ADDR]... [--endpoint HOST[:PORT]]
 *                 [--dns ADDRS] [--allowed-ips PREFIXES] [--keepalive SECONDS]
 *                 [--output FILE] [--qr]
 *   vpnd peer remove NAME [--iface] IFACE
 *   vpnd peer list [--iface] IFACE
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
#include "vpnd/common/atomic_file.h"
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
#include "vpnd/control/addrpool.h"
#include "vpnd/control/forwarding.h"
#include "vpnd/control/config.h"
#include "vpnd/cli/qr.h"
#include "vpnd/control/reload.h"
#include "vpnd/control/uapi.h"

#include "vpnd/cli/peer_cmd.h"

static void warn_stderr(const char *msg)
{
	fprintf(stderr, "vpnd: %s\n", msg);
}

/* --- arguments ------------------------------------------------------------ */

static int usage(void);

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

static bool iface_seen_later(int argc, char **argv, int i)
{
	for (i++; i < argc; i++)
		if (!strncmp(argv[i], "--iface", 7))
			return true;
	return false;
}

/* 0, -1 (said) or -2: a usage error, main prints the usage. */
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
		} else if ((v = opt_value(argc, argv, &i, "--dns", &bad))) {
			a->dns = v;
		} else if ((v = opt_value(argc, argv, &i, "--allowed-ips", &bad))) {
			a->allowed_ips = v;
		} else if ((v = opt_value(argc, argv, &i, "--keepalive", &bad))) {
			a->keepalive = v;
		} else if (bad) {
			break;
		} else if (!strcmp(argv[i], "--qr")) {
			a->qr = true;
		} else if (argv[i][0] == '-') {
			fprintf(stderr, "vpnd: unknown option: '%s'\n", argv[i]);
			return -2;
		} else if (want_name && !a->name) {
			a->name = argv[i];
		} else if (!a->iface && !iface_seen_later(argc, argv, i)) {
			a->iface = argv[i];	/* peer list wg0, peer remove NAME wg0 */
		} else {
			fprintf(stderr, "vpnd: unexpected argument: '%s'\n", argv[i]);
			return -1;
		}
	}
	if (bad)
		return -1;
	if (!a->iface || (want_name && !a->name))
		return -2;	/* a usage error */
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

int peer_cmd_resolve_paths(const struct peer_args *a, struct iface_paths *p)
{
	size_t len;
	char err[256];

	/* A NAME, never a path: config_resolve checks what it names. */
	if (strchr(a->iface, '/') || !config_resolve(a->iface, p->conf, sizeof(p->conf),
						      p->ifname, err, sizeof(err))) {
		fprintf(stderr, "vpnd: --iface: %s\n", strchr(a->iface, '/') ?
			"a NAME, not a path" : err);
		return -1;
	}
	if (a->name && !valid_peer_name(a->name)) {
		fprintf(stderr, "vpnd: invalid peer name (letters, digits, '-', '_', '.'; "
			"at most %d): '%s'\n", NAME_MAX_LEN, a->name);
		return -1;
	}
	len = strlen(p->conf) - strlen(".conf");
	snprintf(p->dir, sizeof(p->dir), "%.*s.d", (int)len, p->conf);
	if (a->name)
		snprintf(p->file, sizeof(p->file), "%s/%s.conf", p->dir, a->name);
	return 0;
}

int peer_cmd_load_config(struct config *cfg, const char *path)
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

/* --- addresses: the pool (control/addrpool.c) says, this says why ------- */

static int check_given(const struct config *cfg, const char *text, struct ip_prefix *out)
{
	if (!parse_ip_prefix(text, out) || out->cidr != (out->family == AF_INET ? 32 : 128)) {
		fprintf(stderr, "vpnd: invalid --ip (one address, IPv4 or IPv6): '%s'\n", text);
		return -1;
	}
	switch (addrpool_check(cfg, out)) {
	case ADDRPOOL_OK:
		return 0;
	case ADDRPOOL_IN_USE:
		fprintf(stderr, "vpnd: address already in use: '%s'\n", text);
		return -1;
	case ADDRPOOL_NOMEM:
		fprintf(stderr, "vpnd: out of memory\n");
		return -1;
	default:
		fprintf(stderr, "vpnd: --ip is not a host address of the interface's subnet: "
			"'%s'\n", text);
		return -1;
	}
}

/* 0: picked; 1: the interface has no address of this family; -1: error. */
static int pick_address(const struct config *cfg, int family, struct ip_prefix *out)
{
	struct ip_prefix subnet;
	char text[INET6_ADDRSTRLEN + 8];

	switch (addrpool_pick(cfg, family, out)) {
	case ADDRPOOL_OK:
		return 0;
	case ADDRPOOL_NO_SUBNET:
		return 1;
	case ADDRPOOL_NOMEM:
		fprintf(stderr, "vpnd: out of memory\n");
		return -1;
	default:
		addrpool_subnet(cfg, family, &subnet);
		format_prefix(text, sizeof(text), &subnet);
		fprintf(stderr, "vpnd: no free address in the interface's subnet: '%s'\n", text);
		return -1;
	}
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

/* A new peer file, whole or not at all, never over an existing one
 * (atomic_file.h: a hidden temporary name a glob of "*.conf" never loads,
 * then link). */
static int write_new_file(const char *path, const char *text)
{
	struct atomic_file af;
	int ret = atomic_file_open(&af, path);

	if (ret == 0) {
		fputs(text, af.f);
		ret = atomic_file_commit(&af, ATOMIC_NO_REPLACE);
	}
	if (ret == -EEXIST)
		fprintf(stderr, "vpnd: peer already exists: '%s'\n", path);
	else if (ret < 0)
		fprintf(stderr, "vpnd: cannot create %s: %s\n", path, strerror(-ret));
	return ret < 0 ? -1 : 0;
}

/* --output FILE holds the client's private key: written to a new file of
 * ours (O_EXCL|O_NOFOLLOW, 0600) in the same directory, then renamed over
 * FILE. A symbolic link at FILE is replaced, not followed; a file someone
 * else owns (and may hold open or hard-linked) is replaced, never
 * rewritten; in a sticky directory the kernel refuses the rename. */
static int write_output(const char *path, const char *text)
{
	struct atomic_file af;
	int ret = atomic_file_open(&af, path);

	if (ret == 0) {
		fputs(text, af.f);
		ret = atomic_file_commit(&af, ATOMIC_REPLACE);
	}
	if (ret < 0)
		fprintf(stderr, "vpnd: cannot write %s: %s\n", path, strerror(-ret));
	return ret < 0 ? -1 : 0;
}

/* --- peer add ----------------------------------------------------------------------- */

struct new_peer {
	uint8_t priv[KEY_LEN], pub[KEY_LEN], psk[KEY_LEN], server_pub[KEY_LEN];
	struct ip_prefix addrs[MAX_IPS];
	size_t n_addrs;
	char endpoint[300];
	char dns_line[300];		/* "DNS = ...\n" or "" */
	char allowed_ips[512];		/* the client's AllowedIPs */
	char keepalive_line[48];	/* "PersistentKeepalive = N\n" or "" */
	char server_file[2048];
	char client_conf[4096];
};

void peer_cmd_list_prefixes(char *buf, size_t len, const struct ip_prefix *v, size_t n)
{
	size_t o = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < n && o < len; i++) {
		char p[INET6_ADDRSTRLEN + 8];

		format_prefix(p, sizeof(p), &v[i]);
		o += (size_t)snprintf(buf + o, len - o, "%s%s", i ? ", " : "", p);
	}
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

/* --dns: addresses and search domains, comma-separated (wg-quick's DNS). */
static bool valid_dns(const char *s)
{
	if (!*s || strlen(s) > 250)
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && !strchr(".:-_, ", *s))
			return false;
	return true;
}

/* The client's DNS, AllowedIPs and keepalive lines; -1 (said) if bad. */
static int client_options(struct new_peer *np, const struct config *cfg,
			  const struct peer_args *a)
{
	struct ip_prefix v[16];
	size_t n = 0;
	char *end;
	unsigned long ka = 25;

	if (a->dns && !valid_dns(a->dns)) {
		fprintf(stderr, "vpnd: invalid --dns (addresses and search domains, "
			"comma-separated): '%s'\n", a->dns);
		return -1;
	}
	if (a->dns)
		snprintf(np->dns_line, sizeof(np->dns_line), "DNS = %s\n", a->dns);
	if (a->keepalive) {
		ka = strtoul(a->keepalive, &end, 10);
		if (*end || !a->keepalive[0] || a->keepalive[0] == '-' || ka > 65535) {
			fprintf(stderr, "vpnd: invalid --keepalive (0 to 65535 seconds, 0: "
				"none): '%s'\n", a->keepalive);
			return -1;
		}
	}
	if (ka)
		snprintf(np->keepalive_line, sizeof(np->keepalive_line),
			 "PersistentKeepalive = %lu\n", ka);
	if (!a->allowed_ips) {
		n = addrpool_subnets(cfg, v, 8);
	} else {
		char copy[512], *tok, *save = NULL;

		snprintf(copy, sizeof(copy), "%s", a->allowed_ips);
		for (tok = strtok_r(copy, ", ", &save); tok; tok = strtok_r(NULL, ", ", &save)) {
			if (n >= sizeof(v) / sizeof(v[0]) || !parse_ip_prefix(tok, &v[n])) {
				fprintf(stderr, "vpnd: invalid --allowed-ips (prefixes, "
					"comma-separated): '%s'\n", tok);
				return -1;
			}
			n++;
		}
	}
	peer_cmd_list_prefixes(np->allowed_ips, sizeof(np->allowed_ips), v, n);
	return 0;
}

static void compose(struct new_peer *np, const char *name)
{
	char priv[KEY_B64_LEN + 1], pub[KEY_B64_LEN + 1], psk[KEY_B64_LEN + 1];
	char spub[KEY_B64_LEN + 1], addrs[512], date[32];
	time_t now = time(NULL);
	struct tm tm;

	wg_key_to_base64(priv, np->priv);
	wg_key_to_base64(pub, np->pub);
	wg_key_to_base64(psk, np->psk);
	wg_key_to_base64(spub, np->server_pub);
	peer_cmd_list_prefixes(addrs, sizeof(addrs), np->addrs, np->n_addrs);
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
		 "%s"
		 "\n"
		 "[Peer]\n"
		 "PublicKey = %s\n"
		 "PresharedKey = %s\n"
		 "AllowedIPs = %s\n"
		 "Endpoint = %s\n"
		 "%s", priv, addrs, np->dns_line, spub, psk, np->allowed_ips, np->endpoint,
		 np->keepalive_line);
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

	if (peer_cmd_resolve_paths(a, &p) < 0)
		return 1;
	np = wg_secure_alloc(sizeof(*np));
	if (!np) {
		fprintf(stderr, "vpnd: out of memory\n");
		return 1;
	}
	memset(np, 0, sizeof(*np));
	/* Two peer adds at once must not pick the same address. */
	lock_fd = lock_config_file(p.conf);
	if (peer_cmd_load_config(&cfg, p.conf) < 0)
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
	if (choose_addresses(&cfg, a, np) < 0 || client_options(np, &cfg, a) < 0)
		goto out;
	wg_key_generate_private(np->priv);
	wg_random_bytes(np->psk, sizeof(np->psk));
	if (!wg_key_public_from_private(np->pub, np->priv) ||
	    !wg_key_public_from_private(np->server_pub, cfg.private_key)) {
		fprintf(stderr, "vpnd: cannot derive a public key\n");
		goto out;
	}
	compose(np, a->name);
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
	if (forwarding_advice(&check, p.ifname, forwarding_read_host(), err, sizeof(err)))
		fprintf(stderr, "vpnd: warning: %s\n", err);
	config_free(&check);
	peer_cmd_list_prefixes(addrs, sizeof(addrs), np->addrs, np->n_addrs);
	fprintf(stderr, "vpnd: %s: added peer %s (%s) in %s\n", p.ifname, a->name, addrs, p.file);
	if (lock_fd >= 0)
		close(lock_fd);	/* reload_apply takes it again */
	lock_fd = -1;
	/* The server's side first: a reader that stops early (`| grep -q`,
	 * a closed pager) kills us with SIGPIPE while printing, and must not
	 * leave the peer in the file but not in the running interface. */
	ret = apply_live(&p) < 0 ? 1 : 0;
	if (emit_client(np, a) < 0)
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

	if (peer_cmd_resolve_paths(a, &p) < 0)
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
	if (peer_cmd_load_config(&cfg, p.conf) < 0) {
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

static int peer_add_main(int argc, char **argv)
{
	struct peer_args a;
	int ret;

	if ((ret = parse_args(argc, argv, &a, true)) < 0)
		return ret == -2 ? VPND_EXIT_USAGE : 1;
	return peer_add(&a);
}

static int peer_remove_main(int argc, char **argv)
{
	struct peer_args a;
	int ret;

	if ((ret = parse_args(argc, argv, &a, true)) < 0)
		return ret == -2 ? VPND_EXIT_USAGE : 1;
	if (a.n_ips || a.endpoint || a.output || a.qr || a.dns || a.allowed_ips || a.keepalive) {
		fprintf(stderr, "vpnd: peer remove takes only NAME and --iface\n");
		return 1;
	}
	return peer_remove(&a);
}

static int peer_list_main(int argc, char **argv)
{
	struct peer_args a;
	int ret;

	if ((ret = parse_args(argc, argv, &a, false)) < 0)
		return ret == -2 ? VPND_EXIT_USAGE : 1;
	if (a.n_ips || a.endpoint || a.output || a.qr || a.dns || a.allowed_ips || a.keepalive) {
		fprintf(stderr, "vpnd: peer list takes only --iface\n");
		return 1;
	}
	return peer_list(&a);
}

/* The peer subcommands; their usage lines are in main.c's table. */
static const struct peer_command {
	const char *name;
	int (*fn)(int argc, char **argv);
} peer_commands[] = {
	{ "add", peer_add_main },
	{ "remove", peer_remove_main },
	{ "list", peer_list_main },
};

static int usage(void)
{
	return VPND_EXIT_USAGE;
}

int peer_main(int argc, char **argv)
{
	if (argc < 2)
		return usage();
	for (size_t i = 0; i < sizeof(peer_commands) / sizeof(peer_commands[0]); i++)
		if (!strcmp(argv[1], peer_commands[i].name))
			return peer_commands[i].fn(argc - 2, argv + 2);
	fprintf(stderr, "vpnd: unknown peer command: '%s'\n", argv[1]);
	return usage();
}
