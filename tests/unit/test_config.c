/* Unit tests for vpnd/control/config.c: good configs field by field, every error
 * message exactly, NAME.d loading, the permission warning, and the address
 * and endpoint parsers. Addresses come from 198.18.0.0/15 and 2001:db8::/32
 * only. Run under -fsanitize=address,undefined too: the error table then
 * also proves the error paths free everything. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vpnd/common/ifname.h"
#include "vpnd/control/config.h"

/* Canonical base64 of 32 bytes of 0x01, 0x02, ... */
#define K1 "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE="
#define K2 "AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI="
#define K3 "AwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwM="
#define K4 "BAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQ="
#define K5 "BQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQU="
/* K1 with its padding '=' lost, as in a careless copy. */
#define K1_NOPAD "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE"
#define K6 "BgYGBgYGBgYGBgYGBgYGBgYGBgYGBgYGBgYGBgYGBgY="

/* Two lines: [Interface] and its PrivateKey. */
#define IFACE "[Interface]\nPrivateKey = " K1 "\n"
/* Two lines: [Peer] and its PublicKey. */
#define PEER "[Peer]\nPublicKey = " K2 "\n"

enum { ERR_LEN = 512, MAX_WARNINGS = 8 };

static char warnings[MAX_WARNINGS][1024];
static int n_warnings;

static void collect_warning(const char *msg)
{
	if (n_warnings < MAX_WARNINGS)
		snprintf(warnings[n_warnings], sizeof(warnings[0]), "%s", msg);
	n_warnings++;
}

static void reset_warnings(void)
{
	n_warnings = 0;
	memset(warnings, 0, sizeof(warnings));
}

static void parse_ok(struct config *cfg, const char *text)
{
	char err[ERR_LEN];
	enum config_status st = config_parse_text(cfg, text, "x.conf", err, sizeof(err));

	if (st != CONFIG_OK)
		fail_msg("unexpected error: %s", err);
}

static void assert_key(const uint8_t *key, const char *b64)
{
	uint8_t want[KEY_LEN];

	assert_true(wg_key_from_base64(want, b64));
	assert_memory_equal(key, want, KEY_LEN);
}

static void assert_prefix(const struct ip_prefix *pfx, const char *addr, unsigned cidr)
{
	uint8_t want[16] = { 0 };
	int family = strchr(addr, ':') ? AF_INET6 : AF_INET;

	assert_int_equal(inet_pton(family, addr, want), 1);
	assert_int_equal(pfx->family, family);
	assert_int_equal(pfx->cidr, cidr);
	assert_memory_equal(pfx->addr, want, 16);
}

static void assert_endpoint(const union sockaddr_any *ep, const char *text)
{
	char buf[128];

	format_endpoint(buf, sizeof(buf), ep);
	assert_string_equal(buf, text);
}

/* --- good configs ------------------------------------------------------- */

static const char server_conf[] =
	"# vpnd server\n"					/* 1 */
	"[Interface]\n"
	"PrivateKey = " K1 "\n"
	"Address = 198.18.0.1/24, 2001:db8::1/64\n"
	"Address = 198.18.100.1\n"				/* 5 */
	"ListenPort = 51820\n"
	"MTU = 1380\n"
	"FwMark = 0x1234\n"
	"PreUp = echo pre-up %i\n"
	"PostUp = iptables -A FORWARD -i %i -j ACCEPT; echo a=b,c\n"	/* 10 */
	"PostUp = echo second\n"
	"PreDown = echo pre-down\n"
	"PostDown = echo post-down\n"
	"DNS = 198.18.0.53\n"
	"Table = off\n"						/* 15 */
	"SaveConfig = false\n"
	"\n"
	"[Peer]\n"
	"PublicKey = " K2 "\n"
	"PresharedKey = " K3 "\n"				/* 20 */
	"AllowedIPs = 198.18.1.0/24, 2001:db8:1::/48\n"
	"AllowedIPs = 198.18.2.7/24\n"
	"PersistentKeepalive = 25\n"
	"\n"
	"[Peer]\n"						/* 25 */
	"PublicKey = " K4 "\n"
	"AllowedIPs=198.18.3.1/32,198.18.4.0/24\n"
	"Endpoint = 198.18.0.2:51821\n"
	"PersistentKeepalive = off\n"
	"\n"							/* 30 */
	"[Peer]\n"
	"PublicKey = " K5 "\n"
	"AllowedIPs = 2001:db8:5::/64\n"
	"Endpoint = [2001:db8::5]:51822\n";

static void check_server(const struct config *cfg)
{
	const struct config_peer *p;

	assert_true(cfg->has_private_key);
	assert_key(cfg->private_key, K1);
	assert_int_equal(cfg->n_addresses, 3);
	/* Address keeps host bits: it is the interface's own address. */
	assert_prefix(&cfg->addresses[0], "198.18.0.1", 24);
	assert_prefix(&cfg->addresses[1], "2001:db8::1", 64);
	assert_prefix(&cfg->addresses[2], "198.18.100.1", 32);
	assert_true(cfg->has_listen_port);
	assert_int_equal(cfg->listen_port, 51820);
	assert_int_equal(cfg->mtu, 1380);
	assert_int_equal(cfg->fwmark, 0x1234);
	assert_int_equal(cfg->n_pre_up, 1);
	assert_string_equal(cfg->pre_up[0], "echo pre-up %i");
	assert_int_equal(cfg->n_post_up, 2);
	assert_string_equal(cfg->post_up[0], "iptables -A FORWARD -i %i -j ACCEPT; echo a=b,c");
	assert_string_equal(cfg->post_up[1], "echo second");
	assert_int_equal(cfg->n_pre_down, 1);
	assert_string_equal(cfg->pre_down[0], "echo pre-down");
	assert_int_equal(cfg->n_post_down, 1);
	assert_string_equal(cfg->post_down[0], "echo post-down");

	assert_int_equal(cfg->n_peers, 3);
	p = &cfg->peers[0];
	assert_key(p->public_key, K2);
	assert_true(p->has_preshared_key);
	assert_key(p->preshared_key, K3);
	assert_int_equal(p->n_allowed_ips, 3);
	assert_prefix(&p->allowed_ips[0], "198.18.1.0", 24);
	assert_prefix(&p->allowed_ips[1], "2001:db8:1::", 48);
	/* AllowedIPs are masked: 198.18.2.7/24 is the network 198.18.2.0/24. */
	assert_prefix(&p->allowed_ips[2], "198.18.2.0", 24);
	assert_false(p->has_endpoint);
	assert_int_equal(p->persistent_keepalive, 25);
	assert_int_equal(p->line, 18);

	p = &cfg->peers[1];
	assert_key(p->public_key, K4);
	assert_false(p->has_preshared_key);
	assert_int_equal(p->n_allowed_ips, 2);
	assert_prefix(&p->allowed_ips[0], "198.18.3.1", 32);
	assert_prefix(&p->allowed_ips[1], "198.18.4.0", 24);
	assert_true(p->has_endpoint);
	assert_endpoint(&p->endpoint, "198.18.0.2:51821");
	assert_string_equal(p->endpoint_text, "198.18.0.2:51821");
	assert_int_equal(p->persistent_keepalive, 0);
	assert_int_equal(p->line, 25);

	p = &cfg->peers[2];
	assert_key(p->public_key, K5);
	assert_int_equal(p->n_allowed_ips, 1);
	assert_prefix(&p->allowed_ips[0], "2001:db8:5::", 64);
	assert_endpoint(&p->endpoint, "[2001:db8::5]:51822");
	assert_string_equal(p->endpoint_text, "[2001:db8::5]:51822");
	assert_int_equal(p->line, 31);
}

static void test_server_config(void **state)
{
	struct config cfg;

	(void)state;
	parse_ok(&cfg, server_conf);
	check_server(&cfg);
	assert_string_equal(cfg.peers[0].file, "x.conf");
	config_free(&cfg);
	/* config_free leaves a zeroed struct: a second call is harmless. */
	assert_int_equal(cfg.n_peers, 0);
	assert_null(cfg.peers);
	config_free(&cfg);
}

static void test_client_config(void **state)
{
	static const char text[] =
		"[Interface]\n"
		"PrivateKey = " K6 "\n"
		"Address = 198.18.10.2/32\n"
		"\n"
		"[Peer]\n"
		"PublicKey = " K1 "\n"
		"Endpoint = localhost:51820\n"
		"AllowedIPs = 198.18.0.0/15, 2001:db8::/32\n"
		"\n"
		"[Peer]\n"
		"PublicKey = " K2 "\n"
		"Endpoint = [2001:db8::1]:51820\n"
		"AllowedIPs = 2001:db8::/48\n"
		"\n"
		"[Peer]\n"
		"PublicKey = " K3 "\n"
		"Endpoint = 198.18.0.1:51820\n"
		"AllowedIPs = 198.18.0.0/24\n";
	struct config cfg;
	char buf[64];

	(void)state;
	parse_ok(&cfg, text);
	assert_false(cfg.has_listen_port);
	assert_int_equal(cfg.mtu, CONFIG_DEFAULT_MTU);
	assert_int_equal(cfg.fwmark, 0);
	assert_int_equal(cfg.n_peers, 3);

	/* localhost may resolve to either loopback, by gai.conf. */
	assert_true(cfg.peers[0].has_endpoint);
	assert_string_equal(cfg.peers[0].endpoint_text, "localhost:51820");
	format_endpoint(buf, sizeof(buf), &cfg.peers[0].endpoint);
	assert_true(!strcmp(buf, "127.0.0.1:51820") || !strcmp(buf, "[::1]:51820"));

	assert_endpoint(&cfg.peers[1].endpoint, "[2001:db8::1]:51820");
	assert_string_equal(cfg.peers[1].endpoint_text, "[2001:db8::1]:51820");
	assert_int_equal(cfg.peers[1].endpoint.in6.sin6_family, AF_INET6);
	assert_int_equal(ntohs(cfg.peers[1].endpoint.in6.sin6_port), 51820);

	assert_endpoint(&cfg.peers[2].endpoint, "198.18.0.1:51820");
	assert_int_equal(cfg.peers[2].endpoint.in.sin_family, AF_INET);
	assert_int_equal(ntohl(cfg.peers[2].endpoint.in.sin_addr.s_addr), 0xc6120001);
	config_free(&cfg);
}

static void test_case_insensitive(void **state)
{
	static const char text[] =
		"[INTERFACE]\n"
		"privatekey = " K1 "\n"
		"ADDRESS = 198.18.0.1/24\n"
		"listenport = 51820\n"
		"mtu = 1280\n"
		"fwmark = OFF\n"
		"postup = echo up\n"
		"[peer]\n"
		"publickey = " K2 "\n"
		"ALLOWEDIPS = 198.18.1.0/24\n"
		"endpoint = 198.18.0.2:51820\n"
		"persistentkeepalive = Off\n"
		"presharedkey = " K3 "\n"
		"[ Peer ]\n"
		"PUBLICKEY = " K4 "\n";
	struct config cfg;

	(void)state;
	parse_ok(&cfg, text);
	assert_key(cfg.private_key, K1);
	assert_int_equal(cfg.n_addresses, 1);
	assert_int_equal(cfg.listen_port, 51820);
	assert_int_equal(cfg.mtu, 1280);
	assert_int_equal(cfg.fwmark, 0);
	assert_int_equal(cfg.n_post_up, 1);
	assert_int_equal(cfg.n_peers, 2);
	assert_key(cfg.peers[0].public_key, K2);
	assert_true(cfg.peers[0].has_preshared_key);
	assert_true(cfg.peers[0].has_endpoint);
	assert_int_equal(cfg.peers[0].persistent_keepalive, 0);
	assert_key(cfg.peers[1].public_key, K4);
	config_free(&cfg);

	parse_ok(&cfg, "[interface]\nPRIVATEKEY=" K1 "\nFWMARK = 0XfF\n");
	assert_int_equal(cfg.fwmark, 0xff);
	config_free(&cfg);
}

static void test_comments_and_spacing(void **state)
{
	static const char text[] =
		"# leading comment\n"
		"   # indented comment\n"
		"\n"
		"[Interface]   # after a header\n"
		"PrivateKey = " K1 "   # after a key\n"
		"\tAddress\t=\t198.18.0.1/24 , 2001:db8::1/64\t# tabs\r\n"
		"ListenPort=51820#no spaces\n"
		"PostUp = echo hi # cut here, as wg-quick does\n"
		"   \t  \r\n"
		"[Peer]#\n"
		"PublicKey = " K2 "\n"
		"AllowedIPs = 198.18.1.0/24 ,198.18.2.0/24,  198.18.3.0/24\n"
		"PersistentKeepalive = 0"; /* no final newline */
	struct config cfg;

	(void)state;
	parse_ok(&cfg, text);
	assert_int_equal(cfg.n_addresses, 2);
	assert_prefix(&cfg.addresses[1], "2001:db8::1", 64);
	assert_int_equal(cfg.listen_port, 51820);
	assert_int_equal(cfg.n_post_up, 1);
	assert_string_equal(cfg.post_up[0], "echo hi");
	assert_int_equal(cfg.n_peers, 1);
	assert_int_equal(cfg.peers[0].line, 10);
	assert_int_equal(cfg.peers[0].n_allowed_ips, 3);
	assert_prefix(&cfg.peers[0].allowed_ips[2], "198.18.3.0", 24);
	config_free(&cfg);

	/* Empty list values add nothing, as with wg-quick. */
	parse_ok(&cfg, IFACE "Address =\n" PEER "AllowedIPs =\n");
	assert_int_equal(cfg.n_addresses, 0);
	assert_int_equal(cfg.peers[0].n_allowed_ips, 0);
	config_free(&cfg);
}

/* Arrays grow past several powers of two without losing entries. */
static void test_many_entries(void **state)
{
	char *text, *p;
	struct config cfg;
	size_t i, n = 100;

	(void)state;
	text = malloc(n * 200 + 200);
	assert_non_null(text);
	p = text + sprintf(text, IFACE);
	for (i = 0; i < n; i++) {
		uint8_t key[KEY_LEN] = { (uint8_t)i, 0x42 };
		char b64[KEY_B64_LEN + 1];

		wg_key_to_base64(b64, key);
		p += sprintf(p, "[Peer]\nPublicKey = %s\nAllowedIPs = 198.18.%zu.0/24\n", b64, i);
	}
	parse_ok(&cfg, text);
	assert_int_equal(cfg.n_peers, n);
	for (i = 0; i < n; i++) {
		char want[32];

		snprintf(want, sizeof(want), "198.18.%zu.0", i);
		assert_prefix(&cfg.peers[i].allowed_ips[0], want, 24);
		assert_int_equal(cfg.peers[i].public_key[0], i);
	}
	config_free(&cfg);
	free(text);
}

/* --- errors ------------------------------------------------------------- */

struct bad_case {
	const char *text;
	const char *err;
};

static const struct bad_case bad_cases[] = {
	/* 0 */ { "PrivateKey = " K1 "\n", "x.conf:1: key outside a section: 'PrivateKey'" },
	/* 1 */ { IFACE "Foo = bar\n", "x.conf:3: unknown key: 'Foo'" },
	/* 2 */ { IFACE "[Foo]\n", "x.conf:3: unknown section: '[Foo]'" },
	/* 3 */ { IFACE "[]\n", "x.conf:3: unknown section: '[]'" },
	/* 4 */ { IFACE "[Peer\n", "x.conf:3: invalid section header: '[Peer'" },
	/* 5 */ { IFACE "[Peer]]\n", "x.conf:3: invalid section header: '[Peer]]'" },
	/* 6 */ { IFACE "[Peer] x\n", "x.conf:3: invalid section header: '[Peer] x'" },
	/* 7 */ { IFACE "[Interface]\n", "x.conf:3: duplicate section: '[Interface]'" },
	/* 8 */ { IFACE "just text\n", "x.conf:3: expected 'Key = Value': 'just text'" },
	/* 9: what follows may be a key: counted, not quoted */
	{ IFACE "= value\n", "x.conf:3: expected 'Key = Value': '(hidden, 7 characters)'" },
	/* 10 */ { IFACE "Address 198.18.0.1\n",
		   "x.conf:3: expected 'Key = Value': 'Address (hidden, 10 characters)'" },
	/* 11 */ { IFACE "ListenPort = 51820\nListenPort = 51821\n",
		   "x.conf:4: duplicate key: 'ListenPort'" },
	/* 12 */ { IFACE "privatekey = " K1 "\n", "x.conf:3: duplicate key: 'privatekey'" },
	/* 13 */ { IFACE "PublicKey = " K2 "\n",
		   "x.conf:3: key not allowed in [Interface]: 'PublicKey'" },
	/* 14 */ { IFACE PEER "ListenPort = 1\n", "x.conf:5: key not allowed in [Peer]: 'ListenPort'" },
	/* 15 */ { IFACE PEER "DNS = 198.18.0.53\n", "x.conf:5: key not allowed in [Peer]: 'DNS'" },
	/* 16 */ { "[Interface]\nPrivateKey = abc\n",
		   "x.conf:2: invalid PrivateKey: '(hidden, 3 characters)'" },
	/* 17: last symbol with unused bits set: not canonical */
	{ "[Interface]\nPrivateKey = AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQF=\n",
	  "x.conf:2: invalid PrivateKey: '(hidden, 44 characters)'" },
	/* 18 */ { "[Interface]\nPrivateKey =\n",
		   "x.conf:2: invalid PrivateKey: '(hidden, 0 characters)'" },
	/* 19 */ { IFACE "Address = 198.18.0.1/33\n", "x.conf:3: invalid Address: '198.18.0.1/33'" },
	/* 20 */ { IFACE "Address = 198.18.0.1/24, 2001:db8::1/129\n",
		   "x.conf:3: invalid Address: '2001:db8::1/129'" },
	/* 21 */ { IFACE "Address = 198.18.0.1/24,\n", "x.conf:3: invalid Address: ''" },
	/* 22 */ { IFACE "Address = 198.018.0.1\n", "x.conf:3: invalid Address: '198.018.0.1'" },
	/* 23 */ { IFACE "ListenPort = 0\n", "x.conf:3: invalid ListenPort: '0'" },
	/* 24 */ { IFACE "ListenPort = 65536\n", "x.conf:3: invalid ListenPort: '65536'" },
	/* 25 */ { IFACE "ListenPort = 51820x\n", "x.conf:3: invalid ListenPort: '51820x'" },
	/* 26 */ { IFACE "ListenPort = -1\n", "x.conf:3: invalid ListenPort: '-1'" },
	/* 27 */ { IFACE "ListenPort = 051820\n", "x.conf:3: invalid ListenPort: '051820'" },
	/* 28 */ { IFACE "ListenPort =\n", "x.conf:3: invalid ListenPort: ''" },
	/* 29 */ { IFACE "MTU = 575\n", "x.conf:3: invalid MTU: '575'" },
	/* 30 */ { IFACE "MTU = 65536\n", "x.conf:3: invalid MTU: '65536'" },
	/* 31 */ { IFACE "MTU = 1400.5\n", "x.conf:3: invalid MTU: '1400.5'" },
	/* 32 */ { IFACE "Address = 2001:db8::1/64\nMTU = 1000\n",
		   "x.conf:4: MTU below 1280 with an IPv6 Address: '1000'" },
	/* 33: Address after MTU: still caught, at the MTU line */
	{ IFACE "MTU = 1279\nAddress = 198.18.0.1/24, 2001:db8::1/64\n",
	  "x.conf:3: MTU below 1280 with an IPv6 Address: '1279'" },
	/* 34 */ { IFACE "FwMark = 0x\n", "x.conf:3: invalid FwMark: '0x'" },
	/* 35 */ { IFACE "FwMark = 0x100000000\n", "x.conf:3: invalid FwMark: '0x100000000'" },
	/* 36 */ { IFACE "FwMark = 4294967296\n", "x.conf:3: invalid FwMark: '4294967296'" },
	/* 37 */ { IFACE "FwMark = on\n", "x.conf:3: invalid FwMark: 'on'" },
	/* 38 */ { IFACE "FwMark = 0xg1\n", "x.conf:3: invalid FwMark: '0xg1'" },
	/* 39 */ { IFACE "PostUp =\n", "x.conf:3: invalid PostUp: ''" },
	/* 40 */ { IFACE "PreDown = # only a comment\n", "x.conf:3: invalid PreDown: ''" },
	/* 41 */ { IFACE PEER "PublicKey = " K3 "\n", "x.conf:5: duplicate key: 'PublicKey'" },
	/* 42 */ { IFACE "[Peer]\nPublicKey = short\n", "x.conf:4: invalid PublicKey: 'short'" },
	/* 43 */ { IFACE PEER "PresharedKey = nope\n",
		   "x.conf:5: invalid PresharedKey: '(hidden, 4 characters)'" },
	/* 44 */ { IFACE PEER "AllowedIPs = 198.18.0.0/33\n",
		   "x.conf:5: invalid AllowedIPs: '198.18.0.0/33'" },
	/* 45 */ { IFACE PEER "AllowedIPs = 198.18.0.0/24,,198.18.1.0/24\n",
		   "x.conf:5: invalid AllowedIPs: ''" },
	/* 46 */ { IFACE PEER "AllowedIPs = 198.18.0.0/24 198.18.1.0/24\n",
		   "x.conf:5: invalid AllowedIPs: '198.18.0.0/24 198.18.1.0/24'" },
	/* 47 */ { IFACE PEER "AllowedIPs = 2001:db8::/32, 198.18.0.0/15x\n",
		   "x.conf:5: invalid AllowedIPs: '198.18.0.0/15x'" },
	/* 48 */ { IFACE PEER "Endpoint = 198.18.0.1\n", "x.conf:5: invalid Endpoint: '198.18.0.1'" },
	/* 49 */ { IFACE PEER "Endpoint = 198.18.0.1:0\n",
		   "x.conf:5: invalid Endpoint: '198.18.0.1:0'" },
	/* 50 */ { IFACE PEER "Endpoint = 198.18.0.1:65536\n",
		   "x.conf:5: invalid Endpoint: '198.18.0.1:65536'" },
	/* 51: IPv6 needs brackets */
	{ IFACE PEER "Endpoint = 2001:db8::1:51820\n",
	  "x.conf:5: invalid Endpoint: '2001:db8::1:51820'" },
	/* 52 */ { IFACE PEER "Endpoint = [2001:db8::1]51820\n",
		   "x.conf:5: invalid Endpoint: '[2001:db8::1]51820'" },
	/* 53 */ { IFACE PEER "Endpoint = [198.18.0.1]:51820\n",
		   "x.conf:5: invalid Endpoint: '[198.18.0.1]:51820'" },
	/* 54: inet_aton shorthand, which getaddrinfo alone would accept */
	{ IFACE PEER "Endpoint = 198.18.1:51820\n", "x.conf:5: invalid Endpoint: '198.18.1:51820'" },
	/* 55 */ { IFACE PEER "Endpoint = bad host:51820\n",
		   "x.conf:5: invalid Endpoint: 'bad host:51820'" },
	/* 56 */ { IFACE PEER "Endpoint = :51820\n", "x.conf:5: invalid Endpoint: ':51820'" },
	/* 57 */ { IFACE PEER "Endpoint = [2001:db8::zz]:51820\n",
		   "x.conf:5: invalid Endpoint: '[2001:db8::zz]:51820'" },
	/* 58: RFC 6761: .invalid never resolves */
	{ IFACE PEER "Endpoint = no-such-host.invalid:51820\n",
	  "x.conf:5: cannot resolve Endpoint: 'no-such-host.invalid:51820'" },
	/* 59 */ { IFACE PEER "Endpoint = 198.18.0.1:1\nEndpoint = 198.18.0.2:1\n",
		   "x.conf:6: duplicate key: 'Endpoint'" },
	/* 60 */ { IFACE PEER "PersistentKeepalive = 65536\n",
		   "x.conf:5: invalid PersistentKeepalive: '65536'" },
	/* 61 */ { IFACE PEER "PersistentKeepalive = on\n",
		   "x.conf:5: invalid PersistentKeepalive: 'on'" },
	/* 62 */ { IFACE PEER "PersistentKeepalive =\n",
		   "x.conf:5: invalid PersistentKeepalive: ''" },
	/* 63 */ { IFACE "[Peer]\nAllowedIPs = 198.18.0.0/24\n",
		   "x.conf:3: missing PublicKey in section: '[Peer]'" },
	/* 64: caught when the next section starts */
	{ IFACE "[Peer]\n" PEER, "x.conf:3: missing PublicKey in section: '[Peer]'" },
	/* 65 */ { "[Interface]\nListenPort = 51820\n", "x.conf: missing PrivateKey in [Interface]" },
	/* 66 */ { "", "x.conf: missing PrivateKey in [Interface]" },
	/* 67 */ { "# only a comment\n" PEER, "x.conf: missing PrivateKey in [Interface]" },
	/* 68: a peer public key may appear once; the second is reported */
	{ IFACE PEER "AllowedIPs = 198.18.0.0/24\n" PEER,
	  "x.conf:7: duplicate peer public key: '" K2 "'" },
	/* 69: the first repeat in file order, not in key order */
	{ IFACE "[Peer]\nPublicKey = " K5 "\n" PEER "[Peer]\nPublicKey = " K5 "\n" PEER,
	  "x.conf:8: duplicate peer public key: '" K5 "'" },
	/* 70 */ { IFACE "PeerToPeer = forward\n", "x.conf:3: invalid PeerToPeer: 'forward'" },
	/* 71 */ { IFACE "PeerToPeer =\n", "x.conf:3: invalid PeerToPeer: ''" },
	/* 72 */ { IFACE "PeerToPeer = direct\nPeerToPeer = refuse\n",
		   "x.conf:4: duplicate key: 'PeerToPeer'" },
	/* 73 */ { IFACE PEER "PeerToPeer = direct\n",
		   "x.conf:5: key not allowed in [Peer]: 'PeerToPeer'" },
	/* 74 */ { IFACE "PeerToPeer = direct refuse\n",
		   "x.conf:3: invalid PeerToPeer: 'direct refuse'" },
	/* 75 */ { IFACE "Table = 0\n", "x.conf:3: invalid Table: '0'" },
	/* 76 */ { IFACE "Table = local\n", "x.conf:3: invalid Table: 'local'" },
	/* 77 */ { IFACE "Table = 4294967296\n", "x.conf:3: invalid Table: '4294967296'" },
	/* 78 */ { IFACE "Table = off\nTable = auto\n", "x.conf:4: duplicate key: 'Table'" },
	/* 79 */ { IFACE "KillSwitch = maybe\n", "x.conf:3: invalid KillSwitch: 'maybe'" },
	/* 80 */ { IFACE "SaveConfig = \n", "x.conf:3: invalid SaveConfig: ''" },
	/* 81 */ { IFACE PEER "KillSwitch = true\n",
		   "x.conf:5: key not allowed in [Peer]: 'KillSwitch'" },
	/* 82 */ { IFACE "DNS = 198.18.0.53 example.test\n",
		   "x.conf:3: invalid DNS: '198.18.0.53 example.test'" },
	/* 83 */ { IFACE "DNS = 198.18.0.0/24\n", "x.conf:3: invalid DNS: '198.18.0.0/24'" },
	/* 84 */ { IFACE "DNS = a;reboot\n", "x.conf:3: invalid DNS: 'a;reboot'" },
	/* 85 */ { IFACE "DNS = 198.18.0.53,\n", "x.conf:3: invalid DNS: ''" },
	/* 86: a private key without '=' after its name: never printed */
	{ "[Interface]\nPrivateKey " K1_NOPAD "\n",
	  "x.conf:2: expected 'Key = Value': 'PrivateKey (hidden, 43 characters)'" },
	/* 87: the same with the key's own padding '=': the key ends up in the
	 * key name, which is not printed either */
	{ "[Interface]\nPrivateKey " K1 "\n",
	  "x.conf:2: unknown key: 'PrivateKey (hidden, 43 characters)'" },
	/* 88: a key pasted as a section */
	{ IFACE "[" K3 "]\n", "x.conf:3: unknown section: '(hidden, 46 characters)'" },
	/* 89: a private key pasted for PublicKey, one character lost */
	{ IFACE "[Peer]\nPublicKey = " K1_NOPAD "\n",
	  "x.conf:4: invalid PublicKey: '(hidden, 43 characters)'" },
	/* 90: a key line with tabs and no '=' */
	{ IFACE "PresharedKey\t" K1_NOPAD "\n",
	  "x.conf:3: expected 'Key = Value': 'PresharedKey (hidden, 43 characters)'" },
};

/* [Interface] PeerToPeer: kernel (the default), direct, refuse; any case,
 * comments and spaces as for every key. */
static void test_peer_to_peer(void **state)
{
	static const struct {
		const char *line;
		enum p2p_mode want;
	} cases[] = {
		{ "", P2P_KERNEL },
		{ "PeerToPeer = kernel\n", P2P_KERNEL },
		{ "PeerToPeer = direct\n", P2P_DIRECT },
		{ "peertopeer=Refuse # hub only\n", P2P_REFUSE },
		{ "PeerToPeer = DIRECT\n", P2P_DIRECT },
	};
	enum p2p_mode p;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct config cfg;
		char text[512];

		snprintf(text, sizeof(text), IFACE "%s" PEER, cases[i].line);
		parse_ok(&cfg, text);
		if (cfg.peer_to_peer != cases[i].want)
			fail_msg("case %zu: got %d, want %d", i, cfg.peer_to_peer, cases[i].want);
		config_free(&cfg);
	}
	/* Names round-trip; anything else is refused. */
	assert_string_equal(p2p_mode_name(P2P_KERNEL), "kernel");
	assert_string_equal(p2p_mode_name(P2P_DIRECT), "direct");
	assert_string_equal(p2p_mode_name(P2P_REFUSE), "refuse");
	for (int i = P2P_KERNEL; i <= P2P_REFUSE; i++) {
		assert_true(p2p_mode_parse(p2p_mode_name((enum p2p_mode)i), &p));
		assert_int_equal(p, i);
	}
	p = P2P_DIRECT;
	assert_false(p2p_mode_parse("", &p));
	assert_false(p2p_mode_parse("directly", &p));
	assert_int_equal(p, P2P_DIRECT);	/* untouched on failure */
}

/* Table = auto|off|main|N, KillSwitch and SaveConfig as booleans. */
static void test_table_keys(void **state)
{
	static const struct {
		const char *lines;
		enum config_table mode;
		uint32_t table;
		bool kill_switch, save_config;
	} cases[] = {
		{ "", TABLE_AUTO, 0, false, false },
		{ "Table = auto\n", TABLE_AUTO, 0, false, false },
		{ "Table = off\n", TABLE_OFF, 0, false, false },
		{ "table = OFF\nKillSwitch = true\n", TABLE_OFF, 0, true, false },
		{ "Table = 1234\nSaveConfig = true\n", TABLE_ID, 1234, false, true },
		{ "Table = main\nSaveConfig = no\n", TABLE_ID, 254, false, false },
		{ "Table = 4294967295\nKillSwitch = Yes\n", TABLE_ID, UINT32_MAX, true, false },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct config cfg;
		char text[512];

		snprintf(text, sizeof(text), IFACE "%s" PEER, cases[i].lines);
		parse_ok(&cfg, text);
		if (cfg.table_mode != cases[i].mode || cfg.table != cases[i].table ||
		    cfg.kill_switch != cases[i].kill_switch ||
		    cfg.save_config != cases[i].save_config)
			fail_msg("case %zu: got %d/%u/%d/%d", i, cfg.table_mode, cfg.table,
				 cfg.kill_switch, cfg.save_config);
		config_free(&cfg);
	}
}

static void test_bad_configs(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		struct config cfg;
		char err[ERR_LEN];
		enum config_status st;

		memset(err, 'x', sizeof(err));
		st = config_parse_text(&cfg, bad_cases[i].text, "x.conf", err, sizeof(err));
		if (st != (strstr(bad_cases[i].err, "cannot resolve") ? CONFIG_ERR_UNRESOLVED :
			   CONFIG_ERR_SYNTAX) || strcmp(err, bad_cases[i].err))
			fail_msg("case %zu: status %d\n  got  \"%s\"\n  want \"%s\"", i, st,
				 st == CONFIG_OK ? "(none)" : err, bad_cases[i].err);
		/* Refused whole: nothing is left behind. */
		assert_int_equal(cfg.n_peers, 0);
		assert_null(cfg.peers);
		assert_int_equal(cfg.n_addresses, 0);
		assert_int_equal(cfg.n_post_up, 0);
		assert_false(cfg.has_private_key);
		assert_true(wg_ct_is_zero(cfg.private_key, KEY_LEN));
	}
}

static void test_long_line(void **state)
{
	enum { PREFIX = 9 };	/* "PostUp = " */
	char *text = malloc(8192);
	char err[ERR_LEN];
	struct config cfg;
	size_t hdr;

	(void)state;
	assert_non_null(text);
	hdr = (size_t)sprintf(text, IFACE "PostUp = ");
	/* Exactly 4096 characters: accepted. */
	memset(text + hdr, 'a', 4096 - PREFIX);
	strcpy(text + hdr + 4096 - PREFIX, "\n");
	parse_ok(&cfg, text);
	assert_int_equal(strlen(cfg.post_up[0]), 4096 - PREFIX);
	config_free(&cfg);

	/* One more: refused, quoting only the start. */
	memset(text + hdr, 'a', 4097 - PREFIX);
	strcpy(text + hdr + 4097 - PREFIX, "\n");
	assert_int_equal(config_parse_text(&cfg, text, "x.conf", err, sizeof(err)),
			 CONFIG_ERR_SYNTAX);
	assert_string_equal(err, "x.conf:3: line longer than 4096 characters: "
			    "'PostUp (hidden, 4088 characters)'");
	free(text);
}

/* A hook whose %i expansion may not fit the runner's buffer is refused at
 * load time, never cut when it runs (issue 10, point 4). */
static void test_hook_too_long(void **state)
{
	size_t n_i = HOOK_CMD_MAX / IFNAME_MAX_LEN + 1;	/* enough %i to overflow */
	char *text = malloc(8192), err[ERR_LEN];
	struct config cfg;
	size_t hdr;

	(void)state;
	assert_non_null(text);
	hdr = (size_t)sprintf(text, IFACE "PreUp = ");
	for (size_t i = 0; i < n_i; i++)
		memcpy(text + hdr + 2 * i, "%i", 2);
	strcpy(text + hdr + 2 * n_i, "\n");
	assert_int_equal(config_parse_text(&cfg, text, "x.conf", err, sizeof(err)),
			 CONFIG_ERR_SYNTAX);
	assert_string_equal(err, "x.conf:3: PreUp longer than 8191 bytes with %i replaced");
	assert_int_equal(cfg.n_pre_up, 0);

	/* The same count that fits the longest name is accepted. */
	n_i = (HOOK_CMD_MAX - 1) / IFNAME_MAX_LEN;
	for (size_t i = 0; i < n_i; i++)
		memcpy(text + hdr + 2 * i, "%i", 2);
	strcpy(text + hdr + 2 * n_i, "\n");
	parse_ok(&cfg, text);
	assert_int_equal(cfg.n_pre_up, 1);
	config_free(&cfg);
	free(text);
}

static void test_endpoint_too_long(void **state)
{
	char text[1024], host[300], err[ERR_LEN], want[ERR_LEN + 300];
	struct config cfg;

	(void)state;
	memset(host, 'a', 250);
	strcpy(host + 250, ".example:51820");	/* 264 characters */
	snprintf(text, sizeof(text), IFACE PEER "Endpoint = %s\n", host);
	snprintf(want, sizeof(want), "x.conf:5: invalid Endpoint: '%s'", host);
	assert_int_equal(config_parse_text(&cfg, text, "x.conf", err, sizeof(err)),
			 CONFIG_ERR_SYNTAX);
	assert_string_equal(err, want);
}

/* A tiny error buffer truncates the message but never overflows. */
static void test_small_error_buffer(void **state)
{
	struct config cfg;
	char err[8];

	(void)state;
	assert_int_equal(config_parse_text(&cfg, IFACE "Foo = 1\n", "x.conf", err, sizeof(err)),
			 CONFIG_ERR_SYNTAX);
	assert_string_equal(err, "x.conf:");
	assert_int_equal(config_parse_text(&cfg, IFACE "Foo = 1\n", "x.conf", NULL, 0),
			 CONFIG_ERR_SYNTAX);
}

/* --- files -------------------------------------------------------------- */

static char tmpdir[64];

static int setup_dir(void **state)
{
	(void)state;
	strcpy(tmpdir, "/tmp/test_config.XXXXXX");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int teardown_dir(void **state)
{
	(void)state;
	return nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* Writes tmpdir/name with the given mode; returns the full path. */
static const char *put_file(const char *name, const char *text, mode_t mode)
{
	static char path[PATH_MAX];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, strlen(text), f), strlen(text));
	assert_int_equal(fclose(f), 0);
	assert_int_equal(chmod(path, mode), 0);
	return path;
}

static void put_dir(const char *name)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	assert_int_equal(mkdir(path, 0700), 0);
}

static enum config_status load(struct config *cfg, const char *name, char *err)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	reset_warnings();
	return config_load(cfg, path, err, ERR_LEN, collect_warning);
}

static void expect_load_error(const char *name, enum config_status want_st, const char *fmt,
			      const char *arg)
{
	struct config cfg;
	char err[ERR_LEN], want[ERR_LEN];

	snprintf(want, sizeof(want), fmt, tmpdir, arg);
	assert_int_equal(load(&cfg, name, err), want_st);
	assert_string_equal(err, want);
	assert_int_equal(cfg.n_peers, 0);
	assert_null(cfg.peers);
}

static void test_load_dir(void **state)
{
	struct config cfg;
	char err[ERR_LEN], want[PATH_MAX];

	(void)state;
	put_file("wg0.conf", IFACE "Address = 198.18.0.1/24\n" PEER, 0600);
	put_dir("wg0.d");
	/* Written out of order: loading sorts by name. */
	put_file("wg0.d/b.conf", "# peer b\n[Peer]\nPublicKey = " K4 "\n", 0600);
	put_file("wg0.d/a.conf", "[Peer]\nPublicKey = " K3 "\nAllowedIPs = 198.18.3.0/24\n",
		 0600);
	put_file("wg0.d/c.conf", "", 0600);
	/* Not *.conf, hidden, or not a regular file: skipped. */
	put_file("wg0.d/README", "not a config", 0600);
	put_file("wg0.d/.a.conf", "garbage", 0600);
	put_file("wg0.d/b.conf~", "garbage", 0600);
	put_dir("wg0.d/d.conf");
	{
		char fifo[PATH_MAX];

		/* Opened non-blocking and skipped: no writer, no hang. */
		snprintf(fifo, sizeof(fifo), "%s/wg0.d/e.conf", tmpdir);
		assert_int_equal(mkfifo(fifo, 0600), 0);
	}

	assert_int_equal(load(&cfg, "wg0.conf", err), CONFIG_OK);
	assert_int_equal(n_warnings, 0);
	assert_int_equal(cfg.n_peers, 3);
	assert_key(cfg.peers[0].public_key, K2);
	snprintf(want, sizeof(want), "%s/wg0.conf", tmpdir);
	assert_string_equal(cfg.peers[0].file, want);
	assert_int_equal(cfg.peers[0].line, 4);
	assert_key(cfg.peers[1].public_key, K3);
	snprintf(want, sizeof(want), "%s/wg0.d/a.conf", tmpdir);
	assert_string_equal(cfg.peers[1].file, want);
	assert_int_equal(cfg.peers[1].line, 1);
	assert_prefix(&cfg.peers[1].allowed_ips[0], "198.18.3.0", 24);
	assert_key(cfg.peers[2].public_key, K4);
	snprintf(want, sizeof(want), "%s/wg0.d/b.conf", tmpdir);
	assert_string_equal(cfg.peers[2].file, want);
	assert_int_equal(cfg.peers[2].line, 2);
	config_free(&cfg);

	/* Without NAME.d: just the main file. */
	put_file("solo.conf", IFACE, 0600);
	assert_int_equal(load(&cfg, "solo.conf", err), CONFIG_OK);
	assert_int_equal(cfg.n_peers, 0);
	config_free(&cfg);
}

#define BOM "\xEF\xBB\xBF"

/* A UTF-8 byte-order mark (Windows editors) starts the text: skipped, line
 * numbers unchanged; anywhere else it is still text. */
static void test_bom(void **state)
{
	struct config cfg;
	char err[ERR_LEN];

	(void)state;
	parse_ok(&cfg, BOM IFACE "ListenPort = 51820\n");
	assert_int_equal(cfg.listen_port, 51820);
	config_free(&cfg);
	assert_int_equal(config_parse_text(&cfg, BOM IFACE "Bogus = 1\n", "x.conf", err,
					   sizeof(err)), CONFIG_ERR_SYNTAX);
	assert_string_equal(err, "x.conf:3: unknown key: 'Bogus'");
	assert_int_not_equal(config_parse_text(&cfg, IFACE BOM "ListenPort = 1\n", "x.conf", err,
					       sizeof(err)), CONFIG_OK);

	/* From files: the main one and a peer file in NAME.d/. */
	put_file("bom.conf", BOM IFACE "Address = 198.18.0.1/24\n", 0600);
	put_dir("bom.d");
	put_file("bom.d/a.conf", BOM "[Peer]\nPublicKey = " K3 "\n", 0600);
	assert_int_equal(load(&cfg, "bom.conf", err), CONFIG_OK);
	assert_int_equal(cfg.n_peers, 1);
	assert_key(cfg.peers[0].public_key, K3);
	assert_int_equal(cfg.peers[0].line, 1);
	config_free(&cfg);
}

static void test_load_dir_errors(void **state)
{
	(void)state;
	/* [Interface] only in the main file. */
	put_file("wg1.conf", IFACE, 0600);
	put_dir("wg1.d");
	put_file("wg1.d/a.conf", "# x\n[interface]\nPrivateKey = " K1 "\n", 0600);
	expect_load_error("wg1.conf", CONFIG_ERR_SYNTAX,
			  "%s/wg1.d/a.conf:2: only [Peer] sections are allowed in this file: "
			  "'%s'", "[interface]");

	/* A bad line in the second file names that file and line. */
	put_file("wg2.conf", IFACE PEER, 0600);
	put_dir("wg2.d");
	put_file("wg2.d/a.conf", "[Peer]\nPublicKey = " K3 "\n", 0600);
	put_file("wg2.d/b.conf", "[Peer]\nPublicKey = " K4 "\nAllowedIPs = 198.18.0.0/33\n", 0600);
	expect_load_error("wg2.conf", CONFIG_ERR_SYNTAX, "%s/wg2.d/b.conf:3: invalid AllowedIPs: '%s'",
			  "198.18.0.0/33");

	/* The same public key in the main file and in NAME.d. */
	put_file("wg3.conf", IFACE PEER, 0600);
	put_dir("wg3.d");
	put_file("wg3.d/a.conf", "[Peer]\n# again\nPublicKey = " K2 "\n", 0600);
	expect_load_error("wg3.conf", CONFIG_ERR_SYNTAX,
			  "%s/wg3.d/a.conf:3: duplicate peer public key: '%s'", K2);

	/* Sections do not continue across files. */
	put_file("wg4.conf", IFACE PEER, 0600);
	put_dir("wg4.d");
	put_file("wg4.d/a.conf", "AllowedIPs = 198.18.0.0/24\n", 0600);
	expect_load_error("wg4.conf", CONFIG_ERR_SYNTAX,
			  "%s/wg4.d/a.conf:1: key outside a section: '%s'", "AllowedIPs");

	/* A [Peer] at the end of a file without PublicKey. */
	put_file("wg5.conf", IFACE, 0600);
	put_dir("wg5.d");
	put_file("wg5.d/a.conf", "\n[Peer]\nAllowedIPs = 198.18.0.0/24\n", 0600);
	expect_load_error("wg5.conf", CONFIG_ERR_SYNTAX,
			  "%s/wg5.d/a.conf:2: missing PublicKey in section: '%s'", "[Peer]");

	/* NAME.d that is not a directory. */
	put_file("wg6.conf", IFACE, 0600);
	put_file("wg6.d", "", 0600);
	expect_load_error("wg6.conf", CONFIG_ERR_IO, "%s/wg6.d: cannot open directory: %s",
			  "Not a directory");

	/* A NUL byte in a file. */
	put_file("wg7.conf", IFACE "PostUp = a", 0600);
	{
		char path[PATH_MAX];
		FILE *f;

		snprintf(path, sizeof(path), "%s/wg7.conf", tmpdir);
		f = fopen(path, "a");
		assert_non_null(f);
		assert_int_equal(fwrite("\0b\n", 1, 3, f), 3);
		assert_int_equal(fclose(f), 0);
	}
	expect_load_error("wg7.conf", CONFIG_ERR_SYNTAX, "%s/wg7.conf:3: NUL character in line: '%s'",
			  "\\0");

	/* No main file. */
	expect_load_error("none.conf", CONFIG_ERR_IO, "%s/none.conf: cannot open: %s",
			  "No such file or directory");
}

/* Peer files are trusted like OpenSSH keys (issue 10, point 5): never
 * through a symbolic link, owned by root or the config's owner, writable by
 * nobody else; a refused file's text is never quoted. */
static void test_peer_file_trust(void **state)
{
	char target[PATH_MAX], link[PATH_MAX], err[ERR_LEN];
	struct config cfg;

	(void)state;
	put_file("wt1.conf", IFACE, 0600);
	put_dir("wt1.d");
	/* A root-only file whose first line must not reach the error. */
	snprintf(target, sizeof(target), "%s",
		 put_file("root-only", "TOPSECRET-first-line\n", 0600));
	snprintf(link, sizeof(link), "%s/wt1.d/a.conf", tmpdir);
	assert_int_equal(symlink(target, link), 0);
	expect_load_error("wt1.conf", CONFIG_ERR_IO,
			  "%s/wt1.d/a.conf: refused: a symbolic link (peer files are not "
			  "followed)%s", "");

	/* Writable by group, by others. */
	put_file("wt2.conf", IFACE, 0600);
	put_dir("wt2.d");
	put_file("wt2.d/a.conf", "[Peer]\nPublicKey = " K3 "\n", 0620);
	expect_load_error("wt2.conf", CONFIG_ERR_IO,
			  "%s/wt2.d/a.conf: refused: writable by group or others (mode %s)", "0620");
	put_file("wt2.d/a.conf", "[Peer]\nPublicKey = " K3 "\n", 0602);
	expect_load_error("wt2.conf", CONFIG_ERR_IO,
			  "%s/wt2.d/a.conf: refused: writable by group or others (mode %s)", "0602");
	/* Readable by others is only the main file's warning, not a refusal. */
	put_file("wt2.d/a.conf", "[Peer]\nPublicKey = " K3 "\n", 0644);
	assert_int_equal(load(&cfg, "wt2.conf", err), CONFIG_OK);
	config_free(&cfg);

	if (geteuid() != 0) {
		print_message("not root: ownership checks skipped\n");
		return;
	}
	/* Owned by another user than root and the config's owner (root). */
	put_file("wt3.conf", IFACE, 0600);
	put_dir("wt3.d");
	assert_int_equal(chown(put_file("wt3.d/a.conf", "[Peer]\nPublicKey = " K3 "\n", 0600),
			       4242, 4242), 0);
	expect_load_error("wt3.conf", CONFIG_ERR_IO,
			  "%s/wt3.d/a.conf: refused: owned by uid 4242, not by root or the "
			  "config's owner (uid %s)", "0");
	/* The same owner as the config: accepted. */
	assert_int_equal(chown(put_file("wt3.conf", IFACE, 0600), 4242, 4242), 0);
	assert_int_equal(load(&cfg, "wt3.conf", err), CONFIG_OK);
	assert_int_equal(cfg.n_peers, 1);
	config_free(&cfg);
}

static void test_permission_warning(void **state)
{
	struct config cfg;
	char err[ERR_LEN], want[PATH_MAX + 128];

	(void)state;
	put_file("perm.conf", IFACE, 0644);
	assert_int_equal(load(&cfg, "perm.conf", err), CONFIG_OK);
	assert_int_equal(n_warnings, 1);
	snprintf(want, sizeof(want),
		 "%s/perm.conf: warning: file holding a private key is readable by group or others",
		 tmpdir);
	assert_string_equal(warnings[0], want);
	config_free(&cfg);

	put_file("perm.conf", IFACE, 0600);
	assert_int_equal(load(&cfg, "perm.conf", err), CONFIG_OK);
	assert_int_equal(n_warnings, 0);
	config_free(&cfg);

	put_file("perm.conf", IFACE, 0640);
	assert_int_equal(load(&cfg, "perm.conf", err), CONFIG_OK);
	assert_int_equal(n_warnings, 1);
	config_free(&cfg);
}

/* DNS, Table and SaveConfig of a wg-quick file are read, not ignored:
 * no warning. */
static void test_wg_quick_keys_read(void **state)
{
	struct config cfg;
	char err[ERR_LEN];

	(void)state;
	put_file("srv.conf", server_conf, 0600);
	assert_int_equal(load(&cfg, "srv.conf", err), CONFIG_OK);
	check_server(&cfg);
	assert_int_equal(n_warnings, 0);
	assert_int_equal(cfg.n_dns, 1);
	assert_int_equal(cfg.dns[0].family, AF_INET);
	assert_int_equal(cfg.n_dns_search, 0);
	assert_int_equal(cfg.table_mode, TABLE_OFF);
	assert_false(cfg.save_config);
	config_free(&cfg);
}

/* DNS = addresses and search domains, in any order, over several lines. */
static void test_dns(void **state)
{
	struct config cfg;

	(void)state;
	parse_ok(&cfg, IFACE "DNS = 198.18.0.53, example.test\nDNS = 2001:db8::53,corp.example\n"
		 "DNS =\n" PEER);
	assert_int_equal(cfg.n_dns, 2);
	assert_int_equal(cfg.dns[1].family, AF_INET6);
	assert_int_equal(cfg.dns[1].cidr, 128);
	assert_int_equal(cfg.n_dns_search, 2);
	assert_string_equal(cfg.dns_search[0], "example.test");
	assert_string_equal(cfg.dns_search[1], "corp.example");
	config_free(&cfg);
}

/* --- parsers ------------------------------------------------------------ */

static void test_parse_ip_prefix(void **state)
{
	static const struct {
		const char *text, *addr;
		unsigned cidr;
	} good[] = {
		{ "198.18.0.0/15", "198.18.0.0", 15 },
		{ "198.18.0.1", "198.18.0.1", 32 },
		{ "198.18.0.1/32", "198.18.0.1", 32 },
		{ "198.19.255.255/16", "198.19.0.0", 16 },	/* masked */
		{ "198.18.7.7/0", "0.0.0.0", 0 },
		{ "198.18.0.129/25", "198.18.0.128", 25 },
		{ "2001:db8::/32", "2001:db8::", 32 },
		{ "2001:db8::1", "2001:db8::1", 128 },
		{ "2001:db8:ffff::1/33", "2001:db8:8000::", 33 },
		{ "2001:db8::1/0", "::", 0 },
		{ "2001:DB8::1/127", "2001:db8::", 127 },
		{ "::ffff:198.18.0.1/128", "::ffff:198.18.0.1", 128 },
	};
	static const char *const bad[] = {
		"", "/24", "198.18.0.1/", "198.18.0.1/33", "198.18.0.1/-1", "198.18.0.1/+8",
		"198.18.0.1/08", "198.18.0.1/24x", "198.18.0.1 /24", " 198.18.0.1",
		"198.18.0.1/24 ", "198.018.0.1", "198.18.0", "198.18.0.1.5", "198.18.0.256",
		"198.18.0.1/24/24", "0xc6.18.0.1", "198.18.0.1/ 24", "2001:db8::1/129",
		"2001:db8:::1", "2001:db8::1%eth0", "2001:db8::g", "[2001:db8::1]/64",
		"2001:db8::1/64x", "198.18.0.1/4294967328",
		"2001:0db8:0000:0000:0000:0000:0000:0000:0001/128",
	};
	struct ip_prefix pfx;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		memset(&pfx, 0xee, sizeof(pfx));
		if (!parse_ip_prefix(good[i].text, &pfx))
			fail_msg("refused '%s'", good[i].text);
		assert_prefix(&pfx, good[i].addr, good[i].cidr);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (parse_ip_prefix(bad[i], &pfx))
			fail_msg("accepted '%s'", bad[i]);
}

static void test_parse_endpoint(void **state)
{
	static const struct {
		const char *text, *formatted;
	} good[] = {
		{ "198.18.0.1:51820", "198.18.0.1:51820" },
		{ "198.18.0.1:1", "198.18.0.1:1" },
		{ "198.18.0.1:65535", "198.18.0.1:65535" },
		{ "[2001:db8::1]:51820", "[2001:db8::1]:51820" },
		{ "[2001:DB8:0::1]:51820", "[2001:db8::1]:51820" },
	};
	static const char *const bad[] = {
		"", ":", "198.18.0.1", "198.18.0.1:", "198.18.0.1:0", "198.18.0.1:65536",
		"198.18.0.1:051820", "198.18.0.1:5x", "198.18.0.1: 5", "198.18.0.256:1",
		"198.18.1:1", "2001:db8::1:51820", "[2001:db8::1]", "[2001:db8::1]:",
		"[2001:db8::1]51820", "[2001:db8::1:51820", "[]:51820", "[198.18.0.1]:51820",
		"-bad:1", "bad host:1", "bad/host:1",
	};
	union sockaddr_any ep;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		if (!parse_endpoint(good[i].text, &ep))
			fail_msg("refused '%s'", good[i].text);
		assert_endpoint(&ep, good[i].formatted);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (parse_endpoint(bad[i], &ep))
			fail_msg("accepted '%s'", bad[i]);
	assert_true(parse_endpoint("localhost:51820", &ep));
	assert_true(ep.sa.sa_family == AF_INET || ep.sa.sa_family == AF_INET6);
	/* Text from a daemon or a UAPI client: numeric only, never a lookup. */
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		assert_true(parse_endpoint_numeric(good[i].text, &ep));
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_false(parse_endpoint_numeric(bad[i], &ep));
	assert_false(parse_endpoint_numeric("localhost:51820", &ep));
}

static void test_format_endpoint(void **state)
{
	union sockaddr_any ep;
	char buf[64];

	(void)state;
	memset(&ep, 0, sizeof(ep));
	ep.in.sin_family = AF_INET;
	ep.in.sin_port = htons(51820);
	assert_int_equal(inet_pton(AF_INET, "198.18.0.1", &ep.in.sin_addr), 1);
	assert_endpoint(&ep, "198.18.0.1:51820");
	/* Truncated, still terminated. */
	format_endpoint(buf, 6, &ep);
	assert_string_equal(buf, "198.1");
	buf[0] = 'z';
	format_endpoint(buf, 0, &ep);
	assert_int_equal(buf[0], 'z');

	memset(&ep, 0, sizeof(ep));
	ep.in6.sin6_family = AF_INET6;
	ep.in6.sin6_port = htons(51820);
	assert_int_equal(inet_pton(AF_INET6, "2001:db8::1", &ep.in6.sin6_addr), 1);
	assert_endpoint(&ep, "[2001:db8::1]:51820");
	ep.in6.sin6_port = htons(1);
	assert_int_equal(inet_pton(AF_INET6, "2001:db8:1:2:3:4:5:6", &ep.in6.sin6_addr), 1);
	assert_endpoint(&ep, "[2001:db8:1:2:3:4:5:6]:1");

	memset(&ep, 0, sizeof(ep));
	assert_endpoint(&ep, "(none)");
}

static void test_free_zeroed(void **state)
{
	struct config cfg;

	(void)state;
	memset(&cfg, 0, sizeof(cfg));
	config_free(&cfg);
	assert_null(cfg.peers);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_server_config),
		cmocka_unit_test(test_client_config),
		cmocka_unit_test(test_case_insensitive),
		cmocka_unit_test(test_comments_and_spacing),
		cmocka_unit_test(test_many_entries),
		cmocka_unit_test(test_peer_to_peer),
		cmocka_unit_test(test_bad_configs),
		cmocka_unit_test(test_long_line),
		cmocka_unit_test(test_hook_too_long),
		cmocka_unit_test(test_endpoint_too_long),
		cmocka_unit_test(test_small_error_buffer),
		cmocka_unit_test_setup_teardown(test_load_dir, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_bom, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_load_dir_errors, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_peer_file_trust, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_permission_warning, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_wg_quick_keys_read, setup_dir, teardown_dir),
		cmocka_unit_test(test_dns),
		cmocka_unit_test(test_table_keys),
		cmocka_unit_test(test_parse_ip_prefix),
		cmocka_unit_test(test_parse_endpoint),
		cmocka_unit_test(test_format_endpoint),
		cmocka_unit_test(test_free_zeroed),
	};

	if (!wg_crypto_init())
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
