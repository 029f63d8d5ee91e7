/* cmd_server.c - server commands (INFO, CONFIG, COMMAND, TIME...). */
#include "cmd.h"

static const command commands[] = {{NULL, 0, 0, 0, NULL, 0, 0, 0}};

const cmd_family cmd_server_family = {commands, 0};
