/* Interface name rules (see ifname.h) and %i expansion for hooks. */
#include "vpnd/common/ifname.h"

#include <stdio.h>
#include <string.h>

static bool ifname_char_ok(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_' || c == '=' || c == '+' || c == '.' || c == '-';
}

bool ifname_valid(const char *name)
{
	size_t n = 0;

	if (!name)
		return false;
	for (; name[n]; n++)
		if (n >= IFNAME_MAX_LEN || !ifname_char_ok(name[n]))
			return false;
	return n > 0;
}

void ifname_quote(char *dst, size_t len, const char *name)
{
	enum { SHOWN = 32 };
	size_t o = 0, i;

	if (!len)
		return;
	for (i = 0; name && name[i] && i < SHOWN && o + 1 < len; i++) {
		unsigned char c = (unsigned char)name[i];

		dst[o++] = c >= 0x20 && c < 0x7f && c != '\'' ? (char)c : '?';
	}
	dst[o] = '\0';
	if (name && name[i] && o + 4 < len)
		memcpy(dst + o, "...", 4);
}

/* Writes (or, dst NULL, only counts) cmd with %i -> ifname. */
static size_t expand(char *dst, size_t len, const char *cmd, const char *ifname)
{
	size_t o = 0, n = strlen(ifname);

	for (const char *s = cmd; *s; s++) {
		if (s[0] == '%' && s[1] == 'i') {
			if (dst && o + n < len)
				memcpy(dst + o, ifname, n);
			o += n;
			s++;
		} else {
			if (dst && o < len)
				dst[o] = *s;
			o++;
		}
	}
	return o + 1;
}

enum hook_expand_result hook_expand(char *dst, size_t len, const char *cmd, const char *ifname)
{
	if (len)
		dst[0] = '\0';
	if (!ifname_valid(ifname))
		return HOOK_EXPAND_BAD_NAME;
	if (expand(NULL, 0, cmd, ifname) > len)
		return HOOK_EXPAND_TOO_LONG;
	dst[expand(dst, len, cmd, ifname) - 1] = '\0';
	return HOOK_EXPAND_OK;
}

size_t hook_expand_worst_len(const char *cmd)
{
	static const char longest[IFNAME_MAX_LEN + 1] = "123456789012345";

	return expand(NULL, 0, cmd, longest);
}
