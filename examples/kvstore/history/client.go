package history

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"syscall"
	"time"
)

// Client does operations on a kvstore's HTTP API and records them.
type Client struct {
	ID   int
	Rec  *Recorder
	HTTP *http.Client
}

// NewClient returns client id recording into rec, with a request timeout.
func NewClient(id int, rec *Recorder, timeout time.Duration) *Client {
	return &Client{ID: id, Rec: rec, HTTP: &http.Client{Timeout: timeout}}
}

// Do runs in against the replica at base (http://host:port), records it
// and returns its outcome and output.
func (c *Client) Do(ctx context.Context, base string, in Input) (Outcome, Output) {
	var method, body, q string
	switch in.Kind {
	case Put:
		method, body = http.MethodPut, in.Value
	case Delete:
		method = http.MethodDelete
	default:
		method, q = http.MethodGet, "?consistent=1"
	}
	call := c.Rec.Now()
	outcome, out := c.send(ctx, method, base+"/kv/"+url.PathEscape(in.Key)+q, body)
	c.Rec.Add(c.ID, in, out, outcome, call, c.Rec.Now())
	return outcome, out
}

func (c *Client) send(ctx context.Context, method, u, body string) (Outcome, Output) {
	req, err := http.NewRequestWithContext(ctx, method, u, strings.NewReader(body))
	if err != nil {
		return Refused, Output{}
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		if errors.Is(err, syscall.ECONNREFUSED) {
			return Refused, Output{} // nothing reached a replica
		}
		return Unknown, Output{}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return Unknown, Output{}
	}
	switch resp.StatusCode {
	case http.StatusOK:
		return OK, Output{Found: true, Value: string(b)}
	case http.StatusNotFound:
		return OK, Output{}
	case http.StatusServiceUnavailable, http.StatusBadRequest:
		return Refused, Output{}
	}
	return Unknown, Output{}
}
