package proccluster

import "syscall"

// sysProcAttr makes the kernel SIGKILL a started process when the test
// process dies, so that a crashed or timed-out test leaves none behind.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
