/* A fresh struct device per test (cmocka setup/teardown), for the unit
 * tests that drive the data path or the UAPI on a real device without TUN
 * or socket; and the group setup they all need (libsodium). Included by
 * one test file each. */
#ifndef VPND_TESTS_DEVICE_FIXTURE_H
#define VPND_TESTS_DEVICE_FIXTURE_H

#include <stdlib.h>

#include "crypto/crypto.h"
#include "vpnd/datapath/device.h"

static int setup(void **state)
{
	struct device *dev = malloc(sizeof(*dev));

	if (!dev || device_init(dev, "test0") < 0) {
		free(dev);
		return -1;
	}
	*state = dev;
	return 0;
}

static int teardown(void **state)
{
	struct device *dev = *state;

	device_destroy(dev);
	free(dev);
	return 0;
}

static int group_setup(void **state)
{
	(void)state;
	return wg_crypto_init() ? 0 : -1;
}

#endif
