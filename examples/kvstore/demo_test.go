package main

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"testing"
	"time"
)

// TestDemo runs demo.sh: three cpgnode processes, three kvstore
// processes attached to them, a kvstore and its node killed with SIGKILL and restarted
// while a writer keeps writing (its state transferred under write load),
// every replica's hash equal at the end.
func TestDemo(t *testing.T) {
	if testing.Short() {
		t.Skip("real processes: about 20 s")
	}
	for _, tool := range []string{"bash", "curl"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("needs %s", tool)
		}
	}
	nodeBase, httpBase := freeBases(t)
	cmd := exec.Command("bash", "demo.sh")
	cmd.Env = append(os.Environ(),
		"ACTORCPG_CLUSTER_DIR="+t.TempDir(),
		"ACTORCPG_BASE_PORT="+strconv.Itoa(nodeBase),
		"KVSTORE_HTTP_BASE="+strconv.Itoa(httpBase),
		"KVSTORE_DEMO_KEYS=200")
	start := time.Now()
	out, err := cmd.CombinedOutput()
	t.Logf("demo.sh (%s):\n%s", time.Since(start).Round(time.Second), out)
	if err != nil {
		t.Fatalf("demo.sh: %v", err)
	}
	m := regexp.MustCompile(`state transfers done: (\d+), (\d+) writes committed while it joined, (\d+) of them`).FindSubmatch(out)
	if m == nil {
		t.Fatal("demo.sh did not report the restarted replica's transfer")
	}
	if done, _ := strconv.Atoi(string(m[1])); done < 1 {
		t.Fatal("the restarted replica reports no state transfer")
	}
	if writes, _ := strconv.Atoi(string(m[2])); writes < 1 {
		t.Fatal("no write was committed while the restarted replica joined: the transfer was not under write load")
	}
	if !regexp.MustCompile(`OK: all 3 replicas identical`).Match(out) {
		t.Fatal("demo.sh did not find the replicas identical")
	}
}

// freeBases finds two port bases whose ports +1..+3 are free (the
// nodes', the kvstores').
func freeBases(t *testing.T) (int, int) {
	t.Helper()
	var bases []int
	for base := 20000 + os.Getpid()%200*50; len(bases) < 2 && base < 60000; base += 10 {
		if portsFree(base) {
			bases = append(bases, base)
		}
	}
	if len(bases) < 2 {
		t.Skip("no free ports")
	}
	return bases[0], bases[1]
}

func portsFree(base int) bool {
	for k := 1; k <= 3; k++ {
		ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", base+k))
		if err != nil {
			return false
		}
		ln.Close()
	}
	return true
}
