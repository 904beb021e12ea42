/* The `restpg data` subcommands (one function per subcommand, one file each in launch/). */
#ifndef RESTPG_LAUNCH_CMD_DATA_H
#define RESTPG_LAUNCH_CMD_DATA_H

#include "core/error.h"

int cmd_data_info(int argc, char **argv, Error *e);
int cmd_data_import(int argc, char **argv, Error *e);
int cmd_data_synth(int argc, char **argv, Error *e);
int cmd_data_debian(int argc, char **argv, Error *e);
int cmd_data_prompt(int argc, char **argv, Error *e);

#endif
