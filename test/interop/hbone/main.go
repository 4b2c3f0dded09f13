// Command shoal-hbone-interop drives Istio's own Go HBONE implementation (istio.io/istio/pkg/hbone)
// against Shoal's ztunnel, so interop is checked against a peer Shoal did not write.
//
//	server   Istio's HBONE server on -listen (mTLS, h2); requires the client's SPIFFE id -expect.
//	dial     one CONNECT through the HBONE proxy -proxy to -target; writes -payload, prints the echo.
//	forward  a plain TCP listener on -listen; every connection is tunnelled to -target via -proxy.
//
// Every mode verifies the peer chain against -ca and checks the peer's URI SAN, and prints one
// JSON line per event on stdout (ready, connect, result) for the test to parse.
package main

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"istio.io/istio/pkg/hbone"
)

var (
	mode    = flag.String("mode", "", "server | dial | forward | http-load | echo-load | app | echo (loadgen.go)")
	certF   = flag.String("cert", "", "PEM certificate chain presented to the peer")
	keyF    = flag.String("key", "", "PEM private key")
	caF     = flag.String("ca", "", "PEM trust bundle for the peer's chain")
	expect  = flag.String("expect", "", "SPIFFE id the peer must present")
	listen  = flag.String("listen", "127.0.0.1:0", "listen address (server, forward, app, echo)")
	proxyA  = flag.String("proxy", "", "HBONE proxy address ip:15008 (dial, forward)")
	target  = flag.String("target", "", "destination ip:port carried in :authority (dial, forward)")
	payload = flag.String("payload", "ping", "bytes to send (dial)")
	readN   = flag.Int("read", 0, "bytes to read back (dial; default: as many as were sent)")
)

var outMu sync.Mutex

func emit(v map[string]any) {
	outMu.Lock()
	defer outMu.Unlock()
	b, _ := json.Marshal(v)
	fmt.Println(string(b))
}

func fail(err error) {
	emit(map[string]any{"event": "error", "error": err.Error()})
	os.Exit(1)
}

func uriSAN(c *x509.Certificate) string {
	if len(c.URIs) == 0 {
		return ""
	}
	return c.URIs[0].String()
}

// verifier checks the chain against the bundle (SPIFFE certs carry no DNS/IP names, so the
// standard hostname check is replaced by a URI SAN check, as Istio does) and records the peer id.
func verifier(roots *x509.CertPool, want string, seen *string) func([][]byte, [][]*x509.Certificate) error {
	return func(raw [][]byte, _ [][]*x509.Certificate) error {
		if len(raw) == 0 {
			return errors.New("peer sent no certificate")
		}
		certs := make([]*x509.Certificate, 0, len(raw))
		for _, r := range raw {
			c, err := x509.ParseCertificate(r)
			if err != nil {
				return err
			}
			certs = append(certs, c)
		}
		inter := x509.NewCertPool()
		for _, c := range certs[1:] {
			inter.AddCert(c)
		}
		if _, err := certs[0].Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter,
			KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
			return err
		}
		id := uriSAN(certs[0])
		if seen != nil {
			*seen = id
		}
		if want != "" && id != want {
			return fmt.Errorf("peer identity %q, want %q", id, want)
		}
		return nil
	}
}

func tlsConfig(seen *string) *tls.Config {
	pair, err := tls.LoadX509KeyPair(*certF, *keyF)
	if err != nil {
		fail(err)
	}
	pem, err := os.ReadFile(*caF)
	if err != nil {
		fail(err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(pem) {
		fail(errors.New("no certificates in -ca"))
	}
	return &tls.Config{
		Certificates:          []tls.Certificate{pair},
		NextProtos:            []string{"h2"},
		MinVersion:            tls.VersionTLS12,
		InsecureSkipVerify:    true, // replaced by verifier: SPIFFE certs have no hostnames
		ClientAuth:            tls.RequireAnyClientCert,
		VerifyPeerCertificate: verifier(roots, *expect, seen),
	}
}

func runServer() {
	srv := hbone.NewServer()
	srv.Protocols.SetHTTP2(true) // Istio's server enables h2c only; HBONE runs h2 over TLS
	inner := srv.Handler
	srv.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		peer := ""
		if r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
			peer = uriSAN(r.TLS.PeerCertificates[0])
		}
		emit(map[string]any{"event": "connect", "peer": peer, "authority": r.Host,
			"proto": r.Proto, "forwarded": r.Header.Get("Forwarded")})
		inner.ServeHTTP(w, r)
	})
	srv.TLSConfig = tlsConfig(nil)
	if err := srv.ServeTLS(listenOrFail(), "", ""); err != nil {
		fail(err)
	}
}

func dialer(seen *string) hbone.Dialer {
	timeout := 5 * time.Second
	return hbone.NewDialer(hbone.Config{ProxyAddress: *proxyA, TLS: tlsConfig(seen), Timeout: &timeout})
}

func runDial() {
	var peer string
	conn, err := dialer(&peer).Dial("tcp", *target)
	if err != nil {
		fail(err)
	}
	if _, err := conn.Write([]byte(*payload)); err != nil {
		fail(err)
	}
	n := *readN
	if n == 0 {
		n = len(*payload)
	}
	buf := make([]byte, n)
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadFull(conn, buf); err != nil {
		fail(err)
	}
	_ = conn.Close()
	emit(map[string]any{"event": "result", "peer": peer, "echo": string(buf)})
}

func runForward() {
	d := dialer(nil)
	serveConns(func(c net.Conn) {
		up, err := d.Dial("tcp", *target)
		if err != nil {
			emit(map[string]any{"event": "error", "error": err.Error()})
			return
		}
		defer up.Close()
		done := make(chan struct{}, 2)
		go func() { _, _ = io.Copy(up, c); done <- struct{}{} }()
		go func() { _, _ = io.Copy(c, up); done <- struct{}{} }()
		<-done
	})
}

func main() {
	flag.Parse()
	switch *mode {
	case "server":
		runServer()
	case "dial":
		runDial()
	case "forward":
		runForward()
	case "http-load":
		runHTTPLoad()
	case "echo-load":
		runEchoLoad()
	case "app":
		runApp()
	case "echo":
		runEcho()
	default:
		fail(fmt.Errorf("unknown -mode %q: use server, dial, forward, http-load, echo-load, app or echo", *mode))
	}
}
