//go:build unix

package remote

import (
	"syscall"
	"unsafe"
)

const writevSupported = true

// writev is one writev(2) of bufs (at most IOV_MAX of them) on fd.
func writev(fd uintptr, bufs [][]byte) (int, error) {
	var small [8]syscall.Iovec
	vs := small[:0]
	if len(bufs) > len(small) {
		vs = make([]syscall.Iovec, 0, len(bufs))
	}
	for _, b := range bufs {
		v := syscall.Iovec{Base: unsafe.SliceData(b)}
		v.SetLen(len(b))
		vs = append(vs, v)
	}
	n, _, errno := syscall.Syscall(syscall.SYS_WRITEV, fd, uintptr(unsafe.Pointer(unsafe.SliceData(vs))), uintptr(len(vs)))
	if errno != 0 {
		return 0, errno
	}
	return int(n), nil
}
