/* vm_seccomp.c: a classic-BPF seccomp allowlist for the monitor's run phase. */
#include "vm_seccomp.h"

#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/kvm.h>
#include <linux/seccomp.h>
#include <linux/vfio.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <termios.h>
#include <unistd.h>

#include "vfio.h"

/* What the vCPU, device, console, signal and API threads do once the VM runs. */
static const unsigned allowed[] = {
	SYS_read,
	SYS_write,
	SYS_readv,
	SYS_writev,
	SYS_pread64,
	SYS_pwrite64,
	SYS_preadv,
	SYS_pwritev,
	SYS_fsync,
	SYS_fdatasync,
	SYS_lseek,
	SYS_close,
	SYS_fstat,
	SYS_newfstatat,
	SYS_poll,
	SYS_ppoll,
	SYS_epoll_wait,
	SYS_epoll_pwait,
	SYS_epoll_ctl,
	SYS_futex,
	SYS_nanosleep,
	SYS_clock_nanosleep,
	SYS_clock_gettime,
	SYS_gettimeofday,
	SYS_mmap,
	SYS_munmap,
	SYS_mprotect,
	SYS_madvise,
	SYS_brk,
	SYS_mremap,
	SYS_rt_sigreturn,
	SYS_rt_sigprocmask,
	SYS_rt_sigtimedwait,
	SYS_rt_sigaction,
	SYS_sigaltstack,
	SYS_tgkill,
	SYS_getpid,
	SYS_gettid,
	SYS_exit,
	SYS_exit_group,
	SYS_clone,
	SYS_clone3,
	SYS_set_robust_list,
	SYS_rseq,
	SYS_sched_yield,
	SYS_sched_getaffinity,
	SYS_getrandom,
	SYS_restart_syscall,
	SYS_fallocate,
	SYS_sendmsg,
	SYS_recvmsg,
	SYS_eventfd2,
	/* virtio-blk's Async engine: submit and reap (its ring is set up before the filter). */
	SYS_io_uring_enter,
	/* The API socket (libmicrohttpd): connections accepted, read, answered, shut down. */
	SYS_accept4,
	SYS_recvfrom,
	SYS_sendto,
	SYS_shutdown,
	/* virtio-vsock: a guest's connection to <uds_path>_<port> is a new Unix socket. */
	SYS_socket,
	SYS_connect,
};

/* ioctls: running vCPUs, dumping registers, interrupts, and restoring the terminal. */
static const unsigned long allowed_ioctls[] = {
	KVM_RUN,
	KVM_GET_REGS,
	KVM_GET_SREGS,
	KVM_IRQ_LINE,
	KVM_IRQ_LINE_STATUS,
	TCGETS,
	TCSETS,
	TCSETSW,
	TCSETSF,
	TIOCGWINSZ,
	/* PCI passthrough: BARs moved by the guest (their memory slots), MSI-X vectors it
	 * unmasks; the VFIO layer's own run-phase ioctls are vfio_run_ioctls (vfio.h). */
	KVM_SET_USER_MEMORY_REGION,
	KVM_SET_GSI_ROUTING,
	KVM_IRQFD,
};

#define ARCH_NR	   AUDIT_ARCH_X86_64
#define NR_ALLOWED (sizeof(allowed) / sizeof(allowed[0]))
#define NR_OWN	   (sizeof(allowed_ioctls) / sizeof(allowed_ioctls[0]))
#define NR_IOCTLS  (NR_OWN + VFIO_RUN_IOCTLS)

static unsigned long ioctl_nr(unsigned i)
{
	return i < NR_OWN ? allowed_ioctls[i] : vfio_run_ioctls[i - NR_OWN];
}

int vm_seccomp_install(struct err *e)
{
	/* arch check (3) + syscalls + ioctl (1 + 1 + n) + kill + allow */
	struct sock_filter f[3 + NR_ALLOWED + 3 + NR_IOCTLS + 3];
	unsigned n = 0;

#define STMT(code, k) (f[n++] = (struct sock_filter){ (uint16_t)(code), 0, 0, (uint32_t)(k) })
#define JUMP(code, k, t, fl)                                                                       \
	(f[n++] = (struct sock_filter){ (uint16_t)(code), (uint8_t)(t), (uint8_t)(fl),             \
					(uint32_t)(k) })
	STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch));
	JUMP(BPF_JMP | BPF_JEQ | BPF_K, ARCH_NR, 1, 0);
	STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS);
	STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr));
	/* Each allowed number jumps to the final ALLOW, counted from the instruction after it. */
	for (unsigned i = 0; i < NR_ALLOWED; i++) {
		unsigned to_allow = (unsigned)(NR_ALLOWED - 1 - i) + NR_IOCTLS + 4;

		JUMP(BPF_JMP | BPF_JEQ | BPF_K, allowed[i], (uint8_t)to_allow, 0);
	}
	JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_ioctl, 1, 0);
	STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS);
	/* ioctl request numbers are 32 bits: the low word of args[1] is enough. */
	STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[1]));
	for (unsigned i = 0; i < NR_IOCTLS; i++) {
		unsigned to_allow = (unsigned)(NR_IOCTLS - 1 - i) + 1;

		JUMP(BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)ioctl_nr(i), (uint8_t)to_allow, 0);
	}
	STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS);
	STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
#undef STMT
#undef JUMP
	struct sock_fprog prog = { .len = (unsigned short)n, .filter = f };

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return err_set(e, errno, "PR_SET_NO_NEW_PRIVS: %s", strerror(errno));
	if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC, &prog) != 0)
		return err_set(e, errno, "seccomp: %s", strerror(errno));
	return 0;
}
