/* vpnd command line: a table of subcommands, each a *_main(argc, argv). */
#include <dirent.h>
#include <errno.h>
#include <libgen.h>
#include <net/if.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "crypto/crypto.h"
#include "vpnd/control/config.h"
#include "vpnd/control/dns.h"
#include "vpnd/control/fulltunnel.h"
#include "vpnd/daemon/daemon.h"
#include "vpnd/control/reload_apply.h"
#include "vpnd/common/ifname.h"
#include "vpnd/common/log.h"
#include "vpnd/cli/conf_cmd.h"
#include "vpnd/cli/show.h"
#include "vpnd/control/uapi.h"

static int genkey_main(int argc, char **argv);
static int pubkey_main(int argc, char **argv);
static int genpsk_main(int argc, char **argv);
static int up_main(int argc, char **argv);
static int down_main(int argc, char **argv);
static int daemon_main(int argc, char **argv);
static int help_main(int argc, char **argv);

static const struct subcommand {
	const char *name;
	int (*main)(int argc, char **argv);
	const char *args;
	const char *help;
} subcommands[] = {
	{ "up", up_main, "CONFIG|NAME", "create the interface from a config and start the daemon" },
	{ "down", down_main, "NAME", "stop the daemon and remove its interface" },
	{ "reload", reload_main, "NAME|CONFIG",
	  "re-read the config and apply only what changed (also: SIGHUP to the daemon)" },
	{ "peer", peer_main, "add|remove|list ... --iface IFACE",
	  "manage a server's clients in NAME.d/ (vpnd peer for details)" },
	{ "show", show_main, "[NAME] [--show-keys] [--rate]",
	  "show interfaces, peers, handshakes, transfer (see below)" },
	{ "strip", strip_main, "CONFIG|NAME", "print the wg(8) part of a config (for wg syncconf)" },
	{ "showconf", showconf_main, "IFACE", "print the running interface as a wg(8) config" },
	{ "daemon", daemon_main, "[-f|--foreground] IFNAME",
	  "create a bare interface configured over UAPI (wireguard-go's convention)" },
	{ "genkey", genkey_main, "", "print a new private key (base64)" },
	{ "pubkey", pubkey_main, "", "read a private key on stdin, print its public key" },
	{ "genpsk", genpsk_main, "", "print a new preshared key" },
	{ "help", help_main, "", "this text" },
};

#define N_SUBCOMMANDS (sizeof(subcommands) / sizeof(subcommands[0]))

static void usage(FILE *f)
{
	fprintf(f, "Usage: vpnd [-v|--verbose] COMMAND [ARGS]\n\nCommands:\n");
	for (size_t i = 0; i < N_SUBCOMMANDS; i++) {
		char left[64];

		snprintf(left, sizeof(left), "%s %s", subcommands[i].name, subcommands[i].args);
		fprintf(f, "  %-34s %s\n", left, subcommands[i].help);
	}
	fprintf(f, "  %-34s %s\n", "show [NAME] --json|--prometheus",
		"the same as JSON, or as Prometheus metrics");
	fprintf(f, "\nOptions:\n  %-34s %s\n", "-v, --verbose",
		"debug logging (as VPND_VERBOSE=1; VPND_LOG_LEVEL=error|warning|info|debug)");
	fprintf(f, "\nNAME means %s/NAME.conf (and its NAME.d/ directory of peer files);\n"
		"$VPND_CONFIG_DIR overrides %s.\n", config_dir(), CONFIG_DIR_DEFAULT);
}

static int help_main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	usage(stdout);
	return 0;
}

static int genkey_main(int argc, char **argv)
{
	uint8_t k[KEY_LEN];
	char b64[KEY_B64_LEN + 1];

	(void)argc;
	(void)argv;
	if (isatty(STDOUT_FILENO))
		fprintf(stderr, "vpnd: warning: writing a private key to a terminal\n");
	wg_key_generate_private(k);
	wg_key_to_base64(b64, k);
	printf("%s\n", b64);
	wg_secure_wipe(k, sizeof(k));
	wg_secure_wipe(b64, sizeof(b64));
	return 0;
}

static int genpsk_main(int argc, char **argv)
{
	uint8_t k[KEY_LEN];
	char b64[KEY_B64_LEN + 1];

	(void)argc;
	(void)argv;
	wg_random_bytes(k, sizeof(k));
	wg_key_to_base64(b64, k);
	printf("%s\n", b64);
	wg_secure_wipe(k, sizeof(k));
	wg_secure_wipe(b64, sizeof(b64));
	return 0;
}

static int pubkey_main(int argc, char **argv)
{
	char line[256];
	uint8_t priv[KEY_LEN], pub[KEY_LEN];
	char b64[KEY_B64_LEN + 1];
	size_t n;
	int ret = 1;

	(void)argc;
	(void)argv;
	if (!fgets(line, sizeof(line), stdin))
		goto out;
	n = strcspn(line, "\r\n");
	line[n] = '\0';
	if (!wg_key_from_base64(priv, line)) {
		/* The text may be a key with one character wrong: never echoed. */
		fprintf(stderr, "vpnd: stdin:1: invalid private key: '(hidden, %zu characters)'\n",
			n);
		goto out;
	}
	wg_key_clamp(priv);
	if (!wg_key_public_from_private(pub, priv))
		goto out;
	wg_key_to_base64(b64, pub);
	printf("%s\n", b64);
	ret = 0;
out:
	wg_secure_wipe(line, sizeof(line));
	wg_secure_wipe(priv, sizeof(priv));
	return ret;
}

static void warn_cb(const char *msg)
{
	fprintf(stderr, "vpnd: %s\n", msg);
}

static int up_main(int argc, char **argv)
{
	struct config cfg = { 0 };
	char path[PATH_MAX], abs_path[PATH_MAX], ifname[IFNAMSIZ], err[1024];
	struct daemon_opts o = { 0 };
	int ret = 1;

	if (argc != 2) {
		fprintf(stderr, "Usage: vpnd up CONFIG|NAME\n");
		return 1;
	}
	if (!config_resolve(argv[1], path, sizeof(path), ifname, err, sizeof(err))) {
		fprintf(stderr, "vpnd: %s\n", err);
		goto out;
	}
	if (config_load(&cfg, path, err, sizeof(err), warn_cb) != CONFIG_OK) {
		fprintf(stderr, "vpnd: %s\n", err);
		goto out;
	}
	o.ifname = ifname;
	o.cfg = &cfg;
	/* For reloads by the monitor (SIGHUP), which may run elsewhere. */
	o.config_path = realpath(path, abs_path) ? abs_path : path;
	o.foreground = getenv("VPND_FOREGROUND") != NULL;
	ret = daemon_run(&o);
out:
	config_free(&cfg);
	return ret;
}

static pid_t read_pid(const char *ifname)
{
	char path[PATH_MAX];
	FILE *f;
	int pid = 0;

	snprintf(path, sizeof(path), "%s/%s.pid", PID_DIR, ifname);
	f = fopen(path, "r");
	if (!f)
		return 0;
	if (fscanf(f, "%d", &pid) != 1)
		pid = 0;
	fclose(f);
	return pid;
}

/* A daemon killed unasked (kill -9) leaves its pid file and UAPI socket.
 * Stale only once that pid is gone and nothing answers on the socket: a
 * daemon still starting (pid alive, socket not yet listening) keeps them. */
static void remove_stale_files(const char *ifname, pid_t pid)
{
	char path[PATH_MAX];

	if ((pid > 0 && kill(pid, 0) == 0) || uapi_alive(ifname))
		return;
	snprintf(path, sizeof(path), "%s/%s.pid", PID_DIR, ifname);
	unlink(path);
	uapi_unlink(ifname);
}

/* The daemon is gone (crashed, killed): what it left of a full tunnel
 * (a kill switch, or everything if the monitor itself died), its DNS and
 * its stale files are removed. */
static int down_leftovers(const char *ifname, pid_t pid)
{
	char err[512] = "";
	bool dns = dns_undo(ifname);

	remove_stale_files(ifname, pid);
	switch (fulltunnel_undo(ifname, false, err, sizeof(err))) {
	case FULLTUNNEL_UNDONE:
		fprintf(stderr, "vpnd: %s: daemon not running; removed its full-tunnel rules "
			"(kill switch)%s\n", ifname, dns ? " and DNS" : "");
		return 0;
	case FULLTUNNEL_FAILED:
		fprintf(stderr, "vpnd: %s: %s\n", ifname, err);
		return 1;
	default:
		if (dns) {
			fprintf(stderr, "vpnd: %s: daemon not running; removed its DNS\n", ifname);
			return 0;
		}
		fprintf(stderr, "vpnd: %s is not up\n", ifname);
		return 1;
	}
}

static int down_main(int argc, char **argv)
{
	char path[PATH_MAX], ifname[IFNAMSIZ], err[256];
	pid_t pid;

	if (argc != 2) {
		fprintf(stderr, "Usage: vpnd down NAME\n");
		return 1;
	}
	if (!config_resolve(argv[1], path, sizeof(path), ifname, err, sizeof(err))) {
		fprintf(stderr, "vpnd: %s\n", err);
		return 1;
	}
	pid = read_pid(ifname);
	if (pid <= 0 || kill(pid, 0) < 0 || !uapi_alive(ifname))
		return down_leftovers(ifname, pid);
	if (kill(pid, SIGTERM) < 0) {
		fprintf(stderr, "vpnd: %s: cannot stop pid %d: %s\n", ifname, (int)pid,
			strerror(errno));
		return 1;
	}
	/* Wait (up to 10 s) for the daemon to finish its teardown. */
	for (int i = 0; i < 1000 && kill(pid, 0) == 0; i++) {
		struct timespec ts = { 0, 10 * 1000 * 1000 };

		nanosleep(&ts, NULL);
	}
	if (kill(pid, 0) == 0) {
		fprintf(stderr, "vpnd: %s: daemon (pid %d) did not stop\n", ifname, (int)pid);
		return 1;
	}
	return 0;
}

static int daemon_main(int argc, char **argv)
{
	struct daemon_opts o = { 0 };

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-f") || !strcmp(argv[i], "--foreground"))
			o.foreground = true;
		else if (!o.ifname)
			o.ifname = argv[i];
		else
			o.ifname = NULL, i = argc;
	}
	if (!o.ifname) {
		fprintf(stderr, "Usage: vpnd daemon [-f|--foreground] IFNAME\n");
		return 1;
	}
	if (!ifname_valid(o.ifname)) {
		char shown[48];

		ifname_quote(shown, sizeof(shown), o.ifname);
		fprintf(stderr, "vpnd: invalid interface name '%s': 1 to %d of "
			"a-z A-Z 0-9 _ = + . -\n", shown, IFNAME_MAX_LEN);
		return 1;
	}
	return daemon_run(&o);
}

int main(int argc, char **argv)
{
	const char *prog = basename(argv[0]);

	if (!wg_crypto_init()) {
		fprintf(stderr, "vpnd: cannot initialise libsodium\n");
		return 1;
	}
	log_init();	/* VPND_LOG_LEVEL, VPND_VERBOSE, the journal */
	/* Installed as a wireguard-go stand-in (vpnd-daemon), it takes
	 * wireguard-go's arguments directly: [-f] IFNAME. */
	if (strstr(prog, "daemon") && argc >= 2 && strcmp(argv[1], "daemon"))
		return daemon_main(argc, argv);
	/* Global options, before the command. */
	while (argc >= 2 && (!strcmp(argv[1], "--verbose") || !strcmp(argv[1], "-v"))) {
		log_threshold = LOG_LEVEL_DEBUG;
		setenv("VPND_VERBOSE", "1", 1);	/* the same for what we start */
		argv[1] = argv[0];
		argc--;
		argv++;
	}
	if (argc < 2) {
		usage(stderr);
		return 1;
	}
	for (size_t i = 0; i < N_SUBCOMMANDS; i++)
		if (!strcmp(argv[1], subcommands[i].name))
			return subcommands[i].main(argc - 1, argv + 1);
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))
		return help_main(0, NULL);
	fprintf(stderr, "vpnd: unknown command: '%s'\n\n", argv[1]);
	usage(stderr);
	return 1;
}
