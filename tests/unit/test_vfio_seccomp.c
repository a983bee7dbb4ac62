/*
 * test_vfio_seccomp.c: the VFIO back-ends' run phase under mvm-run's seccomp filter. Each case runs
 * in a child that installs the filter (vm_seccomp.h) and then calls the library's own code: the
 * kernel is the oracle (a call outside the list kills the child with SIGSYS). The descriptors are
 * /dev/null's, opened before the filter, so that every ioctl reaches the kernel and fails there
 * (ENOTTY) instead of touching a device.
 */
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../../libcore/vfio_priv.h"
#include "check.h"
#include "vm_seccomp.h"

/* Run fn in a child under the filter; its wait status (-1: no child). */
static int under_filter(void (*fn)(int fd1, int fd2))
{
	int fd1 = open("/dev/null", O_RDWR | O_CLOEXEC),
	    fd2 = open("/dev/null", O_RDWR | O_CLOEXEC);
	int status = -1;
	pid_t pid;

	fflush(stdout);
	pid = fd1 >= 0 && fd2 >= 0 ? fork() : -1;
	if (pid == 0) {
		struct err e = { 0 };

		if (vm_seccomp_install(&e))
			_exit(3);
		fn(fd1, fd2);
		_exit(0); /* no atexit handlers: LeakSanitizer's own threads are not in the list */
	}
	if (pid > 0)
		waitpid(pid, &status, 0);
	close(fd1);
	close(fd2);
	return status;
}

static bool exited_ok(int status, const char *what)
{
	if (WIFSIGNALED(status))
		printf("# %s: killed by signal %d%s\n", what, WTERMSIG(status),
		       WTERMSIG(status) == SIGSYS ? " (a call the filter does not allow)" : "");
	return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

/* A setup-only ioctl (creating an IOMMU address space) after the filter: must be refused. */
static void setup_ioctl(int fd1, int fd2)
{
	struct lab_iommu_ioas_alloc alloc = { .size = sizeof(alloc) };

	(void)fd2;
	ioctl(fd1, LAB_IOMMU_IOAS_ALLOC, &alloc);
}

TEST(filter_kills_a_setup_call)
{
	int status = under_filter(setup_ioctl);

	CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGSYS);
}

/*
 * iommufd: a guest moving a peer-to-peer BAR unmaps and maps it again (vfio_pt.c bar_p2p), and
 * the last device to leave destroys the address space at exit (the filter stays on till then).
 */
static void iommufd_run_phase(int fd1, int fd2)
{
	struct vfio_iommu io = { .ops = &vfio_iommufd_ops, .iommufd = fd1, .ioas_id = 1 };
	struct vfio_dev d = { .device_fd = fd2, .iommu = &io };
	static uint8_t page[4096] __attribute__((aligned(4096)));

	io.ops->map(&io, dma_iova(0x100000000ull), sizeof(page), page, NULL);
	io.ops->unmap(&io, dma_iova(0x100000000ull), sizeof(page), NULL);
	io.ops->detach(&io, &d); /* ndevs 0: the last one, IOMMU_DESTROY */
}

TEST(iommufd_p2p_and_teardown_allowed)
{
	CHECK(exited_ok(under_filter(iommufd_run_phase), "iommufd map, unmap, destroy"));
}

/* The container back-end: the same moves, and the group leaving its container at exit. */
static void container_run_phase(int fd1, int fd2)
{
	struct vfio_iommu io = { .ops = &vfio_container_ops, .container_fd = fd1, .ngroups = 1 };
	struct vfio_dev d = { .device_fd = -1, .group_fd = fd2, .iommu = &io };
	static uint8_t page[4096] __attribute__((aligned(4096)));

	io.group[0].fd = fd2;
	io.group[0].group = d.group;
	io.group[0].users = 1;
	io.ops->map(&io, dma_iova(0x100000000ull), sizeof(page), page, NULL);
	io.ops->unmap(&io, dma_iova(0x100000000ull), sizeof(page), NULL);
	io.ops->detach(&io, &d);
}

TEST(container_p2p_and_teardown_allowed)
{
	CHECK(exited_ok(under_filter(container_run_phase), "container map, unmap, detach"));
}

int main(void)
{
	RUN(filter_kills_a_setup_call);
	RUN(iommufd_p2p_and_teardown_allowed);
	RUN(container_p2p_and_teardown_allowed);
	return CHECK_MAIN_END();
}
