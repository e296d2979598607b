/*
 * main.c - the baton CLI's entry: picks the subcommand, installs the signal
 * handlers (whose flags are the CLI's only mutable globals) and exits with
 * the subcommand's code.
 */
#include "cli.h"

#include <string.h>

volatile sig_atomic_t cli_signal;
volatile sig_atomic_t cli_signal_user;

static void on_signal(int sig, siginfo_t *info, void *uctx)
{
	(void)uctx;
	cli_signal = sig;
	/* SI_USER: someone ran kill() on us alone; the terminal's signals reach
	 * the whole foreground process group (our command too). */
	cli_signal_user = info != NULL && info->si_code == SI_USER;
}

static void install_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = on_signal;
	sa.sa_flags = SA_SIGINFO | SA_RESTART;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

static const struct {
	const char *name;
	int (*main)(int argc, char **argv);
	const char *summary;
} commands[] = {
    {"run", cli_run_main, "run a command under a lock (once, mutex, shared or a semaphore)"},
    {"watch", cli_watch_main, "follow grants, handoffs and outcomes live"},
    {"status", cli_status_main, "show a table of the locks"},
    {"reset", cli_reset_main, "forget a remembered success of a once resource"},
};

static void usage(FILE *out)
{
	fprintf(out, "usage: baton [COMMON OPTIONS] COMMAND [OPTIONS] [ARGS]\n\n"
	             "Baton: distributed locks over MQTT.\n\ncommands:\n");
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
		fprintf(out, "  %-8s %s\n", commands[i].name, commands[i].summary);
	fprintf(out, "\nThe common options (--broker, --prefix, --node, -v, ...) may come before or after\n"
	             "COMMAND. 'baton COMMAND --help' shows a command's options.\n"
	             "example:\n  baton run --resource images/nginx -- docker pull nginx:1.25\n");
}

/* Moves the common options given before the command behind it, as git and
 * etcdctl allow ("baton --broker X status" is "baton status --broker X"), in
 * argv itself. Returns the index of the command (argc: none), or -1 after
 * printing why when a word before it is not a common option. */
static int hoist_globals(int argc, char **argv)
{
	int i = 1, cmd;

	while (i < argc && argv[i][0] == '-' && strcmp(argv[i], "--help") != 0 &&
	       strcmp(argv[i], "-h") != 0 && strcmp(argv[i], "--version") != 0) {
		int n = cli_common_arity(argv[i]);

		if (n < 0 || i + n >= argc) {
			fprintf(stderr, "baton: %s '%s' before the command\n",
			        n < 0 ? "unknown option" : "missing argument to", argv[i]);
			return -1;
		}
		i += 1 + n;
	}
	cmd = i;
	if (cmd > 1 && cmd < argc) { /* rotate argv[1..cmd] so that the command comes first */
		char *name = argv[cmd];

		memmove(&argv[2], &argv[1], (size_t)(cmd - 1) * sizeof *argv);
		argv[1] = name;
		cmd = 1;
	}
	return cmd;
}

int main(int argc, char **argv)
{
	int cmd = hoist_globals(argc, argv);

	if (cmd < 0)
		return CLI_EX_USAGE;
	if (cmd >= argc) {
		usage(stderr);
		return CLI_EX_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
		usage(stdout);
		return 0;
	}
	if (strcmp(argv[1], "--version") == 0) {
		printf("baton %s\n", baton_version());
		return 0;
	}
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
		if (strcmp(argv[1], commands[i].name) == 0) {
			install_signals();
			return commands[i].main(argc - 1, argv + 1);
		}
	fprintf(stderr, "baton: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return CLI_EX_USAGE;
}
