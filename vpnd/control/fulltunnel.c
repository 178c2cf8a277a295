/* Full tunnel: policy routing, nftables and the kill switch; see
 * fulltunnel.h. Every step is recorded in the state file before it is
 * taken (and un-recorded if the kernel refused it because something was
 * already there), so an undo never removes what vpnd did not add. */
#include "vpnd/control/fulltunnel.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tun/netlink.h"
#include "vpnd/common/atomic_file.h"
#include "vpnd/common/ifname.h"
#include "vpnd/common/lock.h"
#include "vpnd/common/log.h"
#include "vpnd/control/runprog.h"

/* Steps, as bits of ft_state.steps: three per family (IPv4 in bits 0-2,
 * IPv6 in 4-6), then the two global ones. */
enum {
	STEP_RULE_MARK = 1,
	STEP_RULE_SUPPRESS = 2,
	STEP_UNREACHABLE = 4,
	STEP_NFT = 1 << 8,
	STEP_SYSCTL = 1 << 9,
};

#define SRC_VALID_MARK "/proc/sys/net/ipv4/conf/all/src_valid_mark"
#define KILL_SWITCH_METRIC UINT32_MAX	/* below anything else in the table */

struct ft_state {
	uint32_t table;
	unsigned steps;
	int old_src_valid_mark;		/* STEP_SYSCTL: the value to put back */
	bool kill_switch;
};

static unsigned family_shift(int family)
{
	return family == AF_INET ? 0 : 4;
}

bool fulltunnel_family(const struct config *cfg, int family)
{
	if (cfg->table_mode != TABLE_AUTO)
		return false;
	for (size_t i = 0; i < cfg->n_peers; i++)
		for (size_t j = 0; j < cfg->peers[i].n_allowed_ips; j++)
			if (cfg->peers[i].allowed_ips[j].cidr == 0 &&
			    cfg->peers[i].allowed_ips[j].family == family)
				return true;
	return false;
}

static bool fulltunnel_any(const struct config *cfg)
{
	return fulltunnel_family(cfg, AF_INET) || fulltunnel_family(cfg, AF_INET6);
}

uint32_t fulltunnel_fwmark(const struct config *cfg, uint32_t picked)
{
	if (cfg->fwmark || !fulltunnel_any(cfg))
		return cfg->fwmark;
	return picked ? picked : FULLTUNNEL_TABLE;
}

/* wg-quick's add_default: FwMark if set (then it is the table, used or
 * not: the operator chose it), else the first table from 51820 up that no
 * route and no rule uses. */
int fulltunnel_pick_table(struct nl *nl, const struct config *cfg, uint32_t *table, char *err,
			  size_t err_len)
{
	uint32_t t = FULLTUNNEL_TABLE;
	int used;

	*table = 0;
	if (!fulltunnel_any(cfg))
		return 0;
	if (cfg->fwmark) {
		*table = cfg->fwmark;
		return 0;
	}
	for (unsigned tries = 0; tries < FULLTUNNEL_TABLE_TRIES; tries++, t++) {
		used = nl_table_in_use(nl, t, err, err_len);
		if (used < 0)
			return used;
		if (!used) {
			*table = t;
			return 0;
		}
	}
	snprintf(err, err_len, "full tunnel: tables %u to %u are all in use", FULLTUNNEL_TABLE,
		 t - 1);
	return -EBUSY;
}

static bool name_is_safe(const char *ifname);

int fulltunnel_check(const char *ifname, const struct config *cfg, char *err, size_t err_len)
{
	if (fulltunnel_any(cfg) && !name_is_safe(ifname)) {
		snprintf(err, err_len, "a full tunnel needs an interface name of letters, digits, "
			 "'_', '.' and '-' only (it names an nftables table): '%s'", ifname);
		return -EINVAL;
	}
	if (cfg->kill_switch && !fulltunnel_any(cfg)) {
		snprintf(err, err_len, "KillSwitch = true needs a full tunnel: AllowedIPs with "
			 "0.0.0.0/0 or ::/0, and Table = auto");
		return -EINVAL;
	}
	return 0;
}

/* The name goes into a file name and into an nftables table name, whose
 * identifiers cannot hold the '=' and '+' that ifname_valid (wg-quick's
 * rule) lets through: a stricter rule, not a second copy of it. */
static bool name_is_safe(const char *ifname)
{
	size_t n = strlen(ifname);

	return n > 0 && n < 16 && strspn(ifname, "abcdefghijklmnopqrstuvwxyz"
					 "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") == n &&
	       ifname[0] != '.';
}

static void state_path(char *buf, size_t len, const char *ifname, const char *suffix)
{
	snprintf(buf, len, "%s/%s.%s", FULLTUNNEL_STATE_DIR, ifname, suffix);
}

/* --- the state file ------------------------------------------------------ */

/* Replaced whole (atomic_file.h): a crash leaves the old state or the
 * new one, never half of one. */
static int state_write(const char *ifname, const struct ft_state *st)
{
	struct atomic_file af;
	char path[128];
	int ret;

	mkdir(FULLTUNNEL_STATE_DIR, 0755);
	state_path(path, sizeof(path), ifname, "fulltunnel");
	ret = atomic_file_open(&af, path);
	if (ret < 0)
		return ret;
	fprintf(af.f, "table %u\nsteps %u\nsrc_valid_mark %d\nkill_switch %d\n", st->table,
		st->steps, st->old_src_valid_mark, st->kill_switch);
	return atomic_file_commit(&af, ATOMIC_REPLACE);
}

/* 1 read, 0 no file, -1 unreadable or malformed. */
static int state_read(const char *ifname, struct ft_state *st)
{
	char path[128];
	int ks = 0, n;
	FILE *f;

	state_path(path, sizeof(path), ifname, "fulltunnel");
	f = fopen(path, "re");
	if (!f)
		return errno == ENOENT ? 0 : -1;
	memset(st, 0, sizeof(*st));
	n = fscanf(f, "table %u\nsteps %u\nsrc_valid_mark %d\nkill_switch %d", &st->table,
		   &st->steps, &st->old_src_valid_mark, &ks);
	fclose(f);
	st->kill_switch = ks != 0;
	return n == 4 && st->table ? 1 : -1;
}

static void state_remove(const char *ifname)
{
	char path[128];

	state_path(path, sizeof(path), ifname, "fulltunnel");
	unlink(path);
}

/* --- nftables -------------------------------------------------------------- */

/* nft from $PATH (or /usr/sbin), argv[0] replaced by its full path. */
static int run_nft(char **argv, const char *input, bool quiet)
{
	char path[PATH_MAX];

	if (!runprog_find("nft", path))
		snprintf(path, sizeof(path), "/usr/sbin/nft");
	argv[0] = path;
	return runprog(argv, input, quiet) == 0 ? 0 : -EIO;
}

/* The rules of wg-quick's add_default, in one table of our own: drop
 * packets for the tunnel's addresses that come from elsewhere and are not
 * from a local source, and carry the fwmark over conntrack so replies to
 * the tunnel's UDP pass rp_filter. Every text here is a number, an address
 * from inet_ntop, or a name checked by name_is_safe. */
static void nft_write_rules(FILE *f, const char *ifname, const struct config *cfg, uint32_t mark)
{
	char a[INET6_ADDRSTRLEN];

	fprintf(f, "table inet vpnd-%s {\n", ifname);
	fprintf(f, "\tchain preraw {\n\t\ttype filter hook prerouting priority -300;\n");
	for (size_t i = 0; i < cfg->n_addresses; i++) {
		const struct ip_prefix *p = &cfg->addresses[i];

		if (!fulltunnel_family(cfg, p->family) || !inet_ntop(p->family, p->addr, a, sizeof(a)))
			continue;
		fprintf(f, "\t\tiifname != \"%s\" %s daddr %s fib saddr type != local drop\n", ifname,
			p->family == AF_INET ? "ip" : "ip6", a);
	}
	fprintf(f, "\t}\n\tchain premangle {\n\t\ttype filter hook prerouting priority -150;\n"
		"\t\tmeta l4proto udp meta mark set ct mark\n\t}\n");
	fprintf(f, "\tchain postmangle {\n\t\ttype filter hook postrouting priority -150;\n"
		"\t\tmeta l4proto udp meta mark %u ct mark set meta mark\n\t}\n}\n", mark);
}

static int nft_load(const char *ifname, const struct config *cfg, uint32_t mark, char *err,
		    size_t err_len)
{
	struct atomic_file af;
	char path[128];
	char *argv[] = { "nft", "-f", path, NULL };
	int ret;

	/* A file of ours (atomic_file: O_EXCL|O_NOFOLLOW, then rename), never
	 * one a link planted at that name points to. */
	state_path(path, sizeof(path), ifname, "nft");
	ret = atomic_file_open(&af, path);
	if (ret < 0) {
		snprintf(err, err_len, "%s: %s", path, strerror(-ret));
		return -EIO;
	}
	nft_write_rules(af.f, ifname, cfg, mark);
	ret = atomic_file_commit(&af, ATOMIC_REPLACE) == 0 ? run_nft(argv, NULL, false) : -EIO;
	if (ret < 0)
		snprintf(err, err_len, "nft -f %s: cannot load table inet vpnd-%s", path, ifname);
	unlink(path);
	return ret;
}

/* Gone afterwards, for certain: one nft transaction that adds the table
 * (nothing if it is there) and deletes it, so that exit 0 means it is gone
 * whether or not it was there (its load failed, somebody removed it), and
 * anything else (nft missing, refused, killed) means it may still be: a
 * failure to report, and the state file stays so that the next down tries
 * again. The name passed name_is_safe. */
static bool nft_delete(const char *ifname)
{
	char script[96];
	char *argv[] = { "nft", "-f", "-", NULL };

	snprintf(script, sizeof(script), "add table inet vpnd-%s\ndelete table inet vpnd-%s\n",
		 ifname, ifname);
	return run_nft(argv, script, true) == 0;
}

/* --- src_valid_mark -------------------------------------------------------- */

static int sysctl_read(void)
{
	FILE *f = fopen(SRC_VALID_MARK, "re");
	int v = -1;

	if (f) {
		if (fscanf(f, "%d", &v) != 1)
			v = -1;
		fclose(f);
	}
	return v;
}

static int sysctl_write(int v)
{
	FILE *f = fopen(SRC_VALID_MARK, "we");
	int ret;

	if (!f)
		return -errno;
	fprintf(f, "%d\n", v);
	ret = fclose(f) == 0 ? 0 : -errno;
	return ret;
}

/* Another interface's IPv4 full tunnel, up now, needs src_valid_mark = 1
 * too (its up found it set, by us, and recorded nothing to restore): the
 * duty to put the old value back passes to it instead of being done now.
 * True when some other state file took it. */
static bool sysctl_pass_on(const char *ifname, int old)
{
	char other[IFNAME_MAX_LEN + 1];
	bool passed = false;
	struct dirent *e;
	struct ft_state st;
	DIR *d = opendir(FULLTUNNEL_STATE_DIR);
	size_t n;

	while (d && !passed && (e = readdir(d))) {
		n = strlen(e->d_name);
		if (n <= strlen(".fulltunnel") || n - strlen(".fulltunnel") > IFNAME_MAX_LEN ||
		    strcmp(e->d_name + n - strlen(".fulltunnel"), ".fulltunnel"))
			continue;
		snprintf(other, sizeof(other), "%.*s", (int)(n - strlen(".fulltunnel")), e->d_name);
		if (!strcmp(other, ifname) || !name_is_safe(other) || state_read(other, &st) != 1 ||
		    !(st.steps & (STEP_RULE_MARK << family_shift(AF_INET))))
			continue;
		st.steps |= STEP_SYSCTL;
		st.old_src_valid_mark = old;
		passed = state_write(other, &st) == 0;
		if (passed)
			log_info("%s: src_valid_mark stays 1 while %s's full tunnel needs it",
				 ifname, other);
	}
	if (d)
		closedir(d);
	return passed;
}

/* At undo: the old value back, or the duty to another full tunnel. */
static bool sysctl_hand_back(const char *ifname, int old)
{
	return sysctl_pass_on(ifname, old) || sysctl_write(old) == 0;
}

/* --- up ---------------------------------------------------------------- */

/* Records step, takes it, and forgets it again if the kernel said that
 * what it would add is already there (not ours to remove later). */
struct ft_run {
	struct nl *nl;
	const char *ifname;
	struct ft_state st;
};

static int record(struct ft_run *r, unsigned step, bool on)
{
	if (on)
		r->st.steps |= step;
	else
		r->st.steps &= ~step;
	return state_write(r->ifname, &r->st);
}

static int rule_step(struct ft_run *r, unsigned step, const struct nl_rule *rule, char *err,
		     size_t err_len)
{
	int ret = record(r, step, true);

	if (ret == 0)
		ret = nl_rule_add(r->nl, rule, err, err_len);
	if (ret == -EEXIST)
		record(r, step, false);
	return ret;
}

static int family_up(struct ft_run *r, unsigned ifindex, int family, char *err, size_t err_len)
{
	static const uint8_t any[16];
	unsigned sh = family_shift(family);
	struct nl_rule mark = { family, r->st.table, r->st.table, true, -1 };
	struct nl_rule suppress = { family, 254 /* main */, 0, false, 0 };
	int ret;

	/* Added in this order, the kernel puts "suppress" before "not fwmark"
	 * (each new rule goes just above the last), as wg-quick's do. */
	ret = rule_step(r, STEP_RULE_MARK << sh, &mark, err, err_len);
	if (ret == 0)
		ret = rule_step(r, STEP_RULE_SUPPRESS << sh, &suppress, err, err_len);
	if (ret == 0)	/* goes with the interface: not recorded */
		ret = nl_route_add_table(r->nl, ifindex, family, any, 0, r->st.table, err,
					 err_len);
	if (ret == 0 && r->st.kill_switch) {
		ret = record(r, STEP_UNREACHABLE << sh, true);
		if (ret == 0)
			ret = nl_route_unreachable(r->nl, true, family, r->st.table,
						   KILL_SWITCH_METRIC, err, err_len);
		if (ret == -EEXIST)
			record(r, STEP_UNREACHABLE << sh, false);
	}
	return ret;
}

static int sysctl_up(struct ft_run *r, char *err, size_t err_len)
{
	int old = sysctl_read(), ret;

	if (old == 1)
		return 0;
	r->st.old_src_valid_mark = old < 0 ? 0 : old;
	ret = record(r, STEP_SYSCTL, true);
	if (ret == 0)
		ret = sysctl_write(1);
	if (ret < 0)
		snprintf(err, err_len, "set net.ipv4.conf.all.src_valid_mark=1: %s", strerror(-ret));
	return ret;
}

static int up_locked(struct nl *nl, const char *ifname, unsigned ifindex,
		     const struct config *cfg, uint32_t table, char *err, size_t err_len)
{
	struct ft_run r = { .nl = nl, .ifname = ifname };
	int ret;

	if (!fulltunnel_any(cfg))
		return 0;
	if (!name_is_safe(ifname)) {
		snprintf(err, err_len, "full tunnel: interface name not usable: '%s'", ifname);
		return -EINVAL;
	}
	r.st.table = fulltunnel_fwmark(cfg, table);
	r.st.kill_switch = cfg->kill_switch;
	ret = state_write(ifname, &r.st);
	if (ret < 0) {
		snprintf(err, err_len, "%s/%s.fulltunnel: %s", FULLTUNNEL_STATE_DIR, ifname,
			 strerror(-ret));
		return ret;
	}
	if (fulltunnel_family(cfg, AF_INET)) {
		ret = family_up(&r, ifindex, AF_INET, err, err_len);
		if (ret == 0)
			ret = sysctl_up(&r, err, err_len);
	}
	if (ret == 0 && fulltunnel_family(cfg, AF_INET6))
		ret = family_up(&r, ifindex, AF_INET6, err, err_len);
	if (ret == 0)
		ret = record(&r, STEP_NFT, true);
	if (ret == 0)
		ret = nft_load(ifname, cfg, r.st.table, err, err_len);
	if (ret == 0)
		log_info("%s: full tunnel: fwmark and table %u%s", ifname, r.st.table,
			 cfg->kill_switch ? ", kill switch on" : "");
	return ret;
}

/* --- undo -------------------------------------------------------------- */

/* Already gone is as good as removed. */
static bool gone(int ret)
{
	return ret == 0 || ret == -ENOENT || ret == -ESRCH;
}

static bool family_down(struct nl *nl, const struct ft_state *st, int family, char *err,
			size_t err_len)
{
	unsigned sh = family_shift(family);
	struct nl_rule mark = { family, st->table, st->table, true, -1 };
	struct nl_rule suppress = { family, 254, 0, false, 0 };
	bool ok = true;

	if (st->steps & (STEP_UNREACHABLE << sh))
		ok &= gone(nl_route_unreachable(nl, false, family, st->table, KILL_SWITCH_METRIC,
						err, err_len));
	if (st->steps & (STEP_RULE_SUPPRESS << sh))
		ok &= gone(nl_rule_del(nl, &suppress, err, err_len));
	if (st->steps & (STEP_RULE_MARK << sh))
		ok &= gone(nl_rule_del(nl, &mark, err, err_len));
	return ok;
}

static enum fulltunnel_undo undo_locked(const char *ifname, bool keep_kill_switch, char *err,
					size_t err_len)
{
	struct ft_state st;
	struct nl *nl;
	bool ok = true;
	int r;

	if (!name_is_safe(ifname))
		return FULLTUNNEL_NOTHING;
	r = state_read(ifname, &st);
	if (r == 0)
		return FULLTUNNEL_NOTHING;
	if (r < 0) {
		snprintf(err, err_len, "%s/%s.fulltunnel: unreadable state", FULLTUNNEL_STATE_DIR,
			 ifname);
		return FULLTUNNEL_FAILED;
	}
	if (keep_kill_switch && st.kill_switch)
		return FULLTUNNEL_KEPT;
	nl = nl_open(err, err_len);
	if (!nl)
		return FULLTUNNEL_FAILED;
	if ((st.steps & STEP_NFT) && !nft_delete(ifname)) {
		snprintf(err, err_len, "nft delete table inet vpnd-%s failed: the table may be "
			 "still there", ifname);
		ok = false;
	}
	if (st.steps & STEP_SYSCTL)
		ok &= sysctl_hand_back(ifname, st.old_src_valid_mark);
	ok &= family_down(nl, &st, AF_INET, err, err_len);
	ok &= family_down(nl, &st, AF_INET6, err, err_len);
	nl_close(nl);
	if (!ok)
		return FULLTUNNEL_FAILED;
	state_remove(ifname);
	return FULLTUNNEL_UNDONE;
}

/* --- one at a time --------------------------------------------------------- */

/* Ups and undos of all interfaces take turns (an flock on the state
 * directory itself, so no lock file stays behind): an undo that passes the
 * src_valid_mark duty into another interface's state file must not race
 * that interface's own up or undo rewriting or removing it. */
static int lock_state_dir(void)
{
	mkdir(FULLTUNNEL_STATE_DIR, 0755);
	return lock_config_file(FULLTUNNEL_STATE_DIR);
}

int fulltunnel_up(struct nl *nl, const char *ifname, unsigned ifindex, const struct config *cfg,
		  uint32_t table, char *err, size_t err_len)
{
	int lock = lock_state_dir(), ret;

	ret = up_locked(nl, ifname, ifindex, cfg, table, err, err_len);
	if (lock >= 0)
		close(lock);
	return ret;
}

enum fulltunnel_undo fulltunnel_undo(const char *ifname, bool keep_kill_switch, char *err,
				     size_t err_len)
{
	int lock = lock_state_dir();
	enum fulltunnel_undo r;

	r = undo_locked(ifname, keep_kill_switch, err, err_len);
	if (lock >= 0)
		close(lock);
	return r;
}
