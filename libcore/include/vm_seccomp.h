/* vm_seccomp.h: the system calls a running microVM monitor may make, as a seccomp filter. */
#ifndef CORE_VM_SECCOMP_H
#define CORE_VM_SECCOMP_H

#include "err.h"

/*
 * Install the allowlist on every thread of the process (TSYNC). Call it after setup: opening
 * files, creating the VM and the devices are no longer possible afterwards; anything outside
 * the list kills the process.
 */
int vm_seccomp_install(struct err *e);

#endif
