// Load generators for the dataplane benchmark (test/bench/dataplane.bench.ts). They run in their
// own process so that the latency they report is not skewed by the benchmark's Node event loop,
// which also serves the app, echo and sink servers.
//
//	http-load  keep-alive GETs of /r<k>/x to -target with Host -host, from -local; paced at -rps
//	           (open loop: latency counts from each request's scheduled start, so a stall is not
//	           hidden by sending less) or, with -rps 0, a closed loop over -conns connections.
//	echo-load  -size-byte echoes at -rps over -conns persistent TCP connections to -target.
//
// Both print one JSON line: {"event":"result","requests":n,"rps":x,"p50":ms,"p99":ms,
// "warmupP99":ms,"errors":n}; requests scheduled in the first -warmup seconds are reported apart.
//
// And the destinations, so that their latency is not that of a Node event loop either (as
// Nighthawk's test server does for Envoy's benchmarks):
//
//	app   an HTTP/1.1 keep-alive server on -listen answering every request with "ok"
//	echo  a TCP echo server on -listen
//
// Both print {"event":"ready","addr":"ip:port"} once listening, then serve until killed.
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"sort"
	"sync"
	"time"
)

var (
	rps    = flag.Float64("rps", 0, "requests per second (load modes; 0: closed loop)")
	secs   = flag.Float64("secs", 5, "duration in seconds (load modes)")
	conns  = flag.Int("conns", 10, "connections (load modes)")
	warmup = flag.Float64("warmup", 0, "seconds reported apart as warm-up (load modes)")
	host   = flag.String("host", "", "Host header (http-load)")
	local  = flag.String("local", "", "source IP to dial from (load modes)")
	routes = flag.Int("routes", 1000, "paths /r0/x ... /r<routes-1>/x (http-load)")
	size   = flag.Int("size", 1024, "echo size in bytes (echo-load)")
)

type recorder struct {
	mu        sync.Mutex
	start     time.Time
	lat, warm []float64
	n, errors int
}

func (r *recorder) done(at time.Time, ok bool) {
	ms := float64(time.Since(at)) / float64(time.Millisecond)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.n++
	if !ok {
		r.errors++
		return
	}
	if at.Sub(r.start).Seconds() < *warmup {
		r.warm = append(r.warm, ms)
	} else {
		r.lat = append(r.lat, ms)
	}
}

func pctl(xs []float64, p float64) any {
	if len(xs) == 0 {
		return nil
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	return s[int(math.Min(float64(len(s)-1), math.Floor(p/100*float64(len(s)))))]
}

func (r *recorder) report() {
	r.mu.Lock()
	defer r.mu.Unlock()
	emit(map[string]any{
		"event":     "result",
		"requests":  r.n,
		"rps":       float64(r.n) / time.Since(r.start).Seconds(),
		"p50":       pctl(r.lat, 50),
		"p99":       pctl(r.lat, 99),
		"warmupP99": pctl(r.warm, 99),
		"errors":    r.errors,
	})
}

func loadDialer() *net.Dialer {
	d := &net.Dialer{Timeout: 5 * time.Second}
	if *local != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(*local)}
	}
	return d
}

// paced calls send(i, at) at `rps` for `secs`, each in its own goroutine, waits for all and
// returns how many it sent.
func paced(send func(i int, at time.Time)) int {
	var wg sync.WaitGroup
	t0 := time.Now()
	i := 0
	for ; ; i++ {
		at := t0.Add(time.Duration(float64(i) / *rps * float64(time.Second)))
		if at.Sub(t0).Seconds() >= *secs {
			break
		}
		if d := time.Until(at); d > 0 {
			time.Sleep(d)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			send(i, at)
		}()
	}
	wg.Wait()
	return i
}

func runHTTPLoad() {
	d := loadDialer()
	tr := &http.Transport{
		DialContext:         d.DialContext,
		MaxConnsPerHost:     *conns,
		MaxIdleConnsPerHost: *conns,
		IdleConnTimeout:     time.Minute,
		DisableCompression:  true,
	}
	client := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	rec := &recorder{start: time.Now()}
	get := func(i int, at time.Time) {
		req, _ := http.NewRequestWithContext(context.Background(), http.MethodGet,
			fmt.Sprintf("http://%s/r%d/x", *target, (i*7919)%*routes), nil)
		req.Host = *host
		res, err := client.Do(req)
		if err != nil {
			rec.done(at, false)
			return
		}
		_, err = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		rec.done(at, err == nil && res.StatusCode == http.StatusOK)
	}
	if *rps > 0 {
		paced(get)
	} else {
		var wg sync.WaitGroup
		end := rec.start.Add(time.Duration(*secs * float64(time.Second)))
		for c := 0; c < *conns; c++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := c; time.Now().Before(end); i += *conns {
					get(i, time.Now())
				}
			}()
		}
		wg.Wait()
	}
	tr.CloseIdleConnections()
	rec.report()
}

func runEchoLoad() {
	if *rps <= 0 {
		fail(fmt.Errorf("echo-load needs -rps > 0"))
	}
	d := loadDialer()
	type conn struct {
		c       net.Conn
		mu      sync.Mutex
		pending []time.Time
	}
	cs := make([]*conn, *conns)
	for i := range cs {
		c, err := d.Dial("tcp", *target)
		if err != nil {
			fail(fmt.Errorf("dial %s: %w", *target, err))
		}
		c.(*net.TCPConn).SetNoDelay(true)
		cs[i] = &conn{c: c}
	}
	rec := &recorder{start: time.Now()}
	var readers sync.WaitGroup
	for _, c := range cs {
		readers.Add(1)
		go func() {
			defer readers.Done()
			buf := make([]byte, 64*1024)
			got := 0
			for {
				n, err := c.c.Read(buf)
				if err != nil {
					return
				}
				got += n
				for got >= *size {
					got -= *size
					c.mu.Lock()
					at := c.pending[0]
					c.pending = c.pending[1:]
					c.mu.Unlock()
					rec.done(at, true)
				}
			}
		}()
	}
	payload := bytes.Repeat([]byte{1}, *size)
	sent := paced(func(i int, at time.Time) {
		c := cs[i%len(cs)]
		// One writer at a time per connection, so echoes come back in the order of `pending`.
		c.mu.Lock()
		c.pending = append(c.pending, at)
		_, err := c.c.Write(payload)
		c.mu.Unlock()
		if err != nil {
			fail(fmt.Errorf("write: %w", err))
		}
	})
	// Every echo is back (or the connection failed): then stop the readers.
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		rec.mu.Lock()
		n := rec.n
		rec.mu.Unlock()
		if n >= sent {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	for _, c := range cs {
		c.c.Close()
	}
	readers.Wait()
	rec.report()
}

// listenOrFail listens on -listen and says where ({"event":"ready","addr":...}); every server
// mode (server, forward, app, echo) starts this way.
func listenOrFail() net.Listener {
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		fail(err)
	}
	emit(map[string]any{"event": "ready", "addr": ln.Addr().String()})
	return ln
}

func runApp() {
	ok := []byte("ok")
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.Copy(io.Discard, r.Body)
			_, _ = w.Write(ok)
		}),
		IdleTimeout: time.Minute,
	}
	fail(srv.Serve(listenOrFail()))
}

// serveConns listens on -listen and runs handle for each accepted connection in its own
// goroutine, closing the connection when handle returns.
func serveConns(handle func(c net.Conn)) {
	ln := listenOrFail()
	for {
		c, err := ln.Accept()
		if err != nil {
			fail(err)
		}
		go func() {
			defer c.Close()
			handle(c)
		}()
	}
}

func runEcho() {
	serveConns(func(c net.Conn) {
		if t, ok := c.(*net.TCPConn); ok {
			_ = t.SetNoDelay(true)
		}
		_, _ = io.Copy(c, c)
	})
}
