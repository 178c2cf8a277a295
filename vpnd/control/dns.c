/* DNS = through resolvconf or systemd-resolved; see dns.h. */
#include "vpnd/common/atomic_file.h"
#include "vpnd/control/dns.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vpnd/common/log.h"
#include "vpnd/control/fulltunnel.h"
#include "vpnd/control/runprog.h"

#define RESOLVED_SOCKET "/run/systemd/resolve/io.systemd.Resolve"
#define MAX_ARGS 72	/* resolvectl domain IFACE ~. + search domains */

enum dns_method { DNS_RESOLVCONF, DNS_RESOLVED, DNS_NONE };

static const char *const method_names[] = { "resolvconf", "resolved" };

static void state_path(char *buf, size_t len, const char *ifname)
{
	snprintf(buf, len, "%s/%s.dns", FULLTUNNEL_STATE_DIR, ifname);
}

/* Replaced whole (atomic_file.h): a crash never leaves an empty state
 * that would read as "nothing to undo". */
static int state_write(const char *ifname, enum dns_method m)
{
	struct atomic_file af;
	char path[128];
	int ret;

	mkdir(FULLTUNNEL_STATE_DIR, 0755);
	state_path(path, sizeof(path), ifname);
	ret = atomic_file_open(&af, path);
	if (ret < 0)
		return ret;
	fprintf(af.f, "%s\n", method_names[m]);
	return atomic_file_commit(&af, ATOMIC_REPLACE);
}

static enum dns_method state_read(const char *ifname)
{
	char path[128], word[32] = "";
	FILE *f;

	state_path(path, sizeof(path), ifname);
	f = fopen(path, "re");
	if (!f)
		return DNS_NONE;
	if (fscanf(f, "%31s", word) != 1)
		word[0] = '\0';
	fclose(f);
	for (int m = DNS_RESOLVCONF; m < DNS_NONE; m++)
		if (!strcmp(word, method_names[m]))
			return (enum dns_method)m;
	return DNS_NONE;
}

/* resolvconf's input, as wg-quick writes it. Addresses come from
 * inet_ntop, domains were checked by the parser: no line can be forged. */
static char *resolvconf_input(const struct config *cfg)
{
	char *text = NULL, a[INET6_ADDRSTRLEN];
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	if (!f)
		return NULL;
	for (size_t i = 0; i < cfg->n_dns; i++)
		if (inet_ntop(cfg->dns[i].family, cfg->dns[i].addr, a, sizeof(a)))
			fprintf(f, "nameserver %s\n", a);
	if (cfg->n_dns_search) {
		fprintf(f, "search");
		for (size_t i = 0; i < cfg->n_dns_search; i++)
			fprintf(f, " %s", cfg->dns_search[i]);
		fprintf(f, "\n");
	}
	if (fclose(f) != 0) {
		free(text);
		return NULL;
	}
	return text;
}

static int up_resolvconf(const char *prog, const char *ifname, const struct config *cfg)
{
	char *argv[] = { (char *)prog, "-a", (char *)ifname, "-m", "0", "-x", NULL };
	char *input = resolvconf_input(cfg);
	int ret;

	if (!input)
		return -ENOMEM;
	ret = runprog(argv, input, false) == 0 ? 0 : -EIO;
	free(input);
	return ret;
}

/* resolvectl dns IFACE ADDR... and resolvectl domain IFACE [~.] DOMAIN... */
static int up_resolved(const char *prog, const char *ifname, const struct config *cfg)
{
	char addrs[32][INET6_ADDRSTRLEN];
	char *argv[MAX_ARGS];
	size_t n = 0;

	argv[n++] = (char *)prog;
	argv[n++] = "dns";
	argv[n++] = (char *)ifname;
	for (size_t i = 0; i < cfg->n_dns && i < 32; i++)
		if (inet_ntop(cfg->dns[i].family, cfg->dns[i].addr, addrs[i], sizeof(addrs[i])))
			argv[n++] = addrs[i];
	argv[n] = NULL;
	if (cfg->n_dns && runprog(argv, NULL, false) < 0)
		return -EIO;
	n = 1;
	argv[n++] = "domain";
	argv[n++] = (char *)ifname;
	if (fulltunnel_family(cfg, AF_INET) || fulltunnel_family(cfg, AF_INET6))
		argv[n++] = "~.";
	for (size_t i = 0; i < cfg->n_dns_search && n < MAX_ARGS - 1; i++)
		argv[n++] = cfg->dns_search[i];
	argv[n] = NULL;
	return n > 3 && runprog(argv, NULL, false) < 0 ? -EIO : 0;
}

static enum dns_method find_method(char prog[PATH_MAX])
{
	if (runprog_find("resolvconf", prog))
		return DNS_RESOLVCONF;
	if (access(RESOLVED_SOCKET, F_OK) == 0 && runprog_find("resolvectl", prog))
		return DNS_RESOLVED;
	return DNS_NONE;
}

int dns_up(const char *ifname, const struct config *cfg, char *err, size_t err_len)
{
	char prog[PATH_MAX];
	enum dns_method m;
	int ret;

	if (!cfg->n_dns && !cfg->n_dns_search)
		return 0;
	m = find_method(prog);
	if (m == DNS_NONE) {
		snprintf(err, err_len, "DNS = is set, but there is neither resolvconf (e.g. "
			 "openresolv) nor a running systemd-resolved; vpnd does not overwrite "
			 "/etc/resolv.conf: install one, or remove DNS =");
		return -ENOTSUP;
	}
	ret = state_write(ifname, m);
	if (ret == 0)
		ret = m == DNS_RESOLVCONF ? up_resolvconf(prog, ifname, cfg) :
					    up_resolved(prog, ifname, cfg);
	if (ret < 0)
		snprintf(err, err_len, "DNS: %s for %s failed", prog, ifname);
	else
		log_info("%s: DNS set through %s", ifname, prog);
	return ret;
}

bool dns_undo(const char *ifname)
{
	char path[128], prog[PATH_MAX];
	enum dns_method m = state_read(ifname);

	if (m == DNS_NONE)
		return false;
	if (m == DNS_RESOLVCONF && runprog_find("resolvconf", prog)) {
		char *argv[] = { prog, "-d", (char *)ifname, "-f", NULL };

		runprog(argv, NULL, true);
	} else if (m == DNS_RESOLVED && runprog_find("resolvectl", prog)) {
		/* Fails when the link is already gone: resolved forgot it. */
		char *argv[] = { prog, "revert", (char *)ifname, NULL };

		runprog(argv, NULL, true);
	}
	state_path(path, sizeof(path), ifname);
	unlink(path);
	return true;
}
