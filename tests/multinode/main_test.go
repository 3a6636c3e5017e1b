//go:build !race

package multinode

import (
	"fmt"
	"os"
	"testing"
)

// TestMain prints how many scenario attempts the package run made and how
// many a spurious view change made void (see attempts):
//
//	multinode: attempts=N void=M
//
// and fails the run when more than one attempt in three was void.
func TestMain(m *testing.M) {
	code := m.Run()
	n, v := attemptsRun.Load(), attemptsVoid.Load()
	fmt.Printf("multinode: attempts=%d void=%d\n", n, v)
	if v*3 > n {
		fmt.Printf("FAIL: multinode: %d of %d attempts void: spurious view changes in more than one attempt in three\n", v, n)
		if code == 0 {
			code = 1
		}
	}
	os.Exit(code)
}
