#include "vpnd/common/p2p.h"

#include <stddef.h>
#include <strings.h>

bool p2p_mode_parse(const char *s, enum p2p_mode *out)
{
	static const enum p2p_mode all[] = { P2P_KERNEL, P2P_DIRECT,
					       P2P_REFUSE };

	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		if (!strcasecmp(s, p2p_mode_name(all[i]))) {
			*out = all[i];
			return true;
		}
	}
	return false;
}

const char *p2p_mode_name(enum p2p_mode p)
{
	switch (p) {
	case P2P_KERNEL: return "kernel";
	case P2P_DIRECT: return "direct";
	case P2P_REFUSE: return "refuse";
	}
	return "?";
}
