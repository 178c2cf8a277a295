/* Unit tests for the link watch's decision (tun/netlink.c nl_link_event):
 * link messages as the kernel sends them, built with libmnl, and where the
 * watch then says the link is. A deletion is RTM_DELLINK without
 * IFLA_NEW_NETNSID; a move (__dev_change_net_namespace) carries it and
 * IFLA_NEW_IFINDEX; the watch follows the link into a namespace that has
 * an id here (and its admin state and MTU there), recognises it by name
 * when it comes back, and never leaves LINK_GONE. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <libmnl/libmnl.h>
#include <linux/rtnetlink.h>
#include <net/if.h>

#include "tun/netlink.h"

#define NO_MOVE	(-100)	/* msg(): no IFLA_NEW_NETNSID */

struct msgbuf {
	char b[1024] __attribute__((aligned(NLMSG_ALIGNTO)));
};

/* One RTM_NEWLINK/RTM_DELLINK for ifindex, named name (NULL: no
 * IFLA_IFNAME), moved into new_nsid (NO_MOVE: not a move) at new_ifindex. */
static const struct nlmsghdr *msg(struct msgbuf *m, uint16_t type, unsigned ifindex,
				  const char *name, int new_nsid, unsigned new_ifindex)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(m->b);
	struct ifinfomsg *ifi;

	nlh->nlmsg_type = type;
	ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
	ifi->ifi_index = (int)ifindex;
	if (name)
		mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
	if (new_nsid != NO_MOVE) {
		mnl_attr_put_u32(nlh, IFLA_NEW_NETNSID, (uint32_t)new_nsid);
		mnl_attr_put_u32(nlh, IFLA_NEW_IFINDEX, new_ifindex);
	}
	return nlh;
}

static struct nl_link here(unsigned ifindex, const char *name)
{
	struct nl_link l = { .ifindex = ifindex, .nsid = NL_NSID_HERE, .where = LINK_PRESENT };

	snprintf(l.ifname, sizeof(l.ifname), "%s", name);
	return l;
}

/* ip link del: gone, and nothing brings it back (a new link that takes
 * the name is not ours). */
static void test_deletion(void **state)
{
	struct nl_link l = here(7, "wg0");
	struct msgbuf m;

	(void)state;
	nl_link_event(&l, msg(&m, RTM_DELLINK, 7, "wg0", NO_MOVE, 0), NL_NSID_HERE);
	assert_int_equal(l.where, LINK_GONE);
	nl_link_event(&l, msg(&m, RTM_NEWLINK, 9, "wg0", NO_MOVE, 0), NL_NSID_HERE);
	assert_int_equal(l.where, LINK_GONE);
}

/* Other links, and messages of other namespaces with our index, change
 * nothing. */
static void test_others_ignored(void **state)
{
	struct nl_link l = here(7, "wg0");
	struct msgbuf m;

	(void)state;
	nl_link_event(&l, msg(&m, RTM_DELLINK, 8, "eth0", NO_MOVE, 0), NL_NSID_HERE);
	nl_link_event(&l, msg(&m, RTM_DELLINK, 7, "wg0", NO_MOVE, 0), 3);
	nl_link_event(&l, msg(&m, RTM_NEWADDR, 7, NULL, NO_MOVE, 0), NL_NSID_HERE);
	assert_int_equal(l.where, LINK_PRESENT);
	assert_int_equal(l.ifindex, 7);
}

/* ip link set wg0 netns ctr: moved, followed into nsid 4 at its new index;
 * renamed there, deleted there. */
static void test_move_then_deleted_there(void **state)
{
	struct nl_link l = here(7, "wg0");
	struct msgbuf m;

	(void)state;
	nl_link_event(&l, msg(&m, RTM_DELLINK, 7, "wg0", 4, 12), NL_NSID_HERE);
	assert_int_equal(l.where, LINK_MOVED);
	assert_int_equal(l.nsid, 4);
	assert_int_equal(l.ifindex, 12);
	/* The old index here means nothing now. */
	nl_link_event(&l, msg(&m, RTM_DELLINK, 7, "x", NO_MOVE, 0), NL_NSID_HERE);
	assert_int_equal(l.where, LINK_MOVED);
	nl_link_event(&l, msg(&m, RTM_NEWLINK, 12, "eth0", NO_MOVE, 0), 4);
	assert_string_equal(l.ifname, "eth0");
	nl_link_event(&l, msg(&m, RTM_DELLINK, 12, "eth0", NO_MOVE, 0), 4);
	assert_int_equal(l.where, LINK_GONE);
}

/* Moved back (renamed there first): recognised here by the name it had
 * there, at the index it was given here. */
static void test_move_back_renamed(void **state)
{
	struct nl_link l = here(7, "wg0");
	struct msgbuf m;

	(void)state;
	nl_link_event(&l, msg(&m, RTM_DELLINK, 7, "wg0", 4, 7), NL_NSID_HERE);
	nl_link_event(&l, msg(&m, RTM_NEWLINK, 7, "wg0x", NO_MOVE, 0), 4);
	/* Leaving ns 4: its new nsid is in ns 4's ids, unknown here. */
	nl_link_event(&l, msg(&m, RTM_DELLINK, 7, "wg0x", 0, 15), 4);
	assert_int_equal(l.where, LINK_MOVED);
	assert_int_equal(l.nsid, NL_NSID_UNKNOWN);
	nl_link_event(&l, msg(&m, RTM_NEWLINK, 15, "wg0", NO_MOVE, 0), NL_NSID_HERE);
	assert_int_equal(l.where, LINK_MOVED);	/* another link's name */
	nl_link_event(&l, msg(&m, RTM_NEWLINK, 15, "wg0x", NO_MOVE, 0), NL_NSID_HERE);
	assert_int_equal(l.where, LINK_PRESENT);
	assert_int_equal(l.nsid, NL_NSID_HERE);
	assert_int_equal(l.ifindex, 15);
	/* Then a rename here is followed, and a deletion here is seen. */
	nl_link_event(&l, msg(&m, RTM_NEWLINK, 15, "wg0", NO_MOVE, 0), NL_NSID_HERE);
	assert_string_equal(l.ifname, "wg0");
	nl_link_event(&l, msg(&m, RTM_DELLINK, 15, "wg0", NO_MOVE, 0), NL_NSID_HERE);
	assert_int_equal(l.where, LINK_GONE);
}

/* vpnd up --netns when the namespace's id is unknown: nothing over there
 * is taken for ours; it is recognised by name when it comes here. */
static void test_away_unknown(void **state)
{
	struct nl_link l = here(3, "wg0");
	struct msgbuf m;

	(void)state;
	l.where = LINK_MOVED;
	l.nsid = NL_NSID_UNKNOWN;
	nl_link_event(&l, msg(&m, RTM_DELLINK, 3, "wg0", NO_MOVE, 0), 5);
	assert_int_equal(l.where, LINK_MOVED);
	nl_link_event(&l, msg(&m, RTM_NEWLINK, 6, "wg0", NO_MOVE, 0), NL_NSID_HERE);
	assert_int_equal(l.where, LINK_PRESENT);
	assert_int_equal(l.ifindex, 6);
}

/* Admin state and MTU from RTM_NEWLINK, here and where it was followed:
 * the move's close (down) here, then up with a new MTU over there. */
static void test_state_followed(void **state)
{
	struct nl_link l = here(7, "wg0");
	struct msgbuf m;
	struct nlmsghdr *nlh;

	(void)state;
	nl_link_event(&l, msg(&m, RTM_NEWLINK, 7, "wg0", NO_MOVE, 0), NL_NSID_HERE);
	assert_true(l.seen);
	assert_false(l.up);
	nl_link_event(&l, msg(&m, RTM_DELLINK, 7, "wg0", 4, 9), NL_NSID_HERE);
	nlh = (struct nlmsghdr *)msg(&m, RTM_NEWLINK, 9, "wg0", NO_MOVE, 0);
	((struct ifinfomsg *)mnl_nlmsg_get_payload(nlh))->ifi_flags = IFF_UP;
	mnl_attr_put_u32(nlh, IFLA_MTU, 1380);
	nl_link_event(&l, nlh, 4);
	assert_int_equal(l.where, LINK_MOVED);
	assert_true(l.up);
	assert_int_equal(l.mtu, 1380);
}

/* A message shorter than its header is ignored. */
static void test_short_message(void **state)
{
	struct nl_link l = here(7, "wg0");
	struct msgbuf m;
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(m.b);

	(void)state;
	nlh->nlmsg_type = RTM_DELLINK;
	nl_link_event(&l, nlh, NL_NSID_HERE);
	assert_int_equal(l.where, LINK_PRESENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_deletion),
		cmocka_unit_test(test_others_ignored),
		cmocka_unit_test(test_move_then_deleted_there),
		cmocka_unit_test(test_move_back_renamed),
		cmocka_unit_test(test_away_unknown),
		cmocka_unit_test(test_state_followed),
		cmocka_unit_test(test_short_message),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
