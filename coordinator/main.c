/*
 * main.c - baton-coordinator: parses flags, installs signal handlers and
 * runs the daemon. The only mutable globals of the coordinator live here:
 * the signal flags.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "admin_cli.h"
#include "config.h"
#include "daemon.h"
#include "daemon_group.h"
#include "log.h"

static daemon_signals sigs = {0, 0, -1};

static void on_signal(int signo)
{
	if (signo == SIGHUP)
		sigs.reopen_log = 1;
	else
		sigs.stop = 1;
	uint64_t one = 1;
	ssize_t n = write(sigs.wake_fd, &one, sizeof one);
	(void)n;
}

static void install_signals(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

int main(int argc, char **argv)
{
	config cfg;
	char err[512] = "";
	int status = DAEMON_EXIT_OK;
	if (argc >= 2 && strcmp(argv[1], "member") == 0)
		return admin_cli_main(argc, argv); /* a membership request to a group, then exit */
	config_init(&cfg);
	if (config_parse(&cfg, argc, argv, err, sizeof err) != BATON_OK ||
	    (!cfg.show_help && !cfg.show_version && config_validate(&cfg, err, sizeof err) != BATON_OK)) {
		fprintf(stderr, "baton-coordinator: %s\nTry 'baton-coordinator --help'.\n", err);
		status = DAEMON_EXIT_USAGE;
		goto out;
	}
	if (cfg.show_help) {
		config_usage(stdout, "baton-coordinator");
		goto out;
	}
	if (cfg.show_version) {
		printf("baton-coordinator %s (protocol v1)\n", BATON_VERSION);
		goto out;
	}
	if (!log_open(cfg.log_file, cfg.log_format == CONFIG_LOG_JSON, cfg.log_level)) {
		fprintf(stderr, "baton-coordinator: --log-file: cannot open '%s'\n", cfg.log_file);
		status = DAEMON_EXIT_USAGE;
		goto out;
	}
	sigs.wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (sigs.wake_fd < 0) {
		perror("baton-coordinator: eventfd");
		status = DAEMON_EXIT_SOFTWARE;
		goto out;
	}
	install_signals();
	status = cfg.member_id != 0 ? daemon_group_run(&cfg, &sigs) : daemon_run(&cfg, &sigs);
	close(sigs.wake_fd);
out:
	log_close();
	config_deinit(&cfg);
	return status;
}
