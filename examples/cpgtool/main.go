// Command cpgtool is a port of corosync-cpgtool: it lists the process
// groups of a node and their members.
//
//	cpgtool [-d delimiter] [-e] [-n] [-h]
//
// It attaches to the node at ACTORCPG_NODE=host:port; with the variable
// unset it uses the process's own embedded node, which has no other
// processes and so lists nothing but the header. The options, output and
// messages are corosync-cpgtool's:
//
//   - Default: CPG_ITERATION_ALL, a header "Group Name\t       PID\t   Node ID",
//     then each group's name on its own line followed by one
//     "\t\t%10u\t%10u" line (pid, nodeid) per member.
//   - -d X: a header "GRP_NAME X PID X NODEID" (no spaces) and one
//     "name X pid X nodeid" line per member. Only the first byte of X
//     counts; an empty X leaves the delimiter as it was.
//   - -n: CPG_ITERATION_NAME_ONLY, one group name per line, or, with -d,
//     every name followed by the delimiter and one newline at the end.
//   - Group names are escaped: bytes outside 0x20..0x7e become \xNN and a
//     backslash becomes \\, so "GROUP\0" prints as GROUP\x00. -e prints
//     names raw.
//   - -h prints the usage and exits 0; an unknown option or -d without an
//     argument exits 1 with getopt's message.
//   - "Could not initialize corosync cpg API error %d" (exit 1) when the
//     node cannot be reached, "Cannot initialize cpg iterator error %d" and
//     "cpg iteration error %d" (exit 1) when listing fails.
//
// Corosync quirks kept: the default form prints a group's name line only
// when the name differs from the previous row's, starting from an empty
// name, so a group with an empty name listed first gets member lines but no
// name line.
//
// Differences from corosync-cpgtool:
//   - A member line has no " (address list)" suffix: Corosync takes it from
//     corosync_cfg_get_node_addrs, and actorcpg has no cfg service that
//     maps a node id to its addresses, so the line ends after the node id.
//   - Escaping always gives two hex digits. Corosync, built where char is
//     signed (x86), prints a byte from 0x80 up sign-extended, as \xFFFFFF80.
//   - With -n an iteration error prints "cpg iteration error %d" and exits
//     1, where Corosync stops silently and exits 0.
//   - It makes no cfg connection, so it has no "Could not initialize
//     corosync configuration API" failure.
//   - -s (not in Corosync) shows the node's view and, per group, the node
//     that assigns its agreed order (its sequencer): actorcpg orders each
//     group on its own, Corosync has one totem order for all. It prints
//     "Ring ID: NODE.SEQ", "Members: ID ID ...", then a header
//     "Group Name\t Sequencer" and one "name\t%10u" line per group.
package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	_ "github.com/actorcpg/actorcpg/actors" // the embedded default node (cpg.DefaultNode)
	"github.com/actorcpg/actorcpg/api"
	"github.com/actorcpg/actorcpg/api/cpg"
)

func main() {
	os.Exit(run(os.Args, os.Stdout, os.Stderr))
}

// config is the parsed command line.
type config struct {
	delim     byte // 0: no delimiter
	raw       bool // -e: do not escape group names
	namesOnly bool // -n
	status    bool // -s
	help      bool // -h
}

// parseArgs reads args (args[0] is the program name) as getopt "hd:ne"
// does: options may be grouped (-en), -d takes the rest of its word or the
// next word (-d, or -d ,), operands are skipped, "--" ends the options, and
// -h stops parsing at once. The error is getopt's message.
func parseArgs(args []string) (config, error) {
	var c config
	prog := filepath.Base(args[0])
	for i := 1; i < len(args); i++ {
		arg := args[i]
		if arg == "--" {
			break
		}
		if len(arg) < 2 || arg[0] != '-' {
			continue
		}
		for j := 1; j < len(arg); j++ {
			switch opt := arg[j]; opt {
			case 'h':
				c.help = true
				return c, nil
			case 'n':
				c.namesOnly = true
			case 's':
				c.status = true
			case 'e':
				c.raw = true
			case 'd':
				var val string
				switch {
				case j+1 < len(arg):
					val = arg[j+1:]
				case i+1 < len(args):
					i++
					val = args[i]
				default:
					return c, fmt.Errorf("%s: option requires an argument -- 'd'", prog)
				}
				if val != "" {
					c.delim = val[0]
				}
				j = len(arg)
			default:
				return c, fmt.Errorf("%s: invalid option -- '%c'", prog, opt)
			}
		}
	}
	return c, nil
}

func usage(w io.Writer, prog string) {
	fmt.Fprintf(w, "%s [-d delimiter] [-e] [-n] [-s] [-h]\n\n", prog)
	fmt.Fprintf(w, "A tool for displaying cpg groups and members.\n")
	fmt.Fprintf(w, "options:\n")
	fmt.Fprintf(w, "\t-d\tDelimiter between fields.\n")
	fmt.Fprintf(w, "\t-e\tDon't escape unprintable characters in group name.\n")
	fmt.Fprintf(w, "\t-n\tDisplay only all existing group names.\n")
	fmt.Fprintf(w, "\t-s\tDisplay the ring id, its nodes and each group's sequencer node.\n")
	fmt.Fprintf(w, "\t-h\tDisplay this help.\n")
}

// writeName writes a group name, escaped unless raw: bytes outside
// 0x20..0x7e as \xNN and a backslash as \\.
func writeName(w io.Writer, name []byte, raw bool) {
	if raw {
		w.Write(name)
		return
	}
	var b bytes.Buffer
	for _, c := range name {
		switch {
		case c == '\\':
			b.WriteString(`\\`)
		case c < 0x20 || c > 0x7e:
			fmt.Fprintf(&b, `\x%02X`, c)
		default:
			b.WriteByte(c)
		}
	}
	w.Write(b.Bytes())
}

// writeListing writes a CPG_ITERATION_ALL listing: the header, then per
// member either the group's name line (when it differs from the previous
// row's, starting from an empty name) and a "\t\t%10u\t%10u" line, or with
// delim a "name delim pid delim nodeid" line.
func writeListing(w io.Writer, rows []cpg.IterationDescription, delim byte, raw bool) {
	ds := string([]byte{delim}) // the raw byte, as C's %c prints it
	if delim != 0 {
		fmt.Fprintf(w, "GRP_NAME%sPID%sNODEID\n", ds, ds)
	} else {
		fmt.Fprintf(w, "Group Name\t%10s\t%10s\n", "PID", "Node ID")
	}
	var prev []byte
	for _, d := range rows {
		if delim != 0 {
			writeName(w, d.Group, raw)
			fmt.Fprintf(w, "%s%d%s%d\n", ds, d.Pid, ds, d.Nodeid)
			continue
		}
		if !bytes.Equal(prev, d.Group) {
			writeName(w, d.Group, raw)
			fmt.Fprintln(w)
			prev = d.Group
		}
		fmt.Fprintf(w, "\t\t%10d\t%10d\n", d.Pid, d.Nodeid)
	}
}

// writeNames writes a CPG_ITERATION_NAME_ONLY listing: each name followed
// by a newline, or with delim each name followed by delim and one newline
// at the end.
func writeNames(w io.Writer, rows []cpg.IterationDescription, delim byte, raw bool) {
	end := delim
	if end == 0 {
		end = '\n'
	}
	for _, d := range rows {
		writeName(w, d.Group, raw)
		w.Write([]byte{end})
	}
	if delim != 0 {
		fmt.Fprintln(w)
	}
}

// collect reads rows from next until it fails. ErrNoSections, the normal
// end, gives a nil error.
func collect(next func() (cpg.IterationDescription, error)) ([]cpg.IterationDescription, error) {
	var rows []cpg.IterationDescription
	for {
		d, err := next()
		if errors.Is(err, api.ErrNoSections) {
			return rows, nil
		}
		if err != nil {
			return rows, err
		}
		rows = append(rows, d)
	}
}

// list writes the listing c asks for from the rows next returns, then
// reports an iteration error on stderr. It returns the exit status.
func list(stdout, stderr io.Writer, c config, next func() (cpg.IterationDescription, error)) int {
	rows, err := collect(next)
	if c.namesOnly {
		writeNames(stdout, rows, c.delim, c.raw)
	} else {
		writeListing(stdout, rows, c.delim, c.raw)
	}
	if err != nil {
		fmt.Fprintf(stderr, "cpg iteration error %d\n", api.CodeOf(err))
		return 1
	}
	return 0
}

// run is the whole program: args as os.Args, output to stdout and stderr.
// It returns the exit status.
func run(args []string, stdout, stderr io.Writer) int {
	c, err := parseArgs(args)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	if c.help {
		usage(stdout, filepath.Base(args[0]))
		return 0
	}
	h, err := cpg.Initialize(nil)
	if err != nil {
		fmt.Fprintf(stderr, "Could not initialize corosync cpg API error %d\n", api.CodeOf(err))
		return 1
	}
	defer h.Finalize()
	if c.status {
		return status(stdout, stderr, h, c.raw)
	}
	t := api.IterationAll
	if c.namesOnly {
		t = api.IterationNameOnly
	}
	it, err := h.IterationInitialize(t, nil)
	if err != nil {
		fmt.Fprintf(stderr, "Cannot initialize cpg iterator error %d\n", api.CodeOf(err))
		return 1
	}
	defer it.Finalize()
	return list(stdout, stderr, c, it.Next)
}

// status writes -s's report: the node's view, then each group with the
// node that orders it. It returns the exit status.
func status(stdout, stderr io.Writer, h *cpg.Handle, raw bool) int {
	ring, members, err := h.ViewGet()
	if err != nil {
		fmt.Fprintf(stderr, "Cannot get the view error %d\n", api.CodeOf(err))
		return 1
	}
	fmt.Fprintf(stdout, "Ring ID: %d.%d\nMembers:", ring.GetNodeid(), ring.GetSeq())
	for _, m := range members {
		fmt.Fprintf(stdout, " %d", m)
	}
	fmt.Fprintln(stdout)
	it, err := h.IterationInitialize(api.IterationAll, nil)
	if err != nil {
		fmt.Fprintf(stderr, "Cannot initialize cpg iterator error %d\n", api.CodeOf(err))
		return 1
	}
	defer it.Finalize()
	rows, err := collect(it.Next)
	fmt.Fprintf(stdout, "Group Name\t Sequencer\n")
	var last []byte
	for i, r := range rows {
		if i > 0 && bytes.Equal(r.Group, last) {
			continue
		}
		last = r.Group
		writeName(stdout, r.Group, raw)
		fmt.Fprintf(stdout, "\t%10d\n", r.Sequencer)
	}
	if err != nil {
		fmt.Fprintf(stderr, "cpg iteration error %d\n", api.CodeOf(err))
		return 1
	}
	return 0
}
