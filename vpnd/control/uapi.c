/* UAPI: text in, text out; plus the socket around it. */
#include "vpnd/control/uapi.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <malloc.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "vpnd/datapath/device.h"
#include "vpnd/datapath/peer.h"
#include "vpnd/datapath/timer_heap.h"
#include "vpnd/common/clock.h"
#include "vpnd/common/ifname.h"

/* --- get ---------------------------------------------------------------- */

struct strbuf {
	char *s;
	size_t len, cap;
	bool oom;
};

static void sb_printf(struct strbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(b->s ? b->s + b->len : NULL, b->s ? b->cap - b->len : 0, fmt, ap);
		va_end(ap);
		if (n < 0 || b->oom)
			return;
		if (b->s && b->len + (size_t)n < b->cap) {
			b->len += (size_t)n;
			return;
		}
		size_t cap = (b->cap ? b->cap * 2 : 4096) + (size_t)n;
		/* the text holds keys: never leave a copy in freed memory */
		char *s = wg_realloc_wiped(b->s, b->cap, cap);

		if (!s) {
			b->oom = true;
			return;
		}
		b->s = s;
		b->cap = cap;
	}
}

static void sb_key(struct strbuf *b, const char *name, const uint8_t key[KEY_LEN])
{
	char hex[KEY_HEX_LEN + 1];

	wg_key_to_hex(hex, key);
	sb_printf(b, "%s=%s\n", name, hex);
	wg_secure_wipe(hex, sizeof(hex));
}

static void walk_allowed_ip(void *ctx, int family, const uint8_t *addr, uint8_t cidr)
{
	char text[INET6_ADDRSTRLEN];

	inet_ntop(family, addr, text, sizeof(text));
	sb_printf(ctx, "allowed_ip=%s/%u\n", text, cidr);
}

static void get_peer(struct strbuf *b, struct peer *p)
{
	sb_key(b, "public_key", p->public_key);
	/* Always, all zeros for none, as wireguard-go writes it. */
	sb_key(b, "preshared_key", p->hs->preshared_key);
	sb_printf(b, "protocol_version=1\n");
	if (p->has_endpoint) {
		char ep[INET6_ADDRSTRLEN + 16];

		format_endpoint(ep, sizeof(ep), &p->endpoint.addr);
		sb_printf(b, "endpoint=%s\n", ep);
	}
	sb_printf(b, "last_handshake_time_sec=%llu\nlast_handshake_time_nsec=%llu\n",
		  (unsigned long long)(p->last_handshake_wall_ns / NSEC_PER_SEC),
		  (unsigned long long)(p->last_handshake_wall_ns % NSEC_PER_SEC));
	sb_printf(b, "tx_bytes=%llu\nrx_bytes=%llu\n", (unsigned long long)p->tx_bytes,
		  (unsigned long long)p->rx_bytes);
	sb_printf(b, "persistent_keepalive_interval=%u\n", p->timers.persistent_keepalive_interval);
	allowedips_walk_owner(&p->aips, walk_allowed_ip, b);
}

char *uapi_get(struct device *dev)
{
	struct strbuf b = { 0 };

	if (dev->local->has_identity)
		sb_key(&b, "private_key", dev->local->private_key);
	sb_printf(&b, "listen_port=%u\n", dev->bound_port);
	if (dev->fwmark)
		sb_printf(&b, "fwmark=%u\n", dev->fwmark);
	for (struct peer *p = dev->peers_first; p; p = p->next)
		get_peer(&b, p);
	if (b.oom) {
		free(b.s);
		return NULL;
	}
	if (!b.s)
		return strdup("");
	return b.s;
}

char *uapi_get_stats(struct device *dev)
{
	struct strbuf b = { 0 };

	for (int i = 0; i < DROP_COUNT; i++)
		sb_printf(&b, "drop_%s=%llu\n", drop_reason_name((enum drop_reason)i),
			  (unsigned long long)device_drops(dev, (enum drop_reason)i));
	sb_printf(&b, "cookie_replies_sent=%llu\nhandshakes_answered=%llu\n",
		  (unsigned long long)dev->cookie_replies_sent,
		  (unsigned long long)dev->handshakes_answered);
	sb_printf(&b, "under_load=%d\n", device_load_peek(dev, now_monotonic_ns()));
	sb_printf(&b, "peer_to_peer=%s\n", p2p_mode_name(dev->peer_to_peer));
	for (struct peer *p = dev->peers_first; p; p = p->next) {
		sb_key(&b, "public_key", p->public_key);
		sb_printf(&b, "rx_packets=%llu\ntx_packets=%llu\nhandshakes_sent=%llu\n"
			  "handshakes_received=%llu\n",
			  (unsigned long long)p->rx_packets, (unsigned long long)p->tx_packets,
			  (unsigned long long)p->handshakes_sent,
			  (unsigned long long)p->handshakes_received);
	}
	if (b.oom || !b.s) {
		free(b.s);
		return b.oom ? NULL : strdup("");
	}
	return b.s;
}

/* --- set ---------------------------------------------------------------- */

struct set_state {
	struct device *dev;
	struct peer *peer;	/* the peer being configured, or NULL */
	bool peer_is_new;
	bool skip_peer;		/* our own key, or update_only on a new peer */
};

static bool parse_uint(const char *v, unsigned long max, unsigned long *out)
{
	char *end;

	if (!*v || *v == '-' || *v == '+')
		return false;
	errno = 0;
	*out = strtoul(v, &end, 10);
	return !*end && !errno && *out <= max;
}

static int set_device_key(struct set_state *st, const char *key, const char *value)
{
	struct device *dev = st->dev;
	uint8_t k[KEY_LEN];
	unsigned long n;
	int ret = 0;

	if (!strcmp(key, "private_key")) {
		if (!wg_key_from_hex(k, value))
			return EINVAL;
		device_set_private_key(dev, wg_ct_is_zero(k, KEY_LEN) ? NULL : k);
		wg_secure_wipe(k, sizeof(k));
	} else if (!strcmp(key, "listen_port")) {
		if (!parse_uint(value, 65535, &n))
			return EINVAL;
		if (n != dev->bound_port || dev->udp_fd < 0)
			ret = -device_bind(dev, (uint16_t)n);
		if (ret)
			return EADDRINUSE;	/* whatever failed, as wireguard-go */
	} else if (!strcmp(key, "fwmark")) {
		if (!parse_uint(value, UINT32_MAX, &n))
			return EINVAL;
		if (device_set_fwmark(dev, (uint32_t)n) < 0)
			return EIO;
	} else if (!strcmp(key, "peer_to_peer")) {
		/* vpnd's own key ([Interface] PeerToPeer); wg never sends it. */
		if (!p2p_mode_parse(value, &dev->peer_to_peer))
			return EINVAL;
	} else if (!strcmp(key, "replace_peers")) {
		if (strcmp(value, "true"))
			return EINVAL;
		device_peers_remove_all(dev);
	} else {
		return EINVAL;
	}
	return 0;
}

static int start_peer(struct set_state *st, const char *value)
{
	uint8_t k[KEY_LEN];

	if (!wg_key_from_hex(k, value))
		return EINVAL;
	st->skip_peer = false;
	st->peer_is_new = false;
	st->peer = device_peer_lookup(st->dev, k);
	if (!st->peer) {
		if (st->dev->local->has_identity &&
		    wg_ct_equal(k, st->dev->local->public_key, KEY_LEN)) {
			st->skip_peer = true;	/* ignored, like wireguard-go */
			return 0;
		}
		st->peer = device_peer_create(st->dev, k);
		if (!st->peer)
			return ENOMEM;
		st->peer_is_new = true;
	}
	return 0;
}

/* Each peer line is checked even when it will not be applied (peer NULL:
 * after remove, update_only of a new peer, or our own public key), as
 * wireguard-go checks the lines of its placeholder peer. */
static int set_peer_endpoint(struct peer *peer, const char *value)
{
	union sockaddr_any ep;

	if (!parse_endpoint_numeric(value, &ep))
		return EINVAL;
	if (peer)
		peer_set_endpoint(peer, &ep);
	return 0;
}

/* "PREFIX" adds, "-PREFIX" removes that one prefix if the peer holds it
 * (wg set ... allowed-ips -X, as wireguard-go takes it). */
static int set_peer_allowed_ip(struct peer *peer, const char *value)
{
	bool remove = value[0] == '-';
	struct ip_prefix p;

	if (!parse_ip_prefix(value + remove, &p))
		return EINVAL;
	if (!peer)
		return 0;
	if (remove) {
		(void)allowedips_remove(peer->dev->aips, p.family, p.addr, p.cidr, &peer->aips);
		return 0;
	}
	return allowedips_insert(peer->dev->aips, p.family, p.addr, p.cidr, &peer->aips) < 0 ?
	       ENOMEM : 0;
}

static int set_peer_keepalive(struct peer *peer, const char *value)
{
	unsigned long n;
	bool was_off;

	if (!parse_uint(value, 65535, &n))
		return EINVAL;
	if (!peer)
		return 0;
	was_off = !peer->timers.persistent_keepalive_interval;
	peer_set_persistent_keepalive(peer, (uint16_t)n);
	/* Turning it on sends one at once, so a NAT opens without waiting. */
	if (n && was_off && peer->dev->local->has_identity && peer->has_endpoint) {
		send_keepalive(peer);
		send_flush(peer->dev);
	}
	return 0;
}

static int set_peer_key(struct set_state *st, const char *key, const char *value)
{
	struct peer *peer = st->peer;
	uint8_t k[KEY_LEN];

	if (!strcmp(key, "update_only")) {
		if (strcmp(value, "true"))
			return EINVAL;
		if (st->peer_is_new) {
			device_peer_remove(st->dev, peer);
			st->peer = NULL;
			st->skip_peer = true;
			st->peer_is_new = false;	/* a second update_only: peer is gone */
		}
		return 0;
	}
	if (st->skip_peer)
		peer = NULL;	/* checked, not applied */
	if (!strcmp(key, "remove")) {
		if (strcmp(value, "true"))
			return EINVAL;
		if (peer)
			device_peer_remove(st->dev, peer);
		st->peer = NULL;
		st->skip_peer = true;
		st->peer_is_new = false;	/* an update_only after this: peer is gone */
	} else if (!strcmp(key, "preshared_key")) {
		if (!wg_key_from_hex(k, value))
			return EINVAL;
		if (peer)
			device_peer_set_psk(st->dev, peer, k);
		wg_secure_wipe(k, sizeof(k));
	} else if (!strcmp(key, "endpoint")) {
		return set_peer_endpoint(peer, value);
	} else if (!strcmp(key, "persistent_keepalive_interval")) {
		return set_peer_keepalive(peer, value);
	} else if (!strcmp(key, "replace_allowed_ips")) {
		if (strcmp(value, "true"))
			return EINVAL;
		if (peer)
			allowedips_remove_owner(st->dev->aips, &peer->aips);
	} else if (!strcmp(key, "allowed_ip")) {
		return set_peer_allowed_ip(peer, value);
	} else if (!strcmp(key, "protocol_version")) {
		return strcmp(value, "1") ? EINVAL : 0;	/* as wireguard-go */
	} else {
		return EINVAL;
	}
	return 0;
}

int uapi_set(struct device *dev, char *body)
{
	struct set_state st = { .dev = dev };
	char *save = NULL;

	for (char *line = strtok_r(body, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *eq = strchr(line, '=');
		int ret;

		if (!eq)
			return EPROTO;	/* as wireguard-go: a protocol error */
		*eq = '\0';
		if (!strcmp(line, "public_key"))
			ret = start_peer(&st, eq + 1);
		else if (st.peer || st.skip_peer)
			ret = set_peer_key(&st, line, eq + 1);
		else
			ret = set_device_key(&st, line, eq + 1);
		if (ret)
			return ret;
	}
	return 0;
}

/* --- sockets ------------------------------------------------------------ */

/* false for a name that is not an interface name: no path is built from
 * it (no "../", no truncation onto another interface's socket). */
static bool socket_path(struct sockaddr_un *a, const char *ifname)
{
	memset(a, 0, sizeof(*a));
	a->sun_family = AF_UNIX;
	if (!ifname_valid(ifname))
		return false;
	snprintf(a->sun_path, sizeof(a->sun_path), "%s/%s.sock", UAPI_DIR, ifname);
	return true;
}

static void bad_name(char *err, size_t err_len, const char *ifname)
{
	char shown[48];

	ifname_quote(shown, sizeof(shown), ifname);
	snprintf(err, err_len, "invalid interface name: '%s'", shown);
}

int uapi_alive(const char *ifname)
{
	struct sockaddr_un a;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), ok;

	if (fd < 0)
		return 0;
	ok = socket_path(&a, ifname) &&
	     connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
	close(fd);
	return ok;
}

int uapi_listen(const char *ifname, char *err, size_t err_len)
{
	struct sockaddr_un a;
	mode_t old;
	int fd;

	if (!ifname_valid(ifname)) {
		bad_name(err, err_len, ifname);
		return -1;
	}
	mkdir("/var/run", 0755);
	if (mkdir(UAPI_DIR, 0755) < 0 && errno != EEXIST) {
		snprintf(err, err_len, "mkdir %s: %s", UAPI_DIR, strerror(errno));
		return -1;
	}
	if (uapi_alive(ifname)) {
		snprintf(err, err_len, "%s is already up (its control socket answers)", ifname);
		return -1;
	}
	(void)socket_path(&a, ifname);	/* checked above */
	unlink(a.sun_path);	/* stale: nobody answered on it */
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	old = umask(0077);	/* mode 0600 from the start, no window */
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 16) < 0) {
		snprintf(err, err_len, "control socket %s: %s", a.sun_path, strerror(errno));
		umask(old);
		if (fd >= 0)
			close(fd);
		return -1;
	}
	umask(old);
	return fd;
}

void uapi_unlink(const char *ifname)
{
	struct sockaddr_un a;

	if (socket_path(&a, ifname))
		unlink(a.sun_path);
}

static void write_all(int fd, const char *s, size_t len)
{
	while (len) {
		ssize_t n = write(fd, s, len);

		if (n <= 0)
			return;
		s += n;
		len -= (size_t)n;
	}
}

char *uapi_answer(struct device *dev, const char *req, size_t *len)
{
	struct strbuf b = { 0 };
	char *out = NULL, *body;
	int err = 0;

	if (!strncmp(req, "get=1\n", 6)) {
		out = uapi_get(dev);
		err = out ? 0 : ENOMEM;
	} else if (!strncmp(req, "get=stats\n", 10)) {
		out = uapi_get_stats(dev);
		err = out ? 0 : ENOMEM;
	} else if (!strncmp(req, "set=1\n", 6)) {
		/* uapi_set cuts its body into lines: a private copy. */
		body = strdup(req + 6);
		err = body ? uapi_set(dev, body) : ENOMEM;
		if (body) {
			wg_secure_wipe(body, strlen(req + 6));
			free(body);
		}
	} else {
		err = EINVAL;
	}
	/* Negated, as wireguard-go writes it: wg(8) takes errno=N as a return
	 * value and reports strerror(-N) ("Unknown error -98" otherwise). */
	sb_printf(&b, "%serrno=%d\n\n", out ? out : "", -err);
	if (out) {
		wg_secure_wipe(out, strlen(out));	/* it held the private key */
		free(out);
	}
	if (b.oom) {
		if (b.s)
			wg_secure_wipe(b.s, b.cap);
		free(b.s);
		return NULL;
	}
	*len = b.len;
	return b.s;
}

uint64_t uapi_client_deadline_ns = UAPI_CLIENT_DEADLINE_NS;
size_t uapi_client_max_answer = UAPI_MAX_ANSWER;

/* Reads the answer until its empty line, within one overall deadline and
 * UAPI_MAX_ANSWER bytes: the daemon's worker is not trusted to end it (a
 * compromised or hung worker must not stall the root monitor, a reload or
 * `vpnd down`). NULL (err set) on a short, late or oversized answer. */
static char *read_answer(int fd, const char *ifname, char *err, size_t err_len)
{
	uint64_t deadline = now_monotonic_ns() + uapi_client_deadline_ns;
	size_t len = 0, cap = 0;
	char *answer = NULL;
	const char *why = "connection closed";

	for (;;) {
		uint64_t now = now_monotonic_ns();
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t n;

		if (len + 4096 + 1 > cap) {
			size_t ncap = cap * 2 + 8192;
			char *nb = ncap > uapi_client_max_answer ? NULL : wg_realloc_wiped(answer, cap, ncap);

			if (!nb) {
				why = "answer too large";
				break;
			}
			answer = nb;
			cap = ncap;
		}
		if (now >= deadline || poll(&p, 1, (int)((deadline - now) / 1000000 + 1)) == 0) {
			why = "no answer in time";
			break;
		}
		n = read(fd, answer + len, cap - len - 1);
		if (n <= 0)
			break;
		len += (size_t)n;
		answer[len] = '\0';
		if (len >= 2 && !strcmp(answer + len - 2, "\n\n"))
			return answer;
	}
	snprintf(err, err_len, "%s: %s", ifname, why);
	if (answer)
		wg_secure_wipe(answer, cap);
	free(answer);
	return NULL;
}

char *uapi_exchange(int fd, const char *ifname, const char *request, char *err, size_t err_len)
{
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &(struct timeval){ .tv_sec = 10 },
		   sizeof(struct timeval));
	write_all(fd, request, strlen(request));
	return read_answer(fd, ifname, err, err_len);
}

char *uapi_request(const char *ifname, const char *request, char *err, size_t err_len)
{
	struct sockaddr_un a;
	char *answer = NULL;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (!socket_path(&a, ifname)) {
		bad_name(err, err_len, ifname);
		goto out;
	}
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		snprintf(err, err_len, "%s is not up: cannot connect to %s: %s", ifname,
			 a.sun_path, strerror(errno));
		goto out;
	}
	answer = uapi_exchange(fd, ifname, request, err, err_len);
out:
	if (fd >= 0)
		close(fd);
	return answer;
}

void uapi_answer_free(char *answer)
{
	if (!answer)
		return;
	/* The whole block: parsing (strtok) may have cut the text short. */
	wg_secure_wipe(answer, malloc_usable_size(answer));
	free(answer);
}
