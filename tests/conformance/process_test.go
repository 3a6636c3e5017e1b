package conformance

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/actorcpg/actorcpg/api"
	"github.com/actorcpg/actorcpg/api/cpg"
)

// Separate OS processes for rules 2 and 15: the node runs as the
// examples/cpgnode program, and the test binary re-executes itself as a
// CPG client process (helperClient) when helperEnv is set.

const (
	helperEnv      = "ACTORCPG_CONFORMANCE_HELPER" // "client" runs helperClient
	helperAddrEnv  = "ACTORCPG_CONFORMANCE_ADDR"   // node address
	helperGroupEnv = "ACTORCPG_CONFORMANCE_GROUP"  // hex group name
	helperModeEnv  = "ACTORCPG_CONFORMANCE_MODE"   // block | exit | finalize
)

var tmpDir string

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) == "client" {
		os.Exit(helperClient())
	}
	dir, err := os.MkdirTemp("", "actorcpg-conformance-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	tmpDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// helperClient is the child client process: it attaches to the node, joins
// the group with pid = its OS pid, waits for its own JOIN confchg, prints
// "JOINED nodeid pid", then:
//   - block: waits (the test SIGKILLs it);
//   - exit: exits at once, without finalize or leave;
//   - finalize: finalizes without leave, prints "FINALIZED code", waits.
//
// While waiting it exits when its stdin closes, so it never outlives the
// test.
func helperClient() int {
	addr := os.Getenv(helperAddrEnv)
	group, err := hex.DecodeString(os.Getenv(helperGroupEnv))
	if err != nil || addr == "" {
		fmt.Fprintln(os.Stderr, "helper: bad environment")
		return 2
	}
	joined := make(chan struct{}, 1)
	pid := uint32(os.Getpid())
	h, err := cpg.Initialize(&cpg.Callbacks{
		Confchg: func(h *cpg.Handle, g []byte, members, left, j []*api.Address) {
			for _, a := range j {
				if a.Pid == pid && bytes.Equal(g, group) {
					joined <- struct{}{}
				}
			}
		},
	}, cpg.WithAddress(addr), cpg.WithPid(pid))
	if err != nil {
		fmt.Fprintf(os.Stderr, "helper: initialize: %v\n", err)
		return 1
	}
	if err := h.Join(group); err != nil {
		fmt.Fprintf(os.Stderr, "helper: join: %v\n", err)
		return 1
	}
	ready, _ := h.FdGet()
	timeout := time.After(waitTimeout)
wait:
	for {
		select {
		case <-ready:
			if err := h.Dispatch(api.DispatchAll); err != nil {
				fmt.Fprintf(os.Stderr, "helper: dispatch: %v\n", err)
				return 1
			}
		case <-joined:
			break wait
		case <-timeout:
			fmt.Fprintln(os.Stderr, "helper: no JOIN confchg")
			return 1
		}
	}
	fmt.Printf("JOINED %d %d\n", h.NodeID(), h.Pid())
	switch os.Getenv(helperModeEnv) {
	case "exit":
		return 0
	case "finalize":
		err := h.Finalize()
		fmt.Printf("FINALIZED %d\n", api.CodeOf(err))
	}
	_, _ = io.Copy(io.Discard, os.Stdin)
	return 0
}

var (
	cpgnodeOnce sync.Once
	cpgnodeBin  string
	cpgnodeErr  error
)

// buildCpgnode builds examples/cpgnode once per test run.
func buildCpgnode(t *testing.T) string {
	t.Helper()
	cpgnodeOnce.Do(func() {
		bin := filepath.Join(tmpDir, "cpgnode")
		cmd := exec.Command("go", "build", "-o", bin, "github.com/actorcpg/actorcpg/examples/cpgnode")
		cmd.Dir = filepath.Join("..", "..")
		out, err := cmd.CombinedOutput()
		if err != nil {
			cpgnodeErr = fmt.Errorf("go build cpgnode: %v\n%s", err, out)
			return
		}
		cpgnodeBin = bin
	})
	if cpgnodeErr != nil {
		t.Fatal(cpgnodeErr)
	}
	return cpgnodeBin
}

// proc is a child process with its stdout lines on a channel.
type proc struct {
	cmd    *exec.Cmd
	lines  chan string
	stderr *lockedBuffer
	stdin  io.WriteCloser
	done   chan struct{}
	err    error
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// startProc starts cmd and kills it (SIGKILL) at the end of the test.
func startProc(t *testing.T, cmd *exec.Cmd) *proc {
	t.Helper()
	p := &proc{cmd: cmd, lines: make(chan string, 64), stderr: &lockedBuffer{}, done: make(chan struct{})}
	cmd.Stderr = p.stderr
	setDeathSignal(cmd)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if p.stdin, err = cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", cmd.Path, err)
	}
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			p.lines <- sc.Text()
		}
		close(p.lines)
	}()
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.kill()
		<-p.done
		if t.Failed() {
			t.Logf("stderr of %s:\n%s", filepath.Base(cmd.Path), p.stderr.String())
		}
	})
	return p
}

// kill sends SIGKILL and waits for the process to end.
func (p *proc) kill() {
	_ = p.cmd.Process.Kill()
	<-p.done
}

// expectLine waits for a stdout line starting with prefix and returns it.
func (p *proc) expectLine(t *testing.T, prefix string) string {
	t.Helper()
	timeout := time.After(waitTimeout)
	for {
		select {
		case l, ok := <-p.lines:
			if !ok {
				<-p.done
				t.Fatalf("%s exited (%v) before printing %q; stderr:\n%s", filepath.Base(p.cmd.Path), p.err, prefix, p.stderr.String())
			}
			if strings.HasPrefix(l, prefix) {
				return l
			}
		case <-timeout:
			t.Fatalf("%s printed no %q within %v; stderr:\n%s", filepath.Base(p.cmd.Path), prefix, waitTimeout, p.stderr.String())
		}
	}
}

// startCpgnode runs examples/cpgnode on a free 127.0.0.1 port and returns
// the process and its address.
func startCpgnode(t *testing.T) (*proc, string) {
	t.Helper()
	bin := buildCpgnode(t)
	cmd := exec.Command(bin, "-listen", "127.0.0.1:0", "-client-timeout", "1s", "-client-heartbeat", "100ms", "-log", "warn")
	p := startProc(t, cmd)
	line := p.expectLine(t, "cpgnode: node ")
	i := strings.LastIndex(line, " ")
	addr := line[i+1:]
	if !strings.HasPrefix(addr, "127.0.0.1:") {
		t.Fatalf("cpgnode address: %q", line)
	}
	return p, addr
}

// startHelperClient runs this test binary as a client process that joins
// group on the node at addr (see helperClient).
func startHelperClient(t *testing.T, addr, group, mode string) *proc {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(),
		helperEnv+"=client",
		helperAddrEnv+"="+addr,
		helperGroupEnv+"="+hex.EncodeToString([]byte(group)),
		helperModeEnv+"="+mode,
	)
	return startProc(t, cmd)
}
