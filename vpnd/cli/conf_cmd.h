/* vpnd strip FILE|NAME and vpnd showconf IFACE (as wg-quick strip and
 * wg showconf). */
#ifndef VPND_CLI_CONF_CMD_H
#define VPND_CLI_CONF_CMD_H

int strip_main(int argc, char **argv);
int showconf_main(int argc, char **argv);

#endif
