/* Re-resolving host-name endpoints in the root monitor; see resolve.h. */
#include "vpnd/control/resolve.h"
#include "vpnd/common/clock.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vpnd/common/log.h"
#include "vpnd/control/metrics.h"
#include "vpnd/control/uapi.h"

bool resolve_is_host_name(const char *text)
{
	const char *colon = strrchr(text, ':');
	char host[256];
	struct in_addr v4;

	if (!text[0] || text[0] == '[' || !colon || colon == text ||
	    (size_t)(colon - text) >= sizeof(host))
		return false;
	memcpy(host, text, (size_t)(colon - text));
	host[colon - text] = '\0';
	if (strchr(host, ':'))
		return false;
	return inet_pton(AF_INET, host, &v4) != 1;
}

bool resolve_should_push(const char *resolved, const char *last_resolved, const char *current,
			 uint64_t latest_handshake, uint64_t now)
{
	if (!resolved[0] || !strcmp(resolved, current))
		return false;
	if (!current[0])
		return true;	/* no endpoint at all */
	if (last_resolved[0] && strcmp(resolved, last_resolved))
		return true;	/* the name moved */
	if (!latest_handshake)
		return true;	/* never reached where it is */
	return now > latest_handshake && now - latest_handshake > RESOLVE_STALE_SEC;
}

void resolver_init(struct resolver *r, const char *ifname)
{
	const char *env = getenv("VPND_RESOLVE_INTERVAL");
	char *end;
	unsigned long v;

	memset(r, 0, sizeof(*r));
	snprintf(r->ifname, sizeof(r->ifname), "%s", ifname);
	r->interval = RESOLVE_DEFAULT_INTERVAL;
	if (env) {
		v = strtoul(env, &end, 10);
		if (*env && !*end && v <= 86400)
			r->interval = (unsigned)v;
		else
			log_warn("%s: VPND_RESOLVE_INTERVAL: not a number of seconds: '%s'",
				 ifname, env);
	}
}

void resolver_free(struct resolver *r)
{
	free(r->entries);
	memset(r, 0, sizeof(*r));
}

static bool has_host_names(const struct config *cfg)
{
	for (size_t i = 0; cfg && i < cfg->n_peers; i++)
		if (cfg->peers[i].has_endpoint && resolve_is_host_name(cfg->peers[i].endpoint_text))
			return true;
	return false;
}

const struct timespec *resolver_timeout(struct resolver *r, const struct config *cfg,
					struct timespec *ts)
{
	uint64_t now = now_monotonic_ns(), left;

	if (!r->interval || !has_host_names(cfg))
		return NULL;
	if (!r->next_ns)
		r->next_ns = now + (uint64_t)r->interval * 1000000000u;
	left = r->next_ns > now ? r->next_ns - now : 0;
	ts->tv_sec = (time_t)(left / 1000000000u);
	ts->tv_nsec = (long)(left % 1000000000u);
	return ts;
}

/* The entry of a peer; a new one remembers what vpnd up resolved. */
static struct resolve_entry *entry_of(struct resolver *r, const struct config_peer *cp)
{
	struct resolve_entry *e;

	for (size_t i = 0; i < r->n_entries; i++)
		if (!memcmp(r->entries[i].public_key, cp->public_key, KEY_LEN))
			return &r->entries[i];
	e = realloc(r->entries, (r->n_entries + 1) * sizeof(*e));
	if (!e)
		return NULL;
	r->entries = e;
	e += r->n_entries++;
	memcpy(e->public_key, cp->public_key, KEY_LEN);
	format_endpoint(e->last, sizeof(e->last), &cp->endpoint);
	return e;
}

static bool push(struct resolver *r, const char *pub_b64, const uint8_t pub[KEY_LEN],
		 const char *endpoint)
{
	char hex[KEY_HEX_LEN + 1], req[256], err[256], *ans;
	bool ok;

	wg_key_to_hex(hex, pub);
	snprintf(req, sizeof(req), "set=1\npublic_key=%s\nupdate_only=true\nendpoint=%s\n\n", hex,
		 endpoint);
	ans = uapi_request(r->ifname, req, err, sizeof(err));
	ok = ans && strstr(ans, "errno=0\n");
	if (!ok)
		log_warn("%s: peer %s: cannot set endpoint %s: %s", r->ifname, pub_b64, endpoint,
			 ans ? ans : err);
	uapi_answer_free(ans);
	return ok;
}

int resolver_run(struct resolver *r, const struct config *cfg)
{
	struct metrics_interface m;
	char err[256], *get;
	uint64_t now = (uint64_t)time(NULL);
	int pushed = 0, ret;

	r->next_ns = now_monotonic_ns() + (uint64_t)r->interval * 1000000000u;
	if (!has_host_names(cfg))
		return 0;
	get = uapi_request(r->ifname, "get=1\n\n", err, sizeof(err));
	if (!get) {
		log_warn("%s: re-resolving endpoints: %s", r->ifname, err);
		return 0;
	}
	ret = metrics_parse(&m, r->ifname, get, NULL);	/* keeps no private key */
	wg_secure_wipe(get, strlen(get));
	uapi_answer_free(get);
	if (ret)
		return 0;
	for (size_t i = 0; i < cfg->n_peers; i++) {
		const struct config_peer *cp = &cfg->peers[i];
		const struct metrics_peer *mp;
		struct resolve_entry *e;
		union sockaddr_any ep;
		char resolved[96], b64[KEY_B64_LEN + 1];

		if (!cp->has_endpoint || !resolve_is_host_name(cp->endpoint_text))
			continue;
		wg_key_to_base64(b64, cp->public_key);
		mp = metrics_find_peer(&m, b64);
		e = entry_of(r, cp);
		if (!mp || !e)
			continue;	/* not running any more (a reload removed it) */
		if (!parse_endpoint(cp->endpoint_text, &ep)) {
			log_warn("%s: peer %s: cannot resolve %s", r->ifname, b64, cp->endpoint_text);
			continue;
		}
		format_endpoint(resolved, sizeof(resolved), &ep);
		log_debug("%s: peer %s: %s is %s (was %s), endpoint now %s", r->ifname, b64,
			  cp->endpoint_text, resolved, e->last, mp->endpoint[0] ? mp->endpoint : "none");
		if (resolve_should_push(resolved, e->last, mp->endpoint, mp->latest_handshake, now) &&
		    push(r, b64, cp->public_key, resolved)) {
			log_info("%s: peer %s: endpoint %s -> %s (%s)", r->ifname, b64,
				 mp->endpoint[0] ? mp->endpoint : "none", resolved, cp->endpoint_text);
			pushed++;
		}
		snprintf(e->last, sizeof(e->last), "%s", resolved);
	}
	metrics_free(&m);
	return pushed;
}
