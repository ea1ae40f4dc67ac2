package account

import "syscall"

// lowerThreadPriority raises the calling thread's nice value by 10 (on Linux,
// PRIO_PROCESS with a thread id applies to that thread alone).
func lowerThreadPriority() {
	_ = syscall.Setpriority(syscall.PRIO_PROCESS, syscall.Gettid(), 10)
}
