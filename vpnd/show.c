/* vpnd show [NAME] [--show-keys]: asks each daemon over UAPI (get=1 and
 * vpnd's get=stats) and prints what wg show prints, plus drop counters. */
#include "vpnd/show.h"

#include <dirent.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "crypto/crypto.h"
#include "vpnd/uapi.h"

static void print_key(const char *label, const char *hex, bool hide)
{
	uint8_t k[KEY_LEN];
	char b64[KEY_B64_LEN + 1];

	if (hide) {
		printf("  %s: (hidden)\n", label);
		return;
	}
	if (!key_from_hex(k, hex))
		return;
	key_to_base64(b64, k);
	printf("  %s: %s\n", label, b64);
	secure_wipe(k, sizeof(k));
	secure_wipe(b64, sizeof(b64));
}

static void print_public(const char *prefix, const char *hex)
{
	uint8_t k[KEY_LEN];
	char b64[KEY_B64_LEN + 1];

	if (!key_from_hex(k, hex))
		return;
	key_to_base64(b64, k);
	printf("%s%s\n", prefix, b64);
}

static void print_bytes(unsigned long long n)
{
	static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	double v = (double)n;
	int u = 0;

	while (v >= 1024 && u < 4) {
		v /= 1024;
		u++;
	}
	if (u == 0)
		printf("%llu B", n);
	else
		printf("%.2f %s", v, units[u]);
}

static void print_age(unsigned long long sec)
{
	unsigned long long now = (unsigned long long)time(NULL), age;

	if (!sec) {
		printf("  latest handshake: (none)\n");
		return;
	}
	age = now > sec ? now - sec : 0;
	printf("  latest handshake: ");
	if (age >= 3600)
		printf("%llu hours, ", age / 3600);
	if (age >= 60)
		printf("%llu minutes, ", age / 60 % 60);
	printf("%llu seconds ago\n", age % 60);
}

struct peer_view {
	char pub[KEY_HEX_LEN + 1];
	char endpoint[80];
	char allowed[4096];
	unsigned long long hs_sec, rx, tx;
	unsigned keepalive;
	bool psk;
};

static void flush_peer(struct peer_view *p, bool show_keys)
{
	if (!p->pub[0])
		return;
	printf("\n");
	print_public("peer: ", p->pub);
	if (p->psk)
		printf("  preshared key: %s\n", show_keys ? "(set)" : "(hidden)");
	if (p->endpoint[0])
		printf("  endpoint: %s\n", p->endpoint);
	printf("  allowed ips: %s\n", p->allowed[0] ? p->allowed : "(none)");
	print_age(p->hs_sec);
	if (p->rx || p->tx) {
		printf("  transfer: ");
		print_bytes(p->rx);
		printf(" received, ");
		print_bytes(p->tx);
		printf(" sent\n");
	}
	if (p->keepalive)
		printf("  persistent keepalive: every %u seconds\n", p->keepalive);
	memset(p, 0, sizeof(*p));
}

static void show_line(const char *key, const char *val, struct peer_view *p, bool show_keys)
{
	if (!strcmp(key, "private_key")) {
		uint8_t priv[KEY_LEN], pub[KEY_LEN];
		char hex[KEY_HEX_LEN + 1];

		if (key_from_hex(priv, val) && key_public_from_private(pub, priv)) {
			key_to_hex(hex, pub);
			print_key("public key", hex, false);
		}
		print_key("private key", val, !show_keys);
		secure_wipe(priv, sizeof(priv));
	} else if (!strcmp(key, "listen_port")) {
		printf("  listening port: %s\n", val);
	} else if (!strcmp(key, "fwmark")) {
		printf("  fwmark: 0x%x\n", (unsigned)strtoul(val, NULL, 10));
	} else if (!strcmp(key, "public_key")) {
		flush_peer(p, show_keys);
		snprintf(p->pub, sizeof(p->pub), "%s", val);
	} else if (!strcmp(key, "preshared_key")) {
		p->psk = true;
	} else if (!strcmp(key, "endpoint")) {
		snprintf(p->endpoint, sizeof(p->endpoint), "%s", val);
	} else if (!strcmp(key, "last_handshake_time_sec")) {
		p->hs_sec = strtoull(val, NULL, 10);
	} else if (!strcmp(key, "rx_bytes")) {
		p->rx = strtoull(val, NULL, 10);
	} else if (!strcmp(key, "tx_bytes")) {
		p->tx = strtoull(val, NULL, 10);
	} else if (!strcmp(key, "persistent_keepalive_interval")) {
		p->keepalive = (unsigned)strtoul(val, NULL, 10);
	} else if (!strcmp(key, "allowed_ip")) {
		size_t l = strlen(p->allowed);

		snprintf(p->allowed + l, sizeof(p->allowed) - l, "%s%s", l ? ", " : "", val);
	}
}

static void show_drops(const char *ifname)
{
	char err[256], *ans = uapi_request(ifname, "get=stats\n\n", err, sizeof(err));
	char *save = NULL;
	bool any = false;

	if (!ans)
		return;
	for (char *l = strtok_r(ans, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		char *eq = strchr(l, '=');

		if (!eq || strncmp(l, "drop_", 5) || !strcmp(eq + 1, "0"))
			continue;
		*eq = '\0';
		printf("%s %s=%s", any ? "," : "  drops:", l + 5, eq + 1);
		any = true;
	}
	if (any)
		printf("\n");
	free(ans);
}

static int show_one(const char *ifname, bool show_keys)
{
	char err[512], *ans = uapi_request(ifname, "get=1\n\n", err, sizeof(err));
	struct peer_view *p;
	char *save = NULL;
	bool drops_shown = false;

	if (!ans) {
		fprintf(stderr, "vpnd: %s\n", err);
		return 1;
	}
	p = calloc(1, sizeof(*p));
	printf("interface: %s\n", ifname);
	for (char *l = strtok_r(ans, "\n", &save); l && p; l = strtok_r(NULL, "\n", &save)) {
		char *eq = strchr(l, '=');

		if (!eq)
			continue;
		*eq = '\0';
		if (!strcmp(l, "public_key") && !drops_shown) {
			show_drops(ifname);	/* interface section ends here */
			drops_shown = true;
		}
		show_line(l, eq + 1, p, show_keys);
	}
	if (!drops_shown)
		show_drops(ifname);
	if (p)
		flush_peer(p, show_keys);
	free(p);
	secure_wipe(ans, strlen(ans));
	free(ans);
	return 0;
}

int show_main(int argc, char **argv)
{
	const char *name = NULL;
	bool show_keys = false;
	DIR *d;
	struct dirent *e;
	int ret = 0, n = 0;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--show-keys"))
			show_keys = true;
		else
			name = argv[i];
	}
	if (name)
		return show_one(name, show_keys);
	d = opendir(UAPI_DIR);
	while (d && (e = readdir(d))) {
		char ifname[256];
		size_t l = strlen(e->d_name);

		if (l < 6 || strcmp(e->d_name + l - 5, ".sock"))
			continue;
		snprintf(ifname, sizeof(ifname), "%.*s", (int)(l - 5), e->d_name);
		if (n++)
			printf("\n");
		ret |= show_one(ifname, show_keys);
	}
	if (d)
		closedir(d);
	return ret;
}
