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
	fprintf(out, "usage: baton COMMAND [OPTIONS] [ARGS]\n\n"
	             "Baton: distributed locks over MQTT.\n\ncommands:\n");
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
		fprintf(out, "  %-8s %s\n", commands[i].name, commands[i].summary);
	fprintf(out, "\n'baton COMMAND --help' shows a command's options.\n"
	             "example:\n  baton run --resource images/nginx -- docker pull nginx:1.25\n");
}

int main(int argc, char **argv)
{
	if (argc < 2) {
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
