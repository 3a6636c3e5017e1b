//go:build !linux

package proccluster

import "syscall"

// sysProcAttr: only Linux can tie a child's life to its parent's.
func sysProcAttr() *syscall.SysProcAttr { return nil }

// processStopped: only Linux tells; the signal was sent.
func processStopped(int) bool { return true }
