package main

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/actorcpg/actorcpg/api"
	"github.com/actorcpg/actorcpg/api/cpg"
)

func row(group string, pid, nodeid uint32) cpg.IterationDescription {
	return cpg.IterationDescription{Group: []byte(group), Pid: pid, Nodeid: nodeid}
}

func TestWriteNameEscaping(t *testing.T) {
	cases := []struct {
		name      string
		escaped   string
		unescaped string
	}{
		{"GROUP\x00", `GROUP\x00`, "GROUP\x00"},
		{"crmd\x00", `crmd\x00`, "crmd\x00"},
		{"plain name ~!", "plain name ~!", "plain name ~!"},
		{`a\b`, `a\\b`, `a\b`},
		{"\x01\x1f \x7e\x7f\x80\xff", `\x01\x1F ~\x7F\x80\xFF`, "\x01\x1f \x7e\x7f\x80\xff"},
		{"", "", ""},
	}
	for _, c := range cases {
		var b bytes.Buffer
		writeName(&b, []byte(c.name), false)
		if b.String() != c.escaped {
			t.Errorf("escaped %q = %q, want %q", c.name, b.String(), c.escaped)
		}
		b.Reset()
		writeName(&b, []byte(c.name), true)
		if b.String() != c.unescaped {
			t.Errorf("raw %q = %q, want %q", c.name, b.String(), c.unescaped)
		}
	}
}

func TestListingDefault(t *testing.T) {
	rows := []cpg.IterationDescription{
		row("grpA", 8422, 1),
		row("grpA", 9000, 2),
		row("GROUP\x00", 7, 4294967295),
		row(`b\in`, 1, 3),
	}
	var b bytes.Buffer
	writeListing(&b, rows, 0, false)
	want := "Group Name\t       PID\t   Node ID\n" +
		"grpA\n" +
		"\t\t      8422\t         1\n" +
		"\t\t      9000\t         2\n" +
		"GROUP\\x00\n" +
		"\t\t         7\t4294967295\n" +
		"b\\\\in\n" +
		"\t\t         1\t         3\n"
	if b.String() != want {
		t.Errorf("got\n%q\nwant\n%q", b.String(), want)
	}

	b.Reset()
	writeListing(&b, rows[2:3], 0, true)
	if want := "Group Name\t       PID\t   Node ID\nGROUP\x00\n\t\t         7\t4294967295\n"; b.String() != want {
		t.Errorf("-e: got %q, want %q", b.String(), want)
	}

	b.Reset()
	writeListing(&b, nil, 0, false)
	if want := "Group Name\t       PID\t   Node ID\n"; b.String() != want {
		t.Errorf("no groups: got %q, want %q", b.String(), want)
	}
}

// Corosync compares each row's group with the previous one, starting from
// an empty name: an empty-named group listed first gets no name line.
func TestListingEmptyNameFirst(t *testing.T) {
	var b bytes.Buffer
	writeListing(&b, []cpg.IterationDescription{row("", 7323, 1), row("x", 5, 1)}, 0, false)
	want := "Group Name\t       PID\t   Node ID\n" +
		"\t\t      7323\t         1\n" +
		"x\n" +
		"\t\t         5\t         1\n"
	if b.String() != want {
		t.Errorf("got %q, want %q", b.String(), want)
	}
}

func TestListingDelimiter(t *testing.T) {
	rows := []cpg.IterationDescription{
		row("", 7323, 1),
		row("grpA", 8422, 1),
		row("grpA", 9000, 2),
		row("GROUP\x00", 7, 3),
	}
	var b bytes.Buffer
	writeListing(&b, rows, ',', false)
	want := "GRP_NAME,PID,NODEID\n" +
		",7323,1\n" +
		"grpA,8422,1\n" +
		"grpA,9000,2\n" +
		"GROUP\\x00,7,3\n"
	if b.String() != want {
		t.Errorf("got\n%q\nwant\n%q", b.String(), want)
	}

	b.Reset()
	writeListing(&b, rows[3:], ':', true)
	if want := "GRP_NAME:PID:NODEID\nGROUP\x00:7:3\n"; b.String() != want {
		t.Errorf("-e: got %q, want %q", b.String(), want)
	}

	// A delimiter byte from 0x80 up is written as that one byte, as C's %c.
	b.Reset()
	writeListing(&b, rows[1:2], 0xa7, false)
	if want := "GRP_NAME\xa7PID\xa7NODEID\ngrpA\xa78422\xa71\n"; b.String() != want {
		t.Errorf("high delimiter: got %q, want %q", b.String(), want)
	}
}

func TestNames(t *testing.T) {
	rows := []cpg.IterationDescription{row("grpA", 0, 0), row("GROUP\x00", 0, 0), row("c", 0, 0)}
	cases := []struct {
		delim byte
		raw   bool
		rows  []cpg.IterationDescription
		want  string
	}{
		{0, false, rows, "grpA\nGROUP\\x00\nc\n"},
		{0, true, rows, "grpA\nGROUP\x00\nc\n"},
		{',', false, rows, "grpA,GROUP\\x00,c,\n"},
		{' ', true, rows, "grpA GROUP\x00 c \n"},
		{0, false, nil, ""},
		{',', false, nil, "\n"},
	}
	for _, c := range cases {
		var b bytes.Buffer
		writeNames(&b, c.rows, c.delim, c.raw)
		if b.String() != c.want {
			t.Errorf("delim %q raw %v: got %q, want %q", c.delim, c.raw, b.String(), c.want)
		}
	}
}

func TestParseArgs(t *testing.T) {
	cases := []struct {
		args []string
		want config
		err  string
	}{
		{nil, config{}, ""},
		{[]string{"-d", ","}, config{delim: ','}, ""},
		{[]string{"-d,"}, config{delim: ','}, ""},
		{[]string{"-d", "::"}, config{delim: ':'}, ""},
		{[]string{"-d", ",", "-d", ""}, config{delim: ','}, ""},
		{[]string{"-en"}, config{raw: true, namesOnly: true}, ""},
		{[]string{"-ned;"}, config{raw: true, namesOnly: true, delim: ';'}, ""},
		{[]string{"operand", "-n", "-", "x"}, config{namesOnly: true}, ""},
		{[]string{"--", "-n"}, config{}, ""},
		{[]string{"-n", "-h", "-x"}, config{namesOnly: true, help: true}, ""},
		{[]string{"-d"}, config{}, "cpgtool: option requires an argument -- 'd'"},
		{[]string{"-x", "-h"}, config{}, "cpgtool: invalid option -- 'x'"},
	}
	for _, c := range cases {
		got, err := parseArgs(append([]string{"/usr/sbin/cpgtool"}, c.args...))
		if c.err != "" {
			if err == nil || err.Error() != c.err {
				t.Errorf("%q: error %v, want %q", c.args, err, c.err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("%q: got %+v, %v; want %+v", c.args, got, err, c.want)
		}
	}
}

// rowsThen returns a next function giving rows, then err.
func rowsThen(rows []cpg.IterationDescription, err error) func() (cpg.IterationDescription, error) {
	return func() (cpg.IterationDescription, error) {
		if len(rows) == 0 {
			return cpg.IterationDescription{}, err
		}
		d := rows[0]
		rows = rows[1:]
		return d, nil
	}
}

func TestListIterationError(t *testing.T) {
	rows := []cpg.IterationDescription{row("grpA", 5, 1)}
	var out, errOut bytes.Buffer
	if rc := list(&out, &errOut, config{delim: ','}, rowsThen(rows, api.ErrLibrary)); rc != 1 {
		t.Errorf("exit %d, want 1", rc)
	}
	if want := "GRP_NAME,PID,NODEID\ngrpA,5,1\n"; out.String() != want {
		t.Errorf("stdout %q, want %q", out.String(), want)
	}
	if want := "cpg iteration error 2\n"; errOut.String() != want {
		t.Errorf("stderr %q, want %q", errOut.String(), want)
	}

	out.Reset()
	errOut.Reset()
	if rc := list(&out, &errOut, config{namesOnly: true}, rowsThen(rows, fmt.Errorf("wrapped: %w", api.ErrBadHandle))); rc != 1 {
		t.Errorf("-n: exit %d, want 1", rc)
	}
	if out.String() != "grpA\n" || errOut.String() != "cpg iteration error 9\n" {
		t.Errorf("-n: stdout %q stderr %q", out.String(), errOut.String())
	}

	out.Reset()
	errOut.Reset()
	if rc := list(&out, &errOut, config{}, rowsThen(rows, api.ErrNoSections)); rc != 0 || errOut.Len() != 0 {
		t.Errorf("normal end: exit %d, stderr %q", rc, errOut.String())
	}
}

func TestRunUsageAndBadOption(t *testing.T) {
	var out, errOut bytes.Buffer
	if rc := run([]string{"/usr/sbin/cpgtool", "-h"}, &out, &errOut); rc != 0 {
		t.Errorf("-h: exit %d", rc)
	}
	if !strings.HasPrefix(out.String(), "cpgtool [-d delimiter] [-e] [-n] [-s] [-h]\n\nA tool for displaying cpg groups and members.\n") ||
		!strings.Contains(out.String(), "\t-e\tDon't escape unprintable characters in group name.\n") {
		t.Errorf("-h output %q", out.String())
	}
	out.Reset()
	if rc := run([]string{"cpgtool", "-q"}, &out, &errOut); rc != 1 {
		t.Errorf("-q: exit %d, want 1", rc)
	}
	if out.Len() != 0 || errOut.String() != "cpgtool: invalid option -- 'q'\n" {
		t.Errorf("-q: stdout %q stderr %q", out.String(), errOut.String())
	}
}

func TestRunUnreachableNode(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	t.Setenv(cpg.EnvNode, addr)
	var out, errOut bytes.Buffer
	if rc := run([]string{"cpgtool"}, &out, &errOut); rc != 1 {
		t.Errorf("exit %d, want 1", rc)
	}
	if out.Len() != 0 || errOut.String() != "Could not initialize corosync cpg API error 2\n" {
		t.Errorf("stdout %q stderr %q", out.String(), errOut.String())
	}
}

// TestRunEmbedded lists the groups of the embedded node after three handles
// join two groups, one of them with a binary name.
func TestRunEmbedded(t *testing.T) {
	t.Setenv(cpg.EnvNode, "") // restored after the test
	os.Unsetenv(cpg.EnvNode)

	grpA, grpB := []byte("grpA"), []byte("grp\\B\x00")
	join := func(group []byte) *cpg.Handle {
		h, err := cpg.Initialize(nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { h.Finalize() })
		if err := h.Join(group); err != nil {
			t.Fatal(err)
		}
		return h
	}
	a1, b1, a2 := join(grpA), join(grpB), join(grpA)
	deadline := time.Now().Add(10 * time.Second)
	for {
		ma, errA := a1.MembershipGet(grpA)
		mb, errB := a1.MembershipGet(grpB)
		if errA == nil && errB == nil && len(ma) == 2 && len(mb) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("joins not seen: %v %v %v %v", ma, errA, mb, errB)
		}
		time.Sleep(10 * time.Millisecond)
	}
	// Members are listed by (nodeid, pid), groups by (length, bytes).
	lo, hi := a1, a2
	if hi.Pid() < lo.Pid() {
		lo, hi = hi, lo
	}
	node := a1.NodeID()
	ring, _, err := a1.ViewGet()
	if err != nil {
		t.Fatal(err)
	}

	cases := []struct {
		args []string
		want string
	}{
		{nil, "Group Name\t       PID\t   Node ID\n" +
			"grpA\n" +
			fmt.Sprintf("\t\t%10d\t%10d\n", lo.Pid(), node) +
			fmt.Sprintf("\t\t%10d\t%10d\n", hi.Pid(), node) +
			"grp\\\\B\\x00\n" +
			fmt.Sprintf("\t\t%10d\t%10d\n", b1.Pid(), node)},
		{[]string{"-d", ","}, "GRP_NAME,PID,NODEID\n" +
			fmt.Sprintf("grpA,%d,%d\n", lo.Pid(), node) +
			fmt.Sprintf("grpA,%d,%d\n", hi.Pid(), node) +
			fmt.Sprintf("grp\\\\B\\x00,%d,%d\n", b1.Pid(), node)},
		{[]string{"-e", "-d;"}, "GRP_NAME;PID;NODEID\n" +
			fmt.Sprintf("grpA;%d;%d\n", lo.Pid(), node) +
			fmt.Sprintf("grpA;%d;%d\n", hi.Pid(), node) +
			fmt.Sprintf("grp\\B\x00;%d;%d\n", b1.Pid(), node)},
		{[]string{"-n"}, "grpA\ngrp\\\\B\\x00\n"},
		{[]string{"-n", "-d", ","}, "grpA,grp\\\\B\\x00,\n"},
		{[]string{"-ne"}, "grpA\ngrp\\B\x00\n"},
		// One node: it orders every group.
		{[]string{"-s"}, fmt.Sprintf("Ring ID: %d.%d\nMembers: 1\n", ring.GetNodeid(), ring.GetSeq()) +
			"Group Name\t Sequencer\n" +
			fmt.Sprintf("grpA\t%10d\n", 1) +
			fmt.Sprintf("grp\\\\B\\x00\t%10d\n", 1)},
	}
	for _, c := range cases {
		var out, errOut bytes.Buffer
		rc := run(append([]string{"cpgtool"}, c.args...), &out, &errOut)
		if rc != 0 || errOut.Len() != 0 {
			t.Errorf("%q: exit %d, stderr %q", c.args, rc, errOut.String())
		}
		if out.String() != c.want {
			t.Errorf("%q: got\n%q\nwant\n%q", c.args, out.String(), c.want)
		}
	}
	if node != 1 {
		t.Errorf("embedded node id %d, want 1", node)
	}
}
