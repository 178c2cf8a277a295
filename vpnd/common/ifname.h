/* Interface names, checked wherever one enters vpnd (config file name, CLI
 * argument, UAPI socket name, hooks' %i): the name becomes a path
 * component, a netlink attribute and a word in a root shell command, so it
 * is held to wg-quick's rule ^[a-zA-Z0-9_=+.-]{1,15}$. A longer name is
 * refused, never cut: two names sharing 15 characters would otherwise be
 * the same interface. */
#ifndef VPND_COMMON_IFNAME_H
#define VPND_COMMON_IFNAME_H

#include <stdbool.h>
#include <stddef.h>

#define IFNAME_MAX_LEN 15	/* IFNAMSIZ - 1 */
/* A hook command after %i is replaced, its NUL included. */
#define HOOK_CMD_MAX 8192

/* true when name matches ^[a-zA-Z0-9_=+.-]{1,15}$ (name NULL: false). */
bool ifname_valid(const char *name);

/* A bounded, printable copy of untrusted text for an error message:
 * at most 32 characters, anything outside printable ASCII or a quote
 * shown as '?', "..." when cut. */
void ifname_quote(char *dst, size_t len, const char *name);

enum hook_expand_result {
	HOOK_EXPAND_OK,		/* dst holds the command */
	HOOK_EXPAND_BAD_NAME,	/* ifname is not valid: nothing to run */
	HOOK_EXPAND_TOO_LONG,	/* would not fit in len: refuse, never cut */
};
/* cmd with every %i replaced by ifname, into dst[len]. */
enum hook_expand_result hook_expand(char *dst, size_t len, const char *cmd, const char *ifname);
/* The room cmd needs, NUL included, with the longest valid name: a hook
 * for which this exceeds HOOK_CMD_MAX is refused when the config loads. */
size_t hook_expand_worst_len(const char *cmd);

#endif
