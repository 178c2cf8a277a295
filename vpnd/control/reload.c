/* vpnd reload, the pure part: running state from get=1, and the plan that
 * brings it to a config. See reload.h. */
#include "vpnd/control/reload.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/crypto.h"
#include "vpnd/control/fulltunnel.h"
#include "vpnd/control/routes.h"

/* --- small helpers ------------------------------------------------------ */

static int cmp_prefix_qsort(const void *a, const void *b)
{
	return ip_prefix_cmp(a, b);
}

/* Sorts and removes duplicates in place; returns the new count. */
static size_t sort_unique(struct ip_prefix *v, size_t n)
{
	size_t out = 0;

	if (!n)
		return 0;
	qsort(v, n, sizeof(*v), cmp_prefix_qsort);
	for (size_t i = 1; i < n; i++)
		if (ip_prefix_cmp(&v[out], &v[i]))
			v[++out] = v[i];
	return out + 1;
}

/* Arrays grown by doubling; secret ones by copy and wipe, since realloc
 * would free the old copy with the keys still in it. */
static bool grow(void **arr, size_t *cap, size_t need, size_t elem, bool secret)
{
	size_t new_cap;
	void *n;

	if (need <= *cap)
		return true;
	new_cap = *cap ? *cap * 2 : 8;
	while (new_cap < need)
		new_cap *= 2;
	if (new_cap > SIZE_MAX / elem)
		return false;
	if (!secret) {
		n = realloc(*arr, new_cap * elem);
	} else {
		n = malloc(new_cap * elem);
		if (n && *cap) {
			memcpy(n, *arr, *cap * elem);
			wg_secure_wipe(*arr, *cap * elem);
		}
		if (n)
			free(*arr);
	}
	if (!n)
		return false;
	*arr = n;
	*cap = new_cap;
	return true;
}

/* --- running state ------------------------------------------------------- */

static bool parse_u64(const char *v, uint64_t max, uint64_t *out)
{
	char *end;

	if (*v < '0' || *v > '9')
		return false;
	errno = 0;
	*out = strtoull(v, &end, 10);
	return !*end && !errno && *out <= max;
}

struct get_parser {
	struct running_state *rs;
	size_t peers_cap, aips_cap;	/* of rs->peers, of the last peer's allowed_ips */
};

static bool get_peer_key(struct get_parser *g, const char *key, const char *value)
{
	struct running_state *rs = g->rs;
	struct running_peer *p = &rs->peers[rs->n_peers - 1];
	struct ip_prefix pfx;
	uint64_t n;

	if (!strcmp(key, "preshared_key")) {
		if (!wg_key_from_hex(p->preshared_key, value))
			return false;
		p->has_preshared_key = !wg_ct_is_zero(p->preshared_key, KEY_LEN);
	} else if (!strcmp(key, "endpoint")) {
		/* get prints numeric endpoints; one that does not parse is
		 * taken as none, so a config endpoint is simply set again. */
		p->has_endpoint = parse_endpoint_numeric(value, &p->endpoint);
	} else if (!strcmp(key, "persistent_keepalive_interval")) {
		if (!parse_u64(value, 65535, &n))
			return false;
		p->persistent_keepalive = (uint16_t)n;
	} else if (!strcmp(key, "last_handshake_time_sec")) {
		return parse_u64(value, UINT64_MAX, &p->last_handshake_sec);
	} else if (!strcmp(key, "rx_bytes")) {
		return parse_u64(value, UINT64_MAX, &p->rx_bytes);
	} else if (!strcmp(key, "tx_bytes")) {
		return parse_u64(value, UINT64_MAX, &p->tx_bytes);
	} else if (!strcmp(key, "allowed_ip")) {
		if (!parse_ip_prefix(value, &pfx))
			return false;
		if (!grow((void **)&p->allowed_ips, &g->aips_cap, p->n_allowed_ips + 1,
			  sizeof(pfx), false))
			return false;
		p->allowed_ips[p->n_allowed_ips++] = pfx;
	}
	/* protocol_version, last_handshake_time_nsec, anything newer: skipped */
	return true;
}

static bool get_line(struct get_parser *g, const char *key, const char *value)
{
	struct running_state *rs = g->rs;
	uint64_t n;

	if (!strcmp(key, "public_key")) {
		struct running_peer *p;

		if (!grow((void **)&rs->peers, &g->peers_cap, rs->n_peers + 1, sizeof(*p), true))
			return false;
		p = &rs->peers[rs->n_peers++];
		memset(p, 0, sizeof(*p));
		g->aips_cap = 0;
		return wg_key_from_hex(p->public_key, value);
	}
	if (rs->n_peers)
		return get_peer_key(g, key, value);
	if (!strcmp(key, "private_key")) {
		if (!wg_key_from_hex(rs->private_key, value))
			return false;
		rs->has_private_key = !wg_ct_is_zero(rs->private_key, KEY_LEN);
	} else if (!strcmp(key, "listen_port")) {
		if (!parse_u64(value, 65535, &n))
			return false;
		rs->listen_port = (uint16_t)n;
	} else if (!strcmp(key, "fwmark")) {
		if (!parse_u64(value, UINT32_MAX, &n))
			return false;
		rs->fwmark = (uint32_t)n;
	}
	return true;
}

/* s if it is made of allowed characters only, else "?": what the worker
 * says is quoted to the operator only when it cannot be anything else. */
static const char *word_or_mark(const char *s, const char *allowed)
{
	return *s && s[strspn(s, allowed)] == '\0' ? s : "?";
}

int running_state_parse(struct running_state *rs, const char *text, char *err, size_t err_len)
{
	struct get_parser g = { .rs = rs };
	const char *s = text;
	char line[512];
	int ret = 0;

	memset(rs, 0, sizeof(*rs));
	while (*s && !ret) {
		size_t n = strcspn(s, "\n");
		char *eq;

		if (n >= sizeof(line)) {
			snprintf(err, err_len, "UAPI answer: line too long");
			ret = -1;
			break;
		}
		memcpy(line, s, n);
		line[n] = '\0';
		s += n + (s[n] == '\n');
		if (!n)
			continue;
		eq = strchr(line, '=');
		if (!eq) {
			/* Not quoted: it may be a key, or hold control
			 * characters meant for the operator's terminal. */
			snprintf(err, err_len, "UAPI answer: malformed line (%zu characters)", n);
			ret = -1;
			break;
		}
		*eq = '\0';
		if (!strcmp(line, "errno")) {
			if (strcmp(eq + 1, "0")) {
				snprintf(err, err_len, "UAPI answer: errno=%s",
					 word_or_mark(eq + 1, "-0123456789"));
				ret = -1;
			}
			break;
		}
		if (!get_line(&g, line, eq + 1)) {
			/* The value may be a key: only the name is quoted. */
			snprintf(err, err_len, "UAPI answer: bad value for '%.32s'",
				 word_or_mark(line, "abcdefghijklmnopqrstuvwxyz_"));
			ret = -1;
		}
	}
	wg_secure_wipe(line, sizeof(line));
	if (ret)
		running_state_free(rs);
	return ret;
}

void running_state_free(struct running_state *rs)
{
	for (size_t i = 0; i < rs->n_peers; i++)
		free(rs->peers[i].allowed_ips);
	if (rs->peers)
		wg_secure_wipe(rs->peers, rs->n_peers * sizeof(*rs->peers));
	free(rs->peers);
	wg_secure_wipe(rs, sizeof(*rs));
}

/* --- the plan ------------------------------------------------------------- */

struct text {
	char *s;
	size_t len, cap;
	bool oom;
};

static __attribute__((format(printf, 2, 3)))
void text_add(struct text *t, const char *fmt, ...)
{
	char line[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(line) ||
	    !grow((void **)&t->s, &t->cap, t->len + (size_t)n + 1, 1, true)) {
		t->oom = true;
	} else {
		memcpy(t->s + t->len, line, (size_t)n + 1);
		t->len += (size_t)n;
	}
	wg_secure_wipe(line, sizeof(line));
}

static void text_key(struct text *t, const char *name, const uint8_t key[KEY_LEN])
{
	char hex[KEY_HEX_LEN + 1];

	wg_key_to_hex(hex, key);
	text_add(t, "%s=%s\n", name, hex);
	wg_secure_wipe(hex, sizeof(hex));
}

static int cmp_peer_key(const void *a, const void *b)
{
	const struct running_peer *const *x = a, *const *y = b;

	return memcmp((*x)->public_key, (*y)->public_key, KEY_LEN);
}

static const struct running_peer *find_running(const struct running_peer **sorted, size_t n,
					       const uint8_t key[KEY_LEN])
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = memcmp(key, sorted[mid]->public_key, KEY_LEN);

		if (!c)
			return sorted[mid];
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

static int cmp_key_ptr(const void *a, const void *b)
{
	const uint8_t *const *x = a, *const *y = b;

	return memcmp(*x, *y, KEY_LEN);
}

/* keys: the config's public keys, sorted (cmp_key_ptr). */
static bool config_has_peer(const uint8_t **keys, size_t n, const uint8_t key[KEY_LEN])
{
	return bsearch(&key, keys, n, sizeof(*keys), cmp_key_ptr) != NULL;
}

/* Same set of prefixes, order and duplicates aside. */
static int same_allowed_ips(const struct config_peer *cp, const struct running_peer *rp)
{
	struct ip_prefix *a, *b;
	size_t na, nb;
	int same;

	a = malloc((cp->n_allowed_ips + 1) * sizeof(*a));
	b = malloc((rp->n_allowed_ips + 1) * sizeof(*b));
	if (!a || !b) {
		free(a);
		free(b);
		return -1;
	}
	if (cp->n_allowed_ips)
		memcpy(a, cp->allowed_ips, cp->n_allowed_ips * sizeof(*a));
	if (rp->n_allowed_ips)
		memcpy(b, rp->allowed_ips, rp->n_allowed_ips * sizeof(*b));
	na = sort_unique(a, cp->n_allowed_ips);
	nb = sort_unique(b, rp->n_allowed_ips);
	same = na == nb && (!na || !memcmp(a, b, na * sizeof(*a)));
	free(a);
	free(b);
	return same;
}

static void text_allowed_ips(struct text *t, const struct config_peer *cp)
{
	char buf[INET6_ADDRSTRLEN + 8];

	text_add(t, "replace_allowed_ips=true\n");
	for (size_t j = 0; j < cp->n_allowed_ips; j++) {
		format_prefix(buf, sizeof(buf), &cp->allowed_ips[j]);
		text_add(t, "allowed_ip=%s\n", buf);
	}
}

static void text_endpoint(struct text *t, const union sockaddr_any *ep)
{
	char buf[INET6_ADDRSTRLEN + 32];

	format_endpoint(buf, sizeof(buf), ep);
	text_add(t, "endpoint=%s\n", buf);
}

static void plan_new_peer(struct text *t, const struct config_peer *cp)
{
	text_key(t, "public_key", cp->public_key);
	if (cp->has_preshared_key)
		text_key(t, "preshared_key", cp->preshared_key);
	if (cp->has_endpoint)
		text_endpoint(t, &cp->endpoint);
	/* Exact even if someone added the peer since our get. */
	text_allowed_ips(t, cp);
	/* Last: turning keepalive on sends one at once, to the endpoint. */
	if (cp->persistent_keepalive)
		text_add(t, "persistent_keepalive_interval=%u\n", cp->persistent_keepalive);
}

/* Appends the changed fields of a running peer; returns 1 if any, 0 if
 * none, -1 when out of memory. */
static int plan_changed_peer(struct text *t, const struct config_peer *cp,
			     const struct running_peer *rp)
{
	static const uint8_t zero[KEY_LEN];
	const uint8_t *want_psk = cp->has_preshared_key ? cp->preshared_key : zero;
	const uint8_t *have_psk = rp->has_preshared_key ? rp->preshared_key : zero;
	bool psk = !wg_ct_equal(want_psk, have_psk, KEY_LEN);
	bool ep = cp->has_endpoint && (!rp->has_endpoint ||
				       !sockaddr_equal(&cp->endpoint, &rp->endpoint));
	bool ka = cp->persistent_keepalive != rp->persistent_keepalive;
	int same_aips = same_allowed_ips(cp, rp);

	if (same_aips < 0)
		return -1;
	if (!psk && !ep && !ka && same_aips)
		return 0;
	text_key(t, "public_key", cp->public_key);
	text_add(t, "update_only=true\n");
	if (psk)
		text_key(t, "preshared_key", want_psk);	/* zeros clear it */
	if (ep)
		text_endpoint(t, &cp->endpoint);
	if (!same_aips)
		text_allowed_ips(t, cp);
	if (ka)
		text_add(t, "persistent_keepalive_interval=%u\n", cp->persistent_keepalive);
	return 1;
}

static void plan_interface(struct reload_plan *plan, struct text *t, const struct config *cfg,
			   const struct running_state *rs)
{
	uint8_t clamped[KEY_LEN];

	/* The daemon holds (and get prints) the key clamped. */
	memcpy(clamped, cfg->private_key, KEY_LEN);
	wg_key_clamp(clamped);
	if (cfg->has_private_key &&
	    (!rs->has_private_key || !wg_ct_equal(clamped, rs->private_key, KEY_LEN))) {
		text_key(t, "private_key", cfg->private_key);
		plan->interface_changed = true;
	}
	wg_secure_wipe(clamped, sizeof(clamped));
	if (cfg->has_listen_port && cfg->listen_port != rs->listen_port) {
		text_add(t, "listen_port=%u\n", cfg->listen_port);
		plan->interface_changed = true;
	}
	/* A full tunnel keeps the table up picked (the running fwmark). */
	if (fulltunnel_fwmark(cfg, rs->fwmark) != rs->fwmark) {
		text_add(t, "fwmark=%u\n", fulltunnel_fwmark(cfg, rs->fwmark));
		plan->interface_changed = true;
	}
	if (rs->has_peer_to_peer && cfg->peer_to_peer != rs->peer_to_peer) {
		text_add(t, "peer_to_peer=%s\n", p2p_mode_name(cfg->peer_to_peer));
		plan->interface_changed = true;
	}
}

/* The wanted routes (routes.h) of every allowed IP, sorted, unique. */
static struct ip_prefix *collect_routes(const struct config *cfg, size_t n_sets,
					const struct ip_prefix *const *sets, const size_t *lens,
					size_t *n_out)
{
	struct ip_prefix *v;
	size_t total = 0, n = 0;

	for (size_t i = 0; i < n_sets; i++)
		total += lens[i];
	v = malloc((total + 1) * sizeof(*v));
	if (!v)
		return NULL;
	for (size_t i = 0; i < n_sets; i++)
		for (size_t j = 0; j < lens[i]; j++)
			if (route_wanted(cfg, &sets[i][j]))
				v[n++] = sets[i][j];
	*n_out = sort_unique(v, n);
	return v;
}

/* a minus b, both sorted and unique. */
static struct ip_prefix *difference(const struct ip_prefix *a, size_t na,
				    const struct ip_prefix *b, size_t nb, size_t *n_out)
{
	struct ip_prefix *v = malloc((na + 1) * sizeof(*v));
	size_t i = 0, j = 0, n = 0;

	if (!v)
		return NULL;
	while (i < na) {
		int c = j < nb ? ip_prefix_cmp(&a[i], &b[j]) : -1;

		if (c < 0)
			v[n++] = a[i++];
		else if (c > 0)
			j++;
		else
			i++, j++;
	}
	*n_out = n;
	return v;
}

static int plan_routes(struct reload_plan *plan, const struct config *cfg,
		       const struct running_state *rs)
{
	const struct ip_prefix **sets;
	size_t *lens, n_old = 0, n_new = 0, n = cfg->n_peers > rs->n_peers ? cfg->n_peers : rs->n_peers;
	struct ip_prefix *old = NULL, *new = NULL;
	int ret = -1;

	sets = calloc(n + 1, sizeof(*sets));
	lens = calloc(n + 1, sizeof(*lens));
	if (!sets || !lens)
		goto out;
	/* Routes are judged by the new config's addresses for both sides:
	 * vpnd does not change addresses on reload. */
	for (size_t i = 0; i < rs->n_peers; i++) {
		sets[i] = rs->peers[i].allowed_ips;
		lens[i] = rs->peers[i].n_allowed_ips;
	}
	old = collect_routes(cfg, rs->n_peers, sets, lens, &n_old);
	for (size_t i = 0; i < cfg->n_peers; i++) {
		sets[i] = cfg->peers[i].allowed_ips;
		lens[i] = cfg->peers[i].n_allowed_ips;
	}
	new = collect_routes(cfg, cfg->n_peers, sets, lens, &n_new);
	if (!old || !new)
		goto out;
	plan->route_add = difference(new, n_new, old, n_old, &plan->n_route_add);
	plan->route_del = difference(old, n_old, new, n_new, &plan->n_route_del);
	if (plan->route_add && plan->route_del)
		ret = 0;
out:
	free(sets);
	free(lens);
	free(old);
	free(new);
	return ret;
}

int reload_plan_make(struct reload_plan *plan, const struct config *cfg,
		     const struct running_state *rs)
{
	const struct running_peer **sorted;
	const uint8_t **cfg_keys;
	struct text t = { 0 };
	uint8_t own_pub[KEY_LEN];
	bool have_own = cfg->has_private_key && wg_key_public_from_private(own_pub, cfg->private_key);
	int ret = -1;

	memset(plan, 0, sizeof(*plan));
	sorted = calloc(rs->n_peers + 1, sizeof(*sorted));
	cfg_keys = calloc(cfg->n_peers + 1, sizeof(*cfg_keys));
	if (!sorted || !cfg_keys)
		goto out;
	for (size_t i = 0; i < rs->n_peers; i++)
		sorted[i] = &rs->peers[i];
	qsort(sorted, rs->n_peers, sizeof(*sorted), cmp_peer_key);
	for (size_t i = 0; i < cfg->n_peers; i++)
		cfg_keys[i] = cfg->peers[i].public_key;
	qsort(cfg_keys, cfg->n_peers, sizeof(*cfg_keys), cmp_key_ptr);

	plan_interface(plan, &t, cfg, rs);
	/* Removals first: an allowed IP moving from a removed peer to a new
	 * one then ends up with the new one. */
	for (size_t i = 0; i < rs->n_peers; i++) {
		if (config_has_peer(cfg_keys, cfg->n_peers, rs->peers[i].public_key))
			continue;
		text_key(&t, "public_key", rs->peers[i].public_key);
		text_add(&t, "remove=true\n");
		plan->peers_removed++;
	}
	for (size_t i = 0; i < cfg->n_peers; i++) {
		const struct config_peer *cp = &cfg->peers[i];
		const struct running_peer *rp = find_running(sorted, rs->n_peers, cp->public_key);
		int changed;

		/* The UAPI ignores a peer with the interface's own key. */
		if (have_own && !memcmp(cp->public_key, own_pub, KEY_LEN))
			continue;
		if (!rp) {
			plan_new_peer(&t, cp);
			plan->peers_added++;
			continue;
		}
		changed = plan_changed_peer(&t, cp, rp);
		if (changed < 0)
			goto out;
		if (changed)
			plan->peers_changed++;
		else
			plan->peers_unchanged++;
	}
	if (t.oom || plan_routes(plan, cfg, rs) < 0)
		goto out;
	if (!t.s) {
		t.s = calloc(1, 1);
		if (!t.s)
			goto out;
	}
	plan->set = t.s;
	plan->set_len = t.len;
	t.s = NULL;
	ret = 0;
out:
	free(sorted);
	free(cfg_keys);
	wg_secure_wipe(own_pub, sizeof(own_pub));
	if (t.s) {
		wg_secure_wipe(t.s, t.cap);
		free(t.s);
	}
	if (ret)
		reload_plan_free(plan);
	return ret;
}

bool reload_plan_empty(const struct reload_plan *plan)
{
	return !plan->set_len && !plan->n_route_add && !plan->n_route_del;
}

void reload_plan_free(struct reload_plan *plan)
{
	if (plan->set) {
		wg_secure_wipe(plan->set, plan->set_len);
		free(plan->set);
	}
	free(plan->route_add);
	free(plan->route_del);
	memset(plan, 0, sizeof(*plan));
}

void running_state_parse_stats(struct running_state *rs, const char *stats)
{
	const char *line = strstr(stats, "peer_to_peer=");
	char value[16];
	size_t n;

	/* The interface-wide lines come before the first peer. */
	if (!line || (line != stats && line[-1] != '\n'))
		return;
	line += strlen("peer_to_peer=");
	n = strcspn(line, "\n");
	if (n >= sizeof(value))
		return;
	memcpy(value, line, n);
	value[n] = '\0';
	rs->has_peer_to_peer = p2p_mode_parse(value, &rs->peer_to_peer);
}

static bool hook_list_equal(char **a, size_t na, char **b, size_t nb)
{
	if (na != nb)
		return false;
	for (size_t i = 0; i < na; i++)
		if (strcmp(a[i], b[i]))
			return false;
	return true;
}

bool reload_hooks_equal(const struct config *a, const struct config *b)
{
	return hook_list_equal(a->pre_up, a->n_pre_up, b->pre_up, b->n_pre_up) &&
	       hook_list_equal(a->post_up, a->n_post_up, b->post_up, b->n_post_up) &&
	       hook_list_equal(a->pre_down, a->n_pre_down, b->pre_down, b->n_pre_down) &&
	       hook_list_equal(a->post_down, a->n_post_down, b->post_down, b->n_post_down);
}

#define SWAP_HOOKS(x)                                                                    \
	do {                                                                             \
		char **l = to->x;                                                        \
		size_t n = to->n_##x;                                                    \
		to->x = from->x, to->n_##x = from->n_##x;                                \
		from->x = l, from->n_##x = n;                                            \
	} while (0)

void reload_keep_hooks(struct config *to, struct config *from)
{
	SWAP_HOOKS(pre_up);
	SWAP_HOOKS(post_up);
	SWAP_HOOKS(pre_down);
	SWAP_HOOKS(post_down);
}
