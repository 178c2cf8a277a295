/* vpnd show [NAME] [--show-keys] [--rate[=SECONDS]] [--json | --prometheus]:
 * asks each daemon over UAPI (get=1 and vpnd's get=stats), parses the answers
 * with metrics.c and prints them like wg show (plus drop counters, handshake
 * counts and, with --rate, the current transfer rate from two samples), as
 * JSON, or in the Prometheus text format. */
#include "vpnd/cli/show.h"
#include "vpnd/cli/peer_names.h"
#include "vpnd/common/clock.h"
#include "vpnd/common/ifname.h"

#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "crypto/crypto.h"
#include "vpnd/control/metrics.h"
#include "vpnd/control/reload_apply.h"
#include "vpnd/control/uapi.h"

enum show_format { SHOW_HUMAN, SHOW_JSON, SHOW_PROMETHEUS };

struct sample {
	struct metrics_interface m;
	char private_key[KEY_B64_LEN + 1];	/* only with --show-keys */
	bool ok;
};

/* --- fetching ------------------------------------------------------------ */

/* "errno=N" at the end of an answer: 0 if the request succeeded. */
static int answer_errno(const char *ans)
{
	const char *e = strstr(ans, "errno=");

	while (e && e != ans && e[-1] != '\n')
		e = strstr(e + 1, "errno=");
	return e ? atoi(e + 6) : -EPROTO;
}

static void extract_private_key(char out[KEY_B64_LEN + 1], const char *get)
{
	const char *l = strstr(get, "private_key=");
	uint8_t k[KEY_LEN];
	char hex[KEY_HEX_LEN + 1];

	out[0] = '\0';
	if (!l || (l != get && l[-1] != '\n'))
		return;
	snprintf(hex, sizeof(hex), "%.*s", KEY_HEX_LEN, l + 12);
	if (wg_key_from_hex(k, hex))
		wg_key_to_base64(out, k);
	wg_secure_wipe(k, sizeof(k));
	wg_secure_wipe(hex, sizeof(hex));
}

static bool fetch(const char *ifname, struct sample *s, bool show_keys)
{
	char err[512], *get, *stats;
	int ret;

	memset(s, 0, sizeof(*s));
	get = uapi_request(ifname, "get=1\n\n", err, sizeof(err));
	if (!get) {
		fprintf(stderr, "vpnd: %s\n", err);
		return false;
	}
	if ((ret = answer_errno(get)) != 0) {
		fprintf(stderr, "vpnd: %s: get=1 failed: errno=%d\n", ifname, ret);
		wg_secure_wipe(get, strlen(get));
		uapi_answer_free(get);
		return false;
	}
	stats = uapi_request(ifname, "get=stats\n\n", err, sizeof(err));
	if (stats && answer_errno(stats) != 0) {	/* not a vpnd: no statistics */
		free(stats);
		stats = NULL;
	}
	if (show_keys)
		extract_private_key(s->private_key, get);
	ret = metrics_parse(&s->m, ifname, get, stats);
	wg_secure_wipe(get, strlen(get));
	uapi_answer_free(get);
	free(stats);
	if (ret) {
		fprintf(stderr, "vpnd: %s: out of memory\n", ifname);
		return false;
	}
	peer_names_fill(&s->m, ifname);
	s->ok = true;
	return true;
}

static void sample_free(struct sample *s)
{
	metrics_free(&s->m);
	wg_secure_wipe(s->private_key, sizeof(s->private_key));
}

/* --- human output -------------------------------------------------------- */

static void print_bytes(double v, const char *suffix)
{
	static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB" };
	int u = 0;

	while (v >= 1024 && u < 5) {
		v /= 1024;
		u++;
	}
	if (u == 0)
		printf("%.0f B%s", v, suffix);
	else
		printf("%.2f %s%s", v, units[u], suffix);
}

static void print_unit(unsigned long long n, const char *unit, bool *first)
{
	if (!n)
		return;
	printf("%s%llu %s%s", *first ? "" : ", ", n, unit, n == 1 ? "" : "s");
	*first = false;
}

/* "1 day, 2 hours, 1 minute, 5 seconds ago", as wg prints it. */
static void print_age(unsigned long long sec)
{
	unsigned long long now = (unsigned long long)time(NULL), age;
	bool first = true;

	if (!sec) {
		printf("  latest handshake: (none)\n");
		return;
	}
	age = now > sec ? now - sec : 0;
	printf("  latest handshake: ");
	print_unit(age / 86400, "day", &first);
	print_unit(age / 3600 % 24, "hour", &first);
	print_unit(age / 60 % 60, "minute", &first);
	if (first || age % 60)
		printf("%s%llu second%s", first ? "" : ", ", age % 60, age % 60 == 1 ? "" : "s");
	printf(" ago\n");
}

static void print_drops(const struct metrics_interface *m)
{
	bool any = false;

	for (size_t i = 0; i < m->n_drops; i++) {
		if (!m->drops[i].count)
			continue;
		printf("%s %s=%llu", any ? "," : "  drops:", m->drops[i].reason,
		       (unsigned long long)m->drops[i].count);
		any = true;
	}
	if (any)
		printf("\n");
}

static void print_peer(const struct metrics_peer *p, const struct metrics_peer *before,
		       double dt, bool show_keys)
{
	printf("\npeer: %s\n", p->public_key);
	if (p->name[0])
		printf("  name: %s\n", p->name);
	if (p->has_preshared_key)
		printf("  preshared key: %s\n", show_keys ? "(set)" : "(hidden)");
	if (p->endpoint[0])
		printf("  endpoint: %s\n", p->endpoint);
	printf("  allowed ips: ");
	for (size_t i = 0; i < p->n_allowed_ips; i++)
		printf("%s%s", i ? ", " : "", p->allowed_ips[i]);
	printf("%s\n", p->n_allowed_ips ? "" : "(none)");
	print_age(p->latest_handshake);
	if (p->rx_bytes || p->tx_bytes) {
		printf("  transfer: ");
		print_bytes((double)p->rx_bytes, " received, ");
		print_bytes((double)p->tx_bytes, " sent\n");
	}
	if (before && dt > 0) {
		uint64_t rx = p->rx_bytes >= before->rx_bytes ? p->rx_bytes - before->rx_bytes : 0;
		uint64_t tx = p->tx_bytes >= before->tx_bytes ? p->tx_bytes - before->tx_bytes : 0;

		printf("  rate: ");
		print_bytes((double)rx / dt, "/s received, ");
		print_bytes((double)tx / dt, "/s sent");
		printf(" (over %.1f s)\n", dt);
	}
	if (p->handshakes_sent || p->handshakes_received)
		printf("  handshakes: %llu sent, %llu received\n",
		       (unsigned long long)p->handshakes_sent,
		       (unsigned long long)p->handshakes_received);
	if (p->persistent_keepalive)
		printf("  persistent keepalive: every %u second%s\n", p->persistent_keepalive,
		       p->persistent_keepalive == 1 ? "" : "s");
}

/* before: the first sample of --rate (or NULL), dt seconds earlier. */
static void print_human(const struct sample *s, const struct sample *before, double dt,
			bool show_keys)
{
	const struct metrics_interface *m = &s->m;

	printf("interface: %s\n", m->name);
	if (m->public_key[0]) {
		printf("  public key: %s\n", m->public_key);
		printf("  private key: %s\n", show_keys && s->private_key[0] ? s->private_key :
		       "(hidden)");
	}
	printf("  listening port: %u\n", m->listen_port);
	if (m->fwmark)
		printf("  fwmark: 0x%x\n", (unsigned)m->fwmark);
	if (m->peer_to_peer[0] && strcmp(m->peer_to_peer, "kernel"))
		printf("  peer to peer: %s\n", m->peer_to_peer);
	print_drops(m);
	for (size_t i = 0; i < m->n_peers; i++) {
		const struct metrics_peer *b = NULL;

		if (before && before->ok)
			b = metrics_find_peer(&before->m, m->peers[i].public_key);
		print_peer(&m->peers[i], b, b ? dt : 0, show_keys);
	}
}

/* --- interfaces -------------------------------------------------------- */

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every interface with a control socket, sorted by name. */
static size_t list_interfaces(char ***out)
{
	DIR *d = opendir(UAPI_DIR);
	struct dirent *e;
	char **names = NULL;
	size_t n = 0;

	while (d && (e = readdir(d))) {
		size_t l = strlen(e->d_name);
		char **nn;

		if (l < 6 || strcmp(e->d_name + l - 5, ".sock"))
			continue;
		e->d_name[l - 5] = '\0';
		if (!ifname_valid(e->d_name))	/* not ours to connect to */
			continue;
		nn = realloc(names, (n + 1) * sizeof(*names));
		if (!nn)
			break;
		names = nn;
		names[n] = strndup(e->d_name, l - 5);
		if (names[n])
			n++;
	}
	if (d)
		closedir(d);
	if (n)
		qsort(names, n, sizeof(*names), cmp_names);
	*out = names;
	return n;
}

/* main prints the usage lines, from its table. */
static int usage(void)
{
	return VPND_EXIT_USAGE;
}

struct show_opts {
	enum show_format fmt;
	const char *name;
	bool show_keys;
	unsigned rate;		/* seconds between two samples; 0 = totals */
};

/* 0, or the exit code of a usage error. */
static int parse_show_args(int argc, char **argv, struct show_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->fmt = SHOW_HUMAN;
	for (int i = 1; i < argc; i++) {
		char *end;

		if (!strcmp(argv[i], "--show-keys")) {
			o->show_keys = true;
		} else if (!strcmp(argv[i], "--json")) {
			o->fmt = SHOW_JSON;
		} else if (!strcmp(argv[i], "--prometheus")) {
			o->fmt = SHOW_PROMETHEUS;
		} else if (!strcmp(argv[i], "--rate")) {
			o->rate = 1;
		} else if (!strncmp(argv[i], "--rate=", 7)) {
			unsigned long r = strtoul(argv[i] + 7, &end, 10);

			if (*end || !argv[i][7] || r < 1 || r > 60)
				return usage();
			o->rate = (unsigned)r;
		} else if (argv[i][0] == '-' || o->name) {
			fprintf(stderr, "vpnd: %s: '%s'\n", argv[i][0] == '-' ? "unknown option" :
				"unexpected argument", argv[i]);
			return usage();
		} else if (!ifname_valid(argv[i])) {
			fprintf(stderr, "vpnd: show: invalid interface name\n");
			return 1;
		} else {
			o->name = argv[i];
		}
	}
	if (o->rate && o->fmt != SHOW_HUMAN) {
		fprintf(stderr, "vpnd: --rate is for the human output; JSON and Prometheus "
				"give counters to take rates from\n");
		return 1;
	}
	return 0;
}

/* JSON or Prometheus of the interfaces that answered, packed together. */
static int print_machine(enum show_format fmt, const struct sample *now, size_t n)
{
	struct metrics_interface *ifs = calloc(n ? n : 1, sizeof(*ifs));
	size_t k = 0;

	if (!ifs)
		return 1;
	for (size_t i = 0; i < n; i++)
		if (now[i].ok)
			ifs[k++] = now[i].m;
	if (fmt == SHOW_JSON)
		metrics_print_json(stdout, ifs, k);
	else
		metrics_print_prometheus(stdout, ifs, k);
	free(ifs);	/* the contents belong to now[] */
	return 0;
}

static void print_all_human(const struct sample *now, const struct sample *before, size_t n,
			    double dt, bool show_keys)
{
	bool first = true;

	for (size_t i = 0; i < n; i++) {
		if (!now[i].ok)
			continue;
		if (!first)
			printf("\n");
		first = false;
		print_human(&now[i], before ? &before[i] : NULL, dt, show_keys);
	}
}

/* The interfaces to show: the one named, or every one with a UAPI socket. */
static size_t show_names(const char *name, char ***names)
{
	if (!name)
		return list_interfaces(names);
	*names = malloc(sizeof(**names));
	if (!*names)
		return 0;
	if (!((*names)[0] = strdup(name))) {
		free(*names);
		*names = NULL;
		return 0;
	}
	return 1;
}

int show_main(int argc, char **argv)
{
	struct show_opts o;
	char **names = NULL;
	size_t n;
	struct sample *now = NULL, *before = NULL;
	double t0 = 0, dt = 0;
	int ret = parse_show_args(argc, argv, &o);

	if (ret)
		return ret;
	n = show_names(o.name, &names);
	now = calloc(n ? n : 1, sizeof(*now));
	before = o.rate ? calloc(n ? n : 1, sizeof(*before)) : NULL;
	if ((o.name && !n) || !now || (o.rate && !before)) {
		ret = 1;
		goto out;
	}
	if (o.rate) {
		t0 = (double)now_monotonic_ns() / 1e9;
		for (size_t i = 0; i < n; i++)
			fetch(names[i], &before[i], false);
		nanosleep(&(struct timespec){ .tv_sec = o.rate }, NULL);
	}
	for (size_t i = 0; i < n; i++)
		if (!fetch(names[i], &now[i], o.show_keys && o.fmt == SHOW_HUMAN))
			ret = 1;
	if (o.rate)
		dt = (double)now_monotonic_ns() / 1e9 - t0;
	if (o.fmt == SHOW_HUMAN)
		print_all_human(now, before, n, dt, o.show_keys);
	else if (print_machine(o.fmt, now, n))
		ret = 1;
out:
	for (size_t i = 0; i < n; i++) {
		if (now)
			sample_free(&now[i]);
		if (before)
			sample_free(&before[i]);
		free(names[i]);
	}
	free(now);
	free(before);
	free(names);
	if (fflush(stdout) != 0)
		ret = 1;
	return ret;
}
