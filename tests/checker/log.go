package checker

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"

	"github.com/actorcpg/actorcpg/api"
)

// LogWriter writes records as JSON lines, one Write call per record, so
// that a process killed between two records leaves whole lines behind (a
// torn last line is skipped by ReadLog). It is safe for concurrent use: the
// handles of one client may share it.
type LogWriter struct {
	mu  sync.Mutex
	w   io.Writer
	buf []byte
	err error
}

// NewLogWriter returns a LogWriter that writes to w.
func NewLogWriter(w io.Writer) *LogWriter { return &LogWriter{w: w} }

// Write writes one record. After the first error every call returns it.
func (l *LogWriter) Write(r Record) error {
	b, err := json.Marshal(r)
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.err != nil {
		return l.err
	}
	if err != nil {
		l.err = err
		return err
	}
	l.buf = append(append(l.buf[:0], b...), '\n')
	if _, err := l.w.Write(l.buf); err != nil {
		l.err = err
	}
	return l.err
}

// Confchg records a confchg delivered to p.
func (l *LogWriter) Confchg(p Proc, c *api.Confchg) error { return l.Write(ConfchgRecord(p, c)) }

// Deliver records a message delivered to p, decoding its payload.
func (l *LogWriter) Deliver(p Proc, d *api.Deliver) error { return l.Write(DeliverRecord(p, d)) }

// DeliverData records a message delivered to p from plain values.
func (l *LogWriter) DeliverData(p Proc, group []byte, nodeid, pid uint32, data []byte) error {
	return l.Write(DeliverDataRecord(p, group, nodeid, pid, data))
}

// Totem records a totem confchg delivered to p.
func (l *LogWriter) Totem(p Proc, t *api.TotemConfchg) error { return l.Write(TotemRecord(p, t)) }

// Sent records that p multicast its message seq to group (ok: McastJoined
// returned nil).
func (l *LogWriter) Sent(p Proc, group []byte, seq uint64, ok bool) error {
	return l.Write(SentRecord(p, group, seq, ok))
}

// SafeSent records that p multicast its message seq to group with
// CPG_TYPE_SAFE (ok: McastJoined returned nil).
func (l *LogWriter) SafeSent(p Proc, group []byte, seq uint64, ok bool) error {
	return l.Write(SafeSentRecord(p, group, seq, ok))
}

// End records that p stopped; see Record for what killed means.
func (l *LogWriter) End(p Proc, killed bool) error { return l.Write(EndRecord(p, killed)) }

// Finalized records that p ended while its node went on; see Record.
func (l *LogWriter) Finalized(p Proc) error { return l.Write(FinalizedRecord(p)) }

// Flush flushes the underlying writer when it has a Flush method (for
// example a *bufio.Writer).
func (l *LogWriter) Flush() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.err != nil {
		return l.err
	}
	if f, ok := l.w.(interface{ Flush() error }); ok {
		l.err = f.Flush()
	}
	return l.err
}

// ReadLog reads JSON-lines records as LogWriter writes them. Empty lines are
// skipped, and so is a last line without a newline that does not parse (the
// writer was killed in the middle of it). Any other bad line is an error.
func ReadLog(r io.Reader) ([]Record, error) {
	br := bufio.NewReaderSize(r, 1<<16)
	var out []Record
	for line := 1; ; line++ {
		b, err := br.ReadBytes('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return out, err
		}
		last := err != nil
		t := bytes.TrimSpace(b)
		if len(t) > 0 {
			var rec Record
			if perr := json.Unmarshal(t, &rec); perr != nil {
				if last && !bytes.HasSuffix(b, []byte("\n")) {
					return out, nil
				}
				return out, fmt.Errorf("checker: log line %d: %w", line, perr)
			}
			out = append(out, rec)
		}
		if last {
			return out, nil
		}
	}
}

// ReadLogFile reads the records of one log file with ReadLog.
func ReadLogFile(path string) ([]Record, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	rs, err := ReadLog(f)
	if err != nil {
		return rs, fmt.Errorf("%s: %w", path, err)
	}
	return rs, nil
}
