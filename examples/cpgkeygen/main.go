// Command cpgkeygen makes the keys and certificates of an actorcpg
// cluster, as corosync-keygen makes Corosync's authkey: a cluster CA and,
// signed by it, a certificate for each node and each client that attaches
// over the network.
//
//	cpgkeygen -dir DIR -nodes 1,2,3 [-clients name1,name2] [-force]
//
// writes DIR/ca.pem, DIR/ca-key.pem, DIR/node-K.pem, DIR/node-K-key.pem,
// DIR/client-NAME.pem and DIR/client-NAME-key.pem (keys mode 0600, the
// directory 0700). A CA already in DIR is reused, so that nodes and
// clients can be added later; an existing node or client key is not
// replaced unless -force. Give each node its node-K files and ca.pem
// (cpgnode -tls DIR, or totem.crypto_ca, crypto_cert and crypto_key), and
// keep ca-key.pem off the nodes.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/actorcpg/actorcpg/remote"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintf(os.Stderr, "cpgkeygen: %v\n", err)
		os.Exit(1)
	}
}

// run is cpgkeygen with args, reporting what it wrote to out.
func run(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("cpgkeygen", flag.ContinueOnError)
	dir := fs.String("dir", "", "`directory` of the cluster's keys and certificates (created mode 0700)")
	nodes := fs.String("nodes", "", "node `ids` to make certificates for, comma-separated")
	clients := fs.String("clients", "", "client `names` to make certificates for, comma-separated")
	force := fs.Bool("force", false, "replace existing node and client keys (never the CA)")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: cpgkeygen -dir DIR -nodes 1,2,3 [-clients name1,name2] [-force]")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if *dir == "" {
		return errors.New("-dir is required")
	}
	ids, err := parseNodes(*nodes)
	if err != nil {
		return err
	}
	var names []string
	for n := range strings.SplitSeq(*clients, ",") {
		if n = strings.TrimSpace(n); n != "" {
			names = append(names, n)
		}
	}
	if len(ids) == 0 && len(names) == 0 {
		return errors.New("nothing to make: give -nodes or -clients")
	}
	p, err := remote.WritePKI(*dir, ids, names, *force)
	if err != nil {
		return err
	}
	if p.NewCA {
		fmt.Fprintf(out, "cpgkeygen: new CA %s\n", p.CA)
	} else {
		fmt.Fprintf(out, "cpgkeygen: reused CA %s\n", p.CA)
	}
	for _, id := range ids {
		fmt.Fprintf(out, "cpgkeygen: node %d: %s %s\n", id, p.Nodes[id].Cert, p.Nodes[id].Key)
	}
	for _, n := range names {
		fmt.Fprintf(out, "cpgkeygen: client %s: %s %s\n", n, p.Clients[n].Cert, p.Clients[n].Key)
	}
	return nil
}

// parseNodes parses comma-separated node ids.
func parseNodes(s string) ([]uint32, error) {
	var ids []uint32
	seen := map[uint32]bool{}
	for f := range strings.SplitSeq(s, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		id, err := strconv.ParseUint(f, 10, 32)
		if err != nil || id == 0 {
			return nil, fmt.Errorf("-nodes: %q is not a node id (1..4294967295)", f)
		}
		if !seen[uint32(id)] {
			seen[uint32(id)] = true
			ids = append(ids, uint32(id))
		}
	}
	return ids, nil
}
