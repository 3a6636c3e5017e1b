//go:build !unix

package remote

import "errors"

const writevSupported = false

func writev(uintptr, [][]byte) (int, error) { return 0, errors.New("remote: writev not supported") }
