/*
 * admin_cli.h - `baton-coordinator member add ID HOST:PORT` and `member
 * remove ID`: asks a replicated group's serving leader for a membership
 * change over the broker (group_admin.h is the other side) and prints its
 * answer.
 */
#ifndef BATON_ADMIN_CLI_H
#define BATON_ADMIN_CLI_H

/* argv[1] is "member". Returns the exit status: 0 done (or so already), 1
 * refused, 64 usage, 69 no answer in time or the broker unreachable. */
int admin_cli_main(int argc, char **argv);

#endif
