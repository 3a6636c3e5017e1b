//go:build linux

package conformance

import (
	"os/exec"
	"syscall"
)

// setDeathSignal makes the child die with the test process, so that no
// cpgnode or helper outlives a crashed or timed-out test run.
func setDeathSignal(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
