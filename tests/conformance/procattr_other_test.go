//go:build !linux

package conformance

import "os/exec"

// setDeathSignal is a no-op where Pdeathsig does not exist; t.Cleanup
// still kills the children.
func setDeathSignal(cmd *exec.Cmd) {}
