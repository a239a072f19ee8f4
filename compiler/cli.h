/* cli.h - the kiln subcommands (one file each: cmd_compile.c, cmd_opt.c, cmd_run.c). */
#ifndef KILN_CLI_H
#define KILN_CLI_H

int cmd_compile(int argc, char **argv);
int cmd_opt(int argc, char **argv);
int cmd_run(int argc, char **argv);

#endif
