/*
 * The package's /etc/rtpproxy/rtpproxy.conf (debian/rtpproxy.conf) loads, and is the
 * production shape the docs describe: hugepages in memory (no --no-huge), a PCI port, the API
 * on loopback, every other key at its default or a safe value.
 */
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "config.h"

int main(int argc, char **argv)
{
	static struct config cfg;
	char err[1024] = "";
	const char *path = argc > 1 ? argv[1] : "debian/rtpproxy.conf";

	int rc = config_load(path, &cfg, err, sizeof(err));
	if (rc != 0)
		fprintf(stderr, "%s\n", err);
	CHECK(rc == 0);
	CHECK(strstr(cfg.eal_args, "--in-memory") != NULL);
	CHECK(strstr(cfg.eal_args, "--no-huge") == NULL);
	CHECK(strstr(cfg.eal_args, "--no-pci") == NULL);
	CHECK_EQ_U(cfg.n_ports, 1);
	CHECK(strcmp(cfg.ports[0].device, "0000:03:00.0") == 0);
	CHECK(strcmp(cfg.grpc_listen, "127.0.0.1:50051") == 0);
	CHECK(strcmp(cfg.http_listen, "127.0.0.1:9464") == 0);
	CHECK_EQ_U(cfg.workers, 1);
	CHECK_EQ_U(cfg.idle_sleep_us, 0);
	CHECK(cfg.tokens_file[0] == '\0');
	return check_summary("config_deb");
}
