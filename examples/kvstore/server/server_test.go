package server_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/actorcpg/actorcpg/examples/kvstore/history"
	"github.com/actorcpg/actorcpg/examples/kvstore/server"
)

func do(t *testing.T, method, url, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestHTTPAPI: a write through one replica is read back, consistently,
// through another and locally from a third once applied; a delete makes
// the key absent; /hash agrees everywhere.
func TestHTTPAPI(t *testing.T) {
	c := newCluster(t, 3, server.Config{})
	u := c.urls()
	if code, _ := do(t, http.MethodPut, u[1]+"/kv/greeting", "hello"); code != http.StatusOK {
		t.Fatalf("PUT: %d", code)
	}
	if code, v := do(t, http.MethodGet, u[2]+"/kv/greeting?consistent=1", ""); code != http.StatusOK || v != "hello" {
		t.Fatalf("consistent GET: %d %q", code, v)
	}
	c.waitFor("the local read at replica 3", func() bool {
		code, v := do(t, http.MethodGet, u[3]+"/kv/greeting", "")
		return code == http.StatusOK && v == "hello"
	})
	if code, _ := do(t, http.MethodDelete, u[3]+"/kv/greeting", ""); code != http.StatusOK {
		t.Fatalf("DELETE: %d", code)
	}
	if code, _ := do(t, http.MethodGet, u[1]+"/kv/greeting?consistent=1", ""); code != http.StatusNotFound {
		t.Fatalf("consistent GET after DELETE: %d", code)
	}
	c.waitFor("every replica converged", c.converged)
}

// TestRefusesNonLoopbackHTTP: the API listens on loopback only.
func TestRefusesNonLoopbackHTTP(t *testing.T) {
	if _, err := server.Start(server.Config{HTTP: "0.0.0.0:0", Replicas: 1}); err == nil || !strings.Contains(err.Error(), "127.0.0.1 only") {
		t.Fatalf("Start on 0.0.0.0: %v", err)
	}
}

// load runs clients against the running servers until stop is closed:
// random puts (unique values), deletes and consistent reads on a few
// keys, each recorded.
func load(c *cluster, rec *history.Recorder, clients int, stop <-chan struct{}) (wait func()) {
	done := make(chan struct{})
	for i := 0; i < clients; i++ {
		go func(id int) {
			defer func() { done <- struct{}{} }()
			cl := history.NewClient(id, rec, 6*time.Second)
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				urls := c.urls()
				ids := make([]uint32, 0, len(urls))
				for id := range urls {
					ids = append(ids, id)
				}
				if len(ids) == 0 {
					time.Sleep(10 * time.Millisecond)
					continue
				}
				target := urls[ids[(id+n)%len(ids)]]
				key := fmt.Sprintf("k%d", (id*7+n)%4)
				var in history.Input
				switch n % 10 {
				case 0:
					in = history.Input{Kind: history.Delete, Key: key}
				case 1, 2, 3, 4:
					in = history.Input{Kind: history.Put, Key: key, Value: fmt.Sprintf("c%d-%d", id, n)}
				default:
					in = history.Input{Kind: history.Get, Key: key}
				}
				if o, _ := cl.Do(context.Background(), target, in); o == history.Refused {
					time.Sleep(20 * time.Millisecond) // a minority or syncing replica: try elsewhere soon
				}
			}
		}(i)
	}
	return func() {
		for i := 0; i < clients; i++ {
			<-done
		}
	}
}
