// Command loadgen simulates N ADS clients (state of the world, one gRPC connection each) for the
// xDS benchmark. Each client subscribes to CDS (wildcard), EDS (c-a, c-b), LDS (wildcard) and
// RDS (r) as node n<i>, and ACKs every response. With -ca-cert/-ca-key it mints a client
// certificate per node (URI SAN spiffe://<td>/shoal/node/<cluster>/n<i>) and speaks mutual TLS.
//
// stdout, one JSON object per line:
//
//	{"event":"allAcked","version":"g3","at":<unix ms>}  every client has ACKed g3 for all 4 types
//	{"event":"error","message":"..."}
package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"flag"
	"fmt"
	"math/big"
	"net/url"
	"os"
	"sync"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	discoverypb "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
)

var subscriptions = []struct {
	typeURL string
	names   []string
}{
	{resource.ClusterType, nil},
	{resource.EndpointType, []string{"c-a", "c-b"}},
	{resource.ListenerType, nil},
	{resource.RouteType, []string{"r"}},
}

type tracker struct {
	mu     sync.Mutex
	n      int
	counts map[string]int
	out    *json.Encoder
}

func (t *tracker) clientAt(version string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.counts[version]++
	if t.counts[version] == t.n {
		_ = t.out.Encode(map[string]any{"event": "allAcked", "version": version, "at": time.Now().UnixMilli()})
	}
}

func (t *tracker) fail(msg string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	_ = t.out.Encode(map[string]any{"event": "error", "message": msg})
}

func main() {
	addr := flag.String("addr", "", "xDS server host:port")
	n := flag.Int("clients", 2000, "number of simulated clients")
	caCert := flag.String("ca-cert", "", "CA certificate (PEM); with -ca-key: mutual TLS")
	caKey := flag.String("ca-key", "", "CA private key (PKCS#8 PEM)")
	td := flag.String("trust-domain", "shoal.test", "SPIFFE trust domain")
	cluster := flag.String("cluster", "bench", "cluster of the simulated nodes")
	flag.Parse()
	if *addr == "" {
		fmt.Fprintln(os.Stderr, "loadgen: -addr is required")
		os.Exit(2)
	}
	var mint func(i int) credentials.TransportCredentials
	if *caCert != "" {
		ca, key, pool := loadCA(*caCert, *caKey)
		mint = func(i int) credentials.TransportCredentials {
			return credentials.NewTLS(&tls.Config{
				Certificates: []tls.Certificate{clientCert(ca, key, *td, *cluster, fmt.Sprintf("n%d", i))},
				RootCAs:      pool,
				ServerName:   "localhost",
			})
		}
	}
	t := &tracker{n: *n, counts: map[string]int{}, out: json.NewEncoder(os.Stdout)}
	for i := 0; i < *n; i++ {
		creds := insecure.NewCredentials()
		if mint != nil {
			creds = mint(i)
		}
		go runClient(*addr, creds, *cluster, fmt.Sprintf("n%d", i), t)
		if i%100 == 99 {
			time.Sleep(20 * time.Millisecond) // spread the handshakes a little
		}
	}
	select {}
}

// runClient keeps one ADS stream open, reconnecting (as a real client does) when it fails, e.g.
// when a TLS handshake times out while thousands of clients connect at once.
func runClient(addr string, creds credentials.TransportCredentials, cluster, id string, t *tracker) {
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(creds))
	if err != nil {
		t.fail(err.Error())
		return
	}
	acked := map[string]string{}
	for attempt := 0; ; attempt++ {
		err := stream(conn, cluster, id, acked, t)
		if attempt < 3 {
			t.fail(fmt.Sprintf("%s: %v (reconnecting)", id, err))
		}
		time.Sleep(time.Duration(200+attempt*100) * time.Millisecond)
	}
}

func stream(conn *grpc.ClientConn, cluster, id string, acked map[string]string, t *tracker) error {
	stream, err := discoverypb.NewAggregatedDiscoveryServiceClient(conn).StreamAggregatedResources(context.Background())
	if err != nil {
		return err
	}
	node := &corev3.Node{Id: id, Cluster: cluster}
	for _, s := range subscriptions {
		must(t, stream.Send(&discoverypb.DiscoveryRequest{Node: node, TypeUrl: s.typeURL, ResourceNames: s.names}))
	}
	names := map[string][]string{}
	for _, s := range subscriptions {
		names[s.typeURL] = s.names
	}
	for {
		resp, err := stream.Recv()
		if err != nil {
			return err
		}
		must(t, stream.Send(&discoverypb.DiscoveryRequest{
			TypeUrl: resp.TypeUrl, VersionInfo: resp.VersionInfo, ResponseNonce: resp.Nonce,
			ResourceNames: names[resp.TypeUrl],
		}))
		before := allAt(acked)
		acked[resp.TypeUrl] = resp.VersionInfo
		if after := allAt(acked); after != "" && after != before {
			t.clientAt(after)
		}
	}
}

// allAt returns the version every subscribed type has ACKed, or "".
func allAt(acked map[string]string) string {
	v := ""
	for _, s := range subscriptions {
		a, ok := acked[s.typeURL]
		if !ok || (v != "" && a != v) {
			return ""
		}
		v = a
	}
	return v
}

func must(t *tracker, err error) {
	if err != nil {
		t.fail(err.Error())
	}
}

func loadCA(certFile, keyFile string) (*x509.Certificate, any, *x509.CertPool) {
	cp, err := os.ReadFile(certFile)
	exitOn(err)
	kp, err := os.ReadFile(keyFile)
	exitOn(err)
	cb, _ := pem.Decode(cp)
	kb, _ := pem.Decode(kp)
	if cb == nil || kb == nil {
		exitOn(fmt.Errorf("CA certificate or key is not PEM"))
	}
	ca, err := x509.ParseCertificate(cb.Bytes)
	exitOn(err)
	key, err := x509.ParsePKCS8PrivateKey(kb.Bytes)
	exitOn(err)
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	return ca, key, pool
}

func clientCert(ca *x509.Certificate, caKey any, td, cluster, node string) tls.Certificate {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	exitOn(err)
	uri, _ := url.Parse(fmt.Sprintf("spiffe://%s/shoal/node/%s/%s", td, cluster, node))
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: node},
		NotBefore:    time.Now().Add(-time.Minute),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		URIs:         []*url.URL{uri},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	exitOn(err)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

func exitOn(err error) {
	if err != nil {
		fmt.Fprintf(os.Stderr, "loadgen: %v\n", err)
		os.Exit(1)
	}
}
