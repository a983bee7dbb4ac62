/*
 * vsockt.c: a static vsock test program for the Linux guest's initramfs (mkinitramfs).
 *   vsockt listen PORT          accept one connection, print what came, answer "pong"
 *   vsockt connect CID PORT MSG  connect, write MSG, print the answer
 * Prints "MVM-VSOCK ..." lines on the console for tests/lab and tests/cli to match.
 */
#include <linux/vm_sockets.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int fail(const char *what)
{
	printf("MVM-VSOCK %s failed: %m\n", what);
	return 1;
}

int main(int argc, char **argv)
{
	struct sockaddr_vm sa = { .svm_family = AF_VSOCK };
	char buf[128];
	ssize_t n;
	int s = socket(AF_VSOCK, SOCK_STREAM, 0), c;

	if (s < 0)
		return fail("socket");
	if (argc == 3 && strcmp(argv[1], "listen") == 0) {
		sa.svm_cid = VMADDR_CID_ANY;
		sa.svm_port = (unsigned)atoi(argv[2]);
		if (bind(s, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(s, 1) < 0)
			return fail("listen");
		printf("MVM-VSOCK listening %u\n", sa.svm_port);
		fflush(stdout);
		c = accept(s, NULL, NULL);
		if (c < 0)
			return fail("accept");
		n = read(c, buf, sizeof(buf) - 1);
		buf[n > 0 ? n : 0] = 0;
		printf("MVM-VSOCK got %s\n", buf);
		if (write(c, "pong", 4) != 4)
			return fail("write");
		close(c);
		return 0;
	}
	if (argc == 5 && strcmp(argv[1], "connect") == 0) {
		sa.svm_cid = (unsigned)atoi(argv[2]);
		sa.svm_port = (unsigned)atoi(argv[3]);
		if (connect(s, (struct sockaddr *)&sa, sizeof(sa)) < 0)
			return fail("connect");
		if (write(s, argv[4], strlen(argv[4])) != (ssize_t)strlen(argv[4]))
			return fail("write");
		n = read(s, buf, sizeof(buf) - 1);
		buf[n > 0 ? n : 0] = 0;
		printf("MVM-VSOCK reply %s\n", buf);
		return 0;
	}
	fprintf(stderr, "usage: vsockt listen PORT | vsockt connect CID PORT MSG\n");
	return 2;
}
