package cpg_test

import (
	"os/exec"
	"strings"
	"testing"
)

// A client links neither the node's engine nor gRPC: a program that
// imports only api/cpg attaches to a node over a session (README,
// "Folders"). The Go toolchain that runs the test lists the package's
// dependencies.
func TestClientLinksNeitherTheEngineNorGRPC(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "github.com/actorcpg/actorcpg/api/cpg").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	forbidden := []string{
		"google.golang.org/grpc",
		"github.com/asynkron/protoactor-go/remote",
		"github.com/actorcpg/actorcpg/actors",
		"github.com/actorcpg/actorcpg/cluster",
		"github.com/actorcpg/actorcpg/groups",
		"github.com/actorcpg/actorcpg/sequencer",
		"github.com/actorcpg/actorcpg/remote/remoting",
	}
	deps := strings.Fields(string(out))
	for _, dep := range deps {
		for _, f := range forbidden {
			if dep == f || strings.HasPrefix(dep, f+"/") {
				t.Errorf("api/cpg links %s", dep)
			}
		}
	}
	t.Logf("api/cpg links %d packages", len(deps))
}
