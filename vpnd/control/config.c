/* wg-quick-compatible configuration parser; the file layout and the error
 * format are described in config.h.
 *
 * The parser works line by line on a private copy of each line, driven by a
 * table of {section, key, handler}. Parser state that is not part of the
 * result (current file, line, section, keys seen) lives in struct parser so
 * that struct config holds only what the daemon uses. Every error path ends
 * in config_free(), which wipes the key material; buffers that held key text
 * (file contents, line copies, grown peer arrays) are wiped before free. */
#include "vpnd/control/config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vpnd/control/config_parser.h"
#include "vpnd/common/ifname.h"

struct key_handler;
typedef enum config_status (*key_fn)(struct parser *p, const struct key_handler *h,
				     char *value);

struct key_handler {
	enum section section;
	const char *name;
	key_fn fn;
	bool once;		/* a second occurrence in one section is an error */
};


/* --- messages ----------------------------------------------------------- */

static __attribute__((format(printf, 5, 0)))
void vreport(struct parser *p, const char *file, int line, const char *text,
	     const char *fmt, va_list ap)
{
	char what[WHAT_MAX];

	if (!p->err || !p->err_len)
		return;
	vsnprintf(what, sizeof(what), fmt, ap);
	if (line > 0 && text)
		snprintf(p->err, p->err_len, "%s:%d: %s: '%s'", file, line, what, text);
	else if (line > 0)
		snprintf(p->err, p->err_len, "%s:%d: %s", file, line, what);
	else
		snprintf(p->err, p->err_len, "%s: %s", file, what);
}

/* Error at an explicit place: "FILE:LINE: what: 'text'"; line 0 leaves the
 * line out and a NULL text the quote. Always returns CONFIG_ERR_SYNTAX so
 * handlers can "return fail...". */
static __attribute__((format(printf, 5, 6)))
enum config_status fail_at(struct parser *p, const char *file, int line, const char *text,
			   const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vreport(p, file, line, text, fmt, ap);
	va_end(ap);
	return CONFIG_ERR_SYNTAX;
}

/* Error at the line being parsed. */
static __attribute__((format(printf, 3, 4)))
enum config_status fail(struct parser *p, const char *text, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vreport(p, p->file, p->line, text, fmt, ap);
	va_end(ap);
	return CONFIG_ERR_SYNTAX;
}

static enum config_status fail_invalid(struct parser *p, const struct key_handler *h,
				       const char *text)
{
	return fail(p, text, "invalid %s", h->name);
}

/* A malformed key is often a real key with a character lost in copying;
 * error messages end up in logs, so only its length is shown. */
static enum config_status fail_secret(struct parser *p, const struct key_handler *h,
				      const char *text)
{
	char shown[64];

	snprintf(shown, sizeof(shown), "(hidden, %zu characters)", strlen(text));
	return fail_invalid(p, h, shown);
}

enum { NAME_SHOWN_MAX = 32 };	/* longer than any key or section name */

static bool is_name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == '-';
}

/* What an error may quote of text that is not a known key's value (a key
 * name, a section header, a line without '='): a mistyped line may hold a
 * key ("PrivateKey <key>" without '='), so only a short name made of
 * letters is shown; a leading name is kept and the rest counted:
 * "PrivateKey (hidden, 44 characters)". */
static const char *shown_text(const char *text, char *out, size_t len)
{
	size_t n = strlen(text), word = 0, i;
	bool plain = n <= NAME_SHOWN_MAX;
	const char *rest;

	for (i = 0; i < n && plain; i++)
		plain = is_name_char(text[i]) || strchr(" []", text[i]);
	if (plain)
		return text;
	while (word < n && word <= NAME_SHOWN_MAX && is_name_char(text[word]))
		word++;
	if (word > NAME_SHOWN_MAX)
		word = 0;
	for (rest = text + word; *rest == ' ' || *rest == '\t' || (word && *rest == '='); rest++)
		;
	snprintf(out, len, "%.*s%s(hidden, %zu characters)", (int)word, text, word ? " " : "",
		 strlen(rest));
	return out;
}

/* An error quoting text that may hold a key: see shown_text. */
static enum config_status fail_unquoted(struct parser *p, const char *text, const char *what)
{
	char shown[NAME_SHOWN_MAX + 48];

	return fail(p, shown_text(text, shown, sizeof(shown)), "%s", what);
}

enum config_status parser_fail_nomem(struct parser *p)
{
	if (p->err && p->err_len)
		snprintf(p->err, p->err_len, "%s: out of memory", p->file ? p->file : "config");
	return CONFIG_ERR_NOMEM;
}

enum config_status parser_fail_io(struct parser *p, const char *path, const char *what)
{
	if (p->err && p->err_len)
		snprintf(p->err, p->err_len, "%s: %s: %s", path, what, strerror(errno));
	return CONFIG_ERR_IO;
}

__attribute__((format(printf, 2, 3)))
void parser_warning(struct parser *p, const char *fmt, ...)
{
	char msg[MSG_MAX];
	va_list ap;

	if (!p->warn_fn)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	p->warn_fn(msg);
}

/* --- small helpers ------------------------------------------------------ */

/* The config structs carry counts but no capacities (config.h is fixed), so
 * an array of n elements is taken to have room for the next power of two
 * >= n and is grown only when n is a power of two (or zero). arrp points to
 * the array pointer. Arrays holding secrets (the peers, with preshared keys)
 * are moved by hand so the old copy can be wiped: realloc would free it
 * with the keys still in it. */
bool parser_grow(void *arrp, size_t n, size_t elem, bool secret)
{
	void *old, *new;
	size_t cap;

	if (n & (n - 1))
		return true;
	cap = n ? n * 2 : 1;
	if (cap > SIZE_MAX / elem)
		return false;
	memcpy(&old, arrp, sizeof(old));
	if (secret) {
		new = malloc(cap * elem);
		if (new && n) {
			memcpy(new, old, n * elem);
			wg_secure_wipe(old, n * elem);
		}
		if (new)
			free(old);
	} else {
		new = realloc(old, cap * elem);
	}
	if (!new)
		return false;
	memcpy(arrp, &new, sizeof(new));
	return true;
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

/* Trims in place; returns the first non-space character. */
static char *trim(char *s)
{
	char *end;

	while (is_space(*s))
		s++;
	end = s + strlen(s);
	while (end > s && is_space(end[-1]))
		end--;
	*end = '\0';
	return s;
}


static bool parse_hex32(const char *s, uint32_t *out)
{
	uint64_t v = 0;
	size_t i;

	if (!s[0] || strlen(s) > 8)
		return false;
	for (i = 0; s[i]; i++) {
		if (!isxdigit((unsigned char)s[i]))
			return false;
		v = v * 16 + (uint64_t)(isdigit((unsigned char)s[i]) ? s[i] - '0' :
					 tolower((unsigned char)s[i]) - 'a' + 10);
	}
	*out = (uint32_t)v;
	return true;
}

/* --- key handlers ------------------------------------------------------- */

static struct config_peer *cur_peer(struct parser *p)
{
	return &p->cfg->peers[p->cfg->n_peers - 1];
}

/* Comma-separated prefixes; spaces around commas are allowed. An empty
 * value adds nothing, as with wg-quick. */
static enum config_status parse_prefix_list(struct parser *p, const struct key_handler *h,
					    char *value, bool masked, struct ip_prefix **arr,
					    size_t *n)
{
	char *item, *next;
	struct ip_prefix pfx;

	if (!*value)
		return CONFIG_OK;
	for (item = value; item; item = next) {
		next = strchr(item, ',');
		if (next)
			*next++ = '\0';
		item = trim(item);
		if (!(masked ? parse_ip_prefix(item, &pfx) : ip_prefix_parse_host(item, &pfx)))
			return fail_invalid(p, h, item);
		if (!parser_grow(arr, *n, sizeof(**arr), false))
			return parser_fail_nomem(p);
		(*arr)[(*n)++] = pfx;
	}
	return CONFIG_OK;
}

static enum config_status h_private_key(struct parser *p, const struct key_handler *h,
					char *value)
{
	if (!wg_key_from_base64(p->cfg->private_key, value))
		return fail_secret(p, h, value);
	p->cfg->has_private_key = true;
	return CONFIG_OK;
}

static enum config_status h_address(struct parser *p, const struct key_handler *h,
				    char *value)
{
	return parse_prefix_list(p, h, value, false, &p->cfg->addresses, &p->cfg->n_addresses);
}

static enum config_status h_listen_port(struct parser *p, const struct key_handler *h,
					char *value)
{
	uint32_t port;

	if (!parse_decimal_u32(value, 65535, &port) || port == 0)
		return fail_invalid(p, h, value);
	p->cfg->listen_port = (uint16_t)port;
	p->cfg->has_listen_port = true;
	return CONFIG_OK;
}

static enum config_status h_mtu(struct parser *p, const struct key_handler *h, char *value)
{
	uint32_t mtu;

	if (!parse_decimal_u32(value, 65535, &mtu) || mtu < MTU_MIN)
		return fail_invalid(p, h, value);
	p->cfg->mtu = mtu;
	/* Checked against IPv6 addresses once the whole [Interface] is read,
	 * since Address may come after MTU. */
	p->mtu_line = p->line;
	return CONFIG_OK;
}

static enum config_status h_fwmark(struct parser *p, const struct key_handler *h,
				   char *value)
{
	uint32_t mark;
	bool ok;

	if (!strcasecmp(value, "off")) {
		mark = 0;
		ok = true;
	} else if (value[0] == '0' && (value[1] == 'x' || value[1] == 'X')) {
		ok = parse_hex32(value + 2, &mark);
	} else {
		ok = parse_decimal_u32(value, UINT32_MAX, &mark);
	}
	if (!ok)
		return fail_invalid(p, h, value);
	p->cfg->fwmark = mark;
	return CONFIG_OK;
}

static enum config_status h_peer_to_peer(struct parser *p, const struct key_handler *h,
					 char *value)
{
	if (!p2p_mode_parse(value, &p->cfg->peer_to_peer))
		return fail_invalid(p, h, value);
	return CONFIG_OK;
}

/* A search domain: a host name's characters only (it becomes a word of a
 * resolv.conf "search" line). */
static bool is_domain(const char *s)
{
	size_t n = strlen(s);

	return n > 0 && n <= 253 && s[0] != '-' && s[0] != '.' &&
	       strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.") == n;
}

/* DNS = addresses and search domains, comma-separated (wg-quick: what is
 * not an IP address is a search domain). */
static enum config_status h_dns(struct parser *p, const struct key_handler *h, char *value)
{
	struct config *cfg = p->cfg;
	char *item, *next;
	struct ip_prefix a;

	for (item = value; item && *value; item = next) {
		next = strchr(item, ',');
		if (next)
			*next++ = '\0';
		item = trim(item);
		if (!strchr(item, '/') && ip_prefix_parse_host(item, &a)) {
			if (!parser_grow(&cfg->dns, cfg->n_dns, sizeof(*cfg->dns), false))
				return parser_fail_nomem(p);
			cfg->dns[cfg->n_dns++] = a;
		} else if (is_domain(item)) {
			if (!parser_grow(&cfg->dns_search, cfg->n_dns_search,
					 sizeof(*cfg->dns_search), false))
				return parser_fail_nomem(p);
			if (!(cfg->dns_search[cfg->n_dns_search] = strdup(item)))
				return parser_fail_nomem(p);
			cfg->n_dns_search++;
		} else {
			return fail_invalid(p, h, item);
		}
	}
	return CONFIG_OK;
}

/* "main" is the only table name vpnd knows (rt_tables is the system's). */
static enum config_status h_table(struct parser *p, const struct key_handler *h, char *value)
{
	uint32_t id;

	if (!strcasecmp(value, "auto")) {
		p->cfg->table_mode = TABLE_AUTO;
		return CONFIG_OK;
	}
	if (!strcasecmp(value, "off")) {
		p->cfg->table_mode = TABLE_OFF;
		return CONFIG_OK;
	}
	if (!strcasecmp(value, "main"))
		id = 254;
	else if (!parse_decimal_u32(value, UINT32_MAX, &id) || id == 0)
		return fail_invalid(p, h, value);
	p->cfg->table_mode = TABLE_ID;
	p->cfg->table = id;
	return CONFIG_OK;
}

static bool parse_bool(const char *value, bool *out)
{
	static const char *const yes[] = { "true", "yes", "on", "1" };
	static const char *const no[] = { "false", "no", "off", "0" };

	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (!strcasecmp(value, yes[i]) || !strcasecmp(value, no[i])) {
			*out = !strcasecmp(value, yes[i]);
			return true;
		}
	}
	return false;
}

static enum config_status h_kill_switch(struct parser *p, const struct key_handler *h,
					char *value)
{
	return parse_bool(value, &p->cfg->kill_switch) ? CONFIG_OK : fail_invalid(p, h, value);
}

static enum config_status h_save_config(struct parser *p, const struct key_handler *h,
					char *value)
{
	return parse_bool(value, &p->cfg->save_config) ? CONFIG_OK : fail_invalid(p, h, value);
}

/* Hooks are shell commands: the value is kept as written (after the comment
 * is cut and the ends trimmed, as wg-quick does), commas and '=' included. */
static enum config_status add_hook(struct parser *p, const struct key_handler *h, char *value,
				   char ***arr, size_t *n)
{
	char *copy;

	if (!*value)
		return fail_invalid(p, h, value);
	/* Refused here rather than cut at run time: a cut command is a
	 * different command. */
	if (hook_expand_worst_len(value) > HOOK_CMD_MAX)
		return fail(p, NULL, "%s longer than %d bytes with %%i replaced", h->name,
			    HOOK_CMD_MAX - 1);
	if (!parser_grow(arr, *n, sizeof(**arr), false))
		return parser_fail_nomem(p);
	copy = strdup(value);
	if (!copy)
		return parser_fail_nomem(p);
	(*arr)[(*n)++] = copy;
	return CONFIG_OK;
}

static enum config_status h_pre_up(struct parser *p, const struct key_handler *h, char *value)
{
	return add_hook(p, h, value, &p->cfg->pre_up, &p->cfg->n_pre_up);
}

static enum config_status h_post_up(struct parser *p, const struct key_handler *h, char *value)
{
	return add_hook(p, h, value, &p->cfg->post_up, &p->cfg->n_post_up);
}

static enum config_status h_pre_down(struct parser *p, const struct key_handler *h,
				     char *value)
{
	return add_hook(p, h, value, &p->cfg->pre_down, &p->cfg->n_pre_down);
}

static enum config_status h_post_down(struct parser *p, const struct key_handler *h,
				      char *value)
{
	return add_hook(p, h, value, &p->cfg->post_down, &p->cfg->n_post_down);
}

static enum config_status h_public_key(struct parser *p, const struct key_handler *h,
				       char *value)
{
	/* Often a key pasted in the wrong place: not quoted. */
	if (!wg_key_from_base64(cur_peer(p)->public_key, value)) {
		char what[WHAT_MAX];

		snprintf(what, sizeof(what), "invalid %s", h->name);
		return fail_unquoted(p, value, what);
	}
	/* Duplicates across all files are found at the end, by sorting. */
	p->key_lines[p->cfg->n_peers - 1] = p->line;
	p->peer_has_key = true;
	return CONFIG_OK;
}

static enum config_status h_preshared_key(struct parser *p, const struct key_handler *h,
					  char *value)
{
	struct config_peer *peer = cur_peer(p);

	if (!wg_key_from_base64(peer->preshared_key, value))
		return fail_secret(p, h, value);
	peer->has_preshared_key = true;
	return CONFIG_OK;
}

static enum config_status h_allowed_ips(struct parser *p, const struct key_handler *h,
					char *value)
{
	struct config_peer *peer = cur_peer(p);

	return parse_prefix_list(p, h, value, true, &peer->allowed_ips, &peer->n_allowed_ips);
}

static enum config_status h_endpoint(struct parser *p, const struct key_handler *h,
				     char *value)
{
	struct config_peer *peer = cur_peer(p);

	if (strlen(value) >= sizeof(peer->endpoint_text))
		return fail_invalid(p, h, value);
	switch (endpoint_resolve(value, &peer->endpoint)) {
	case ENDPOINT_OK:
		break;
	case ENDPOINT_UNRESOLVED:
		/* Not a mistake in the file: the name may resolve later (vpnd up
		 * retries, as wg's WG_ENDPOINT_RESOLUTION_RETRIES). */
		fail(p, value, "cannot resolve %s", h->name);
		return CONFIG_ERR_UNRESOLVED;
	default:
		return fail_invalid(p, h, value);
	}
	strcpy(peer->endpoint_text, value);
	peer->has_endpoint = true;
	return CONFIG_OK;
}

static enum config_status h_keepalive(struct parser *p, const struct key_handler *h,
				      char *value)
{
	uint32_t secs;

	if (!strcasecmp(value, "off"))
		secs = 0;
	else if (!parse_decimal_u32(value, 65535, &secs))
		return fail_invalid(p, h, value);
	cur_peer(p)->persistent_keepalive = (uint16_t)secs;
	return CONFIG_OK;
}

static const struct key_handler handlers[] = {
	{ SECTION_INTERFACE, "PrivateKey", h_private_key, true },
	{ SECTION_INTERFACE, "Address", h_address, false },
	{ SECTION_INTERFACE, "ListenPort", h_listen_port, true },
	{ SECTION_INTERFACE, "MTU", h_mtu, true },
	{ SECTION_INTERFACE, "FwMark", h_fwmark, true },
	{ SECTION_INTERFACE, "PeerToPeer", h_peer_to_peer, true },
	{ SECTION_INTERFACE, "PreUp", h_pre_up, false },
	{ SECTION_INTERFACE, "PostUp", h_post_up, false },
	{ SECTION_INTERFACE, "PreDown", h_pre_down, false },
	{ SECTION_INTERFACE, "PostDown", h_post_down, false },
	{ SECTION_INTERFACE, "DNS", h_dns, false },
	{ SECTION_INTERFACE, "Table", h_table, true },
	{ SECTION_INTERFACE, "SaveConfig", h_save_config, true },
	{ SECTION_INTERFACE, "KillSwitch", h_kill_switch, true },
	{ SECTION_PEER, "PublicKey", h_public_key, true },
	{ SECTION_PEER, "PresharedKey", h_preshared_key, true },
	{ SECTION_PEER, "AllowedIPs", h_allowed_ips, false },
	{ SECTION_PEER, "Endpoint", h_endpoint, true },
	{ SECTION_PEER, "PersistentKeepalive", h_keepalive, true },
};

_Static_assert(sizeof(handlers) / sizeof(handlers[0]) <= 32, "parser.seen is 32 bits");

static const struct key_handler *find_handler(enum section section, const char *key)
{
	size_t i;

	for (i = 0; i < sizeof(handlers) / sizeof(handlers[0]); i++)
		if (handlers[i].section == section && !strcasecmp(handlers[i].name, key))
			return &handlers[i];
	return NULL;
}

/* --- sections and lines ------------------------------------------------- */

static enum config_status finish_section(struct parser *p)
{
	struct config_peer *peer;

	if (p->section != SECTION_PEER || p->peer_has_key)
		return CONFIG_OK;
	peer = cur_peer(p);
	return fail_at(p, peer->file, peer->line, "[Peer]", "missing PublicKey in section");
}

static enum config_status begin_interface(struct parser *p, const char *header)
{
	if (p->peers_only)
		return fail(p, header, "only [Peer] sections are allowed in this file");
	/* wg would merge a second [Interface]; in practice it is a pasted
	 * duplicate whose keys would silently override the first. */
	if (p->seen_interface)
		return fail(p, header, "duplicate section");
	p->seen_interface = true;
	p->section = SECTION_INTERFACE;
	return CONFIG_OK;
}

static enum config_status begin_peer(struct parser *p)
{
	struct config *cfg = p->cfg;
	struct config_peer *peer;

	if (!parser_grow(&cfg->peers, cfg->n_peers, sizeof(*cfg->peers), true) ||
	    !parser_grow(&p->key_lines, cfg->n_peers, sizeof(*p->key_lines), false))
		return parser_fail_nomem(p);
	peer = &cfg->peers[cfg->n_peers];
	memset(peer, 0, sizeof(*peer));
	snprintf(peer->file, sizeof(peer->file), "%s", p->file);
	peer->line = p->line;
	p->key_lines[cfg->n_peers] = 0;
	cfg->n_peers++;
	p->section = SECTION_PEER;
	p->peer_has_key = false;
	return CONFIG_OK;
}

/* True if s[0..len) is name, ignoring case and surrounding spaces. */
static bool section_is(const char *s, size_t len, const char *name)
{
	while (len && is_space(*s)) {
		s++;
		len--;
	}
	while (len && is_space(s[len - 1]))
		len--;
	return len == strlen(name) && !strncasecmp(s, name, len);
}

static enum config_status parse_section(struct parser *p, const char *header)
{
	size_t len = strlen(header);
	enum config_status st;

	if (len < 2 || header[len - 1] != ']' || memchr(header + 1, '[', len - 1) ||
	    memchr(header, ']', len - 1))
		return fail_unquoted(p, header, "invalid section header");
	st = finish_section(p);
	if (st != CONFIG_OK)
		return st;
	p->seen = 0;
	if (section_is(header + 1, len - 2, "Interface"))
		return begin_interface(p, header);
	if (section_is(header + 1, len - 2, "Peer"))
		return begin_peer(p);
	return fail_unquoted(p, header, "unknown section");
}

static enum config_status parse_key_value(struct parser *p, char *key, char *value)
{
	const struct key_handler *h;
	uint32_t bit;

	if (p->section == SECTION_NONE)
		return fail_unquoted(p, key, "key outside a section");
	h = find_handler(p->section, key);
	if (!h) {
		if (p->section == SECTION_INTERFACE && find_handler(SECTION_PEER, key))
			return fail(p, key, "key not allowed in [Interface]");
		if (p->section == SECTION_PEER && find_handler(SECTION_INTERFACE, key))
			return fail(p, key, "key not allowed in [Peer]");
		return fail_unquoted(p, key, "unknown key");
	}
	bit = UINT32_C(1) << (h - handlers);
	if (h->once && (p->seen & bit))
		return fail(p, key, "duplicate key");
	p->seen |= bit;
	return h->fn(p, h, value);
}

static enum config_status parse_line(struct parser *p, char *line)
{
	char *s, *eq, *hash;

	/* '#' starts a comment anywhere, hooks included, as in wg-quick. */
	hash = strchr(line, '#');
	if (hash)
		*hash = '\0';
	s = trim(line);
	if (!*s)
		return CONFIG_OK;
	if (*s == '[')
		return parse_section(p, s);
	eq = strchr(s, '=');
	if (!eq || eq == s)
		return fail_unquoted(p, s, "expected 'Key = Value'");
	*eq = '\0';
	return parse_key_value(p, trim(s), trim(eq + 1));
}

/* Quotes the leading name of an over-long line only (it may be a key's):
 * "PostUp (hidden, 4091 characters)". */
static enum config_status fail_long_line(struct parser *p, const char *start, size_t len)
{
	char shown[NAME_SHOWN_MAX + 48];
	size_t word = 0, rest;

	while (word < len && word <= NAME_SHOWN_MAX && is_name_char(start[word]))
		word++;
	if (word > NAME_SHOWN_MAX)
		word = 0;
	for (rest = word; rest < len && (start[rest] == ' ' || start[rest] == '\t' ||
					 (word && start[rest] == '=')); rest++)
		;
	snprintf(shown, sizeof(shown), "%.*s%s(hidden, %zu characters)", (int)word, start,
		 word ? " " : "", len - rest);
	return fail(p, shown, "line longer than %d characters", LINE_MAX_LEN);
}

/* Each line is copied to a bounded buffer, parsed in place, and the buffer
 * is wiped at the end since it may have held a key. */
static enum config_status parse_buffer(struct parser *p, const char *text, size_t len)
{
	char line[LINE_MAX_LEN + 1];
	size_t pos = 0, n;
	const char *nl;
	enum config_status st = CONFIG_OK;

	while (pos < len && st == CONFIG_OK) {
		nl = memchr(text + pos, '\n', len - pos);
		n = nl ? (size_t)(nl - (text + pos)) : len - pos;
		p->line++;
		if (n > LINE_MAX_LEN) {
			st = fail_long_line(p, text + pos, n);
		} else if (memchr(text + pos, '\0', n)) {
			st = fail(p, "\\0", "NUL character in line");
		} else {
			memcpy(line, text + pos, n);
			line[n] = '\0';
			st = parse_line(p, line);
		}
		pos += n + 1;
	}
	wg_secure_wipe(line, sizeof(line));
	return st;
}

enum config_status parser_parse_file(struct parser *p, const char *name, const char *text,
				     size_t len, bool peers_only)
{
	enum config_status st;

	p->file = name;
	p->line = 0;
	p->peers_only = peers_only;
	p->section = SECTION_NONE;
	p->seen = 0;
	/* A UTF-8 byte-order mark, as Windows editors write one: not text. */
	if (len >= 3 && !memcmp(text, "\xEF\xBB\xBF", 3)) {
		text += 3;
		len -= 3;
	}
	st = parse_buffer(p, text, len);
	if (st == CONFIG_OK)
		st = finish_section(p);
	return st;
}

static bool has_ipv6_address(const struct config *cfg)
{
	size_t i;

	for (i = 0; i < cfg->n_addresses; i++)
		if (cfg->addresses[i].family == AF_INET6)
			return true;
	return false;
}

/* The file with [Interface]: checks that need the whole of it. */
enum config_status parser_parse_main(struct parser *p, const char *name, const char *text,
				     size_t len)
{
	char mtu[16];
	enum config_status st;

	st = parser_parse_file(p, name, text, len, false);
	if (st != CONFIG_OK)
		return st;
	if (!p->cfg->has_private_key)
		return fail_at(p, name, 0, NULL, "missing PrivateKey in [Interface]");
	/* Linux drops IPv6 from a link whose MTU is below 1280. */
	if (p->mtu_line && p->cfg->mtu < MTU_MIN_IPV6 && has_ipv6_address(p->cfg)) {
		snprintf(mtu, sizeof(mtu), "%u", p->cfg->mtu);
		return fail_at(p, name, p->mtu_line, mtu, "MTU below %d with an IPv6 Address",
			       MTU_MIN_IPV6);
	}
	return CONFIG_OK;
}

/* --- duplicate public keys ---------------------------------------------- */

struct key_ref {
	const uint8_t *key;
	size_t index;
};

static int cmp_key_ref(const void *a, const void *b)
{
	const struct key_ref *x = a, *y = b;
	int c = memcmp(x->key, y->key, KEY_LEN);

	if (c)
		return c;
	return x->index < y->index ? -1 : x->index > y->index;
}

/* Sorting keeps this O(n log n) for servers with many peers. The reported
 * peer is the first, in load order, whose key was already used. */
static enum config_status check_duplicate_keys(struct parser *p)
{
	struct config *cfg = p->cfg;
	struct key_ref *refs;
	size_t i, dup = SIZE_MAX;
	char b64[KEY_B64_LEN + 1];
	enum config_status st = CONFIG_OK;

	if (cfg->n_peers < 2)
		return CONFIG_OK;
	refs = calloc(cfg->n_peers, sizeof(*refs));
	if (!refs)
		return parser_fail_nomem(p);
	for (i = 0; i < cfg->n_peers; i++) {
		refs[i].key = cfg->peers[i].public_key;
		refs[i].index = i;
	}
	qsort(refs, cfg->n_peers, sizeof(*refs), cmp_key_ref);
	for (i = 1; i < cfg->n_peers; i++)
		if (!memcmp(refs[i - 1].key, refs[i].key, KEY_LEN) && refs[i].index < dup)
			dup = refs[i].index;
	if (dup != SIZE_MAX) {
		wg_key_to_base64(b64, cfg->peers[dup].public_key);
		st = fail_at(p, cfg->peers[dup].file, p->key_lines[dup], b64,
			     "duplicate peer public key");
	}
	free(refs);
	return st;
}

/* --- entry points ------------------------------------------------------- */

void parser_start(struct parser *p, struct config *cfg, char *err, size_t err_len,
		  void (*warn_fn)(const char *msg))
{
	memset(p, 0, sizeof(*p));
	p->cfg = cfg;
	p->err = err;
	p->err_len = err_len;
	p->warn_fn = warn_fn;
	if (err && err_len)
		err[0] = '\0';
	memset(cfg, 0, sizeof(*cfg));
	cfg->mtu = CONFIG_DEFAULT_MTU;
}

enum config_status parser_finish(struct parser *p, enum config_status st)
{
	if (st == CONFIG_OK)
		st = check_duplicate_keys(p);
	free(p->key_lines);
	p->key_lines = NULL;
	if (st != CONFIG_OK)
		config_free(p->cfg);
	return st;
}

enum config_status config_parse_text(struct config *cfg, const char *text, const char *name,
				     char *err, size_t err_len)
{
	struct parser p;

	/* No warn_fn in this interface: warnings (ignored keys) are dropped. */
	parser_start(&p, cfg, err, err_len, NULL);
	return parser_finish(&p, parser_parse_main(&p, name, text, strlen(text)));
}

static void free_strings(char **v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

void config_free(struct config *cfg)
{
	size_t i;

	for (i = 0; i < cfg->n_peers; i++)
		free(cfg->peers[i].allowed_ips);
	if (cfg->peers)
		wg_secure_wipe(cfg->peers, cfg->n_peers * sizeof(*cfg->peers));
	free(cfg->peers);
	free(cfg->addresses);
	free(cfg->dns);
	free_strings(cfg->dns_search, cfg->n_dns_search);
	free_strings(cfg->pre_up, cfg->n_pre_up);
	free_strings(cfg->post_up, cfg->n_post_up);
	free_strings(cfg->pre_down, cfg->n_pre_down);
	free_strings(cfg->post_down, cfg->n_post_down);
	/* Wipes the private key and leaves a zeroed struct, so a second
	 * config_free is harmless. */
	wg_secure_wipe(cfg, sizeof(*cfg));
}

void config_wipe_secrets(struct config *cfg)
{
	wg_secure_wipe(cfg->private_key, KEY_LEN);
	cfg->has_private_key = false;
	for (size_t i = 0; i < cfg->n_peers; i++) {
		wg_secure_wipe(cfg->peers[i].preshared_key, KEY_LEN);
		cfg->peers[i].has_preshared_key = false;
	}
}
