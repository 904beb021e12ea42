/* The `restpg` binary: dispatches to a subcommand, prints its error and exits with its status.
 * This is the only place in restpg that exits. */
#include <stdio.h>

#include "core/h5.h"
#include "launch/commands.h"

int main(int argc, char **argv) {
    Error e;
    error_clear(&e);
    h5_init();
    int rc = command_dispatch(NULL, COMMANDS, argc, argv, &e);
    if (rc == RP_HELP) return 0;
    if (rc != RP_OK) {
        fprintf(stderr, "restpg: error: %s\n", e.msg[0] ? e.msg : "failed");
        return rc;
    }
    return 0;
}
