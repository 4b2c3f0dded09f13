// Command baseline is the benchmark's reference xDS server: go-control-plane's SnapshotCache
// and ADS server, serving fixture generation k to nodes n0..n<N-1> (node.id), optionally over
// mutual TLS. It reads commands from stdin, one per line:
//
//	set <k>   build generation k and SetSnapshot it for every node; answers "ok <k>"
//
// and prints "listening <port>" once it accepts connections.
package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"flag"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"

	discoverygrpc "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	"github.com/envoyproxy/go-control-plane/pkg/server/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/keepalive"

	"shoal/test/interop/xds/fixture"
)

func main() {
	port := flag.Int("port", 0, "listen port (0: any free port)")
	nodes := flag.Int("nodes", 2000, "node ids n0..n<nodes-1> to serve")
	caFile := flag.String("ca", "", "CA certificate (PEM) for client certificates; empty: plaintext")
	certFile := flag.String("cert", "", "server certificate (PEM)")
	keyFile := flag.String("key", "", "server private key (PEM)")
	flag.Parse()

	ctx := context.Background()
	snapshots := cache.NewSnapshotCache(true, cache.IDHash{}, nil)
	srv := server.NewServer(ctx, snapshots, nil)

	opts := []grpc.ServerOption{
		grpc.MaxConcurrentStreams(1 << 20),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{PermitWithoutStream: true}),
	}
	if *caFile != "" {
		cert, err := tls.LoadX509KeyPair(*certFile, *keyFile)
		must(err)
		pem, err := os.ReadFile(*caFile)
		must(err)
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM(pem)
		opts = append(opts, grpc.Creds(credentials.NewTLS(&tls.Config{
			Certificates: []tls.Certificate{cert},
			ClientCAs:    pool,
			ClientAuth:   tls.RequireAndVerifyClientCert,
		})))
	}
	gs := grpc.NewServer(opts...)
	discoverygrpc.RegisterAggregatedDiscoveryServiceServer(gs, srv)
	lis, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", *port))
	must(err)
	go func() { must(gs.Serve(lis)) }()
	fmt.Printf("listening %d\n", lis.Addr().(*net.TCPAddr).Port)

	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		f := strings.Fields(in.Text())
		if len(f) != 2 || f[0] != "set" {
			fmt.Fprintf(os.Stderr, "baseline: unknown command %q\n", in.Text())
			continue
		}
		k, err := strconv.Atoi(f[1])
		must(err)
		snap, err := cache.NewSnapshot(fmt.Sprintf("g%d", k), fixture.Resources(k))
		must(err)
		for i := 0; i < *nodes; i++ {
			must(snapshots.SetSnapshot(ctx, fmt.Sprintf("n%d", i), snap))
		}
		fmt.Printf("ok %d\n", k)
	}
}

func must(err error) {
	if err != nil {
		fmt.Fprintf(os.Stderr, "baseline: %v\n", err)
		os.Exit(1)
	}
}
