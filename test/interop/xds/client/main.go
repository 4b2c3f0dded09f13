// Command client is a proxyless gRPC client built on google.golang.org/grpc/xds: it resolves
// xds:///<target> through the xDS server named in its bootstrap (GRPC_XDS_BOOTSTRAP, which may
// use TLS channel credentials with certificate files) and calls the backends behind it.
//
// It calls grpc.health.v1.Health/Check `-calls` times and prints one JSON line per call to
// stdout: {"backend": "<x-backend response header>"} or {"error": "..."}.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	_ "google.golang.org/grpc/xds" // registers the xds:/// resolver and balancers
)

func main() {
	target := flag.String("target", "", "xds:///<listener name>")
	calls := flag.Int("calls", 20, "number of calls")
	timeout := flag.Duration("timeout", 20*time.Second, "deadline for the first successful call")
	flag.Parse()
	if *target == "" {
		fmt.Fprintln(os.Stderr, "client: -target is required, e.g. -target xds:///echo")
		os.Exit(2)
	}
	// The data-plane connection to the backends is plaintext; the xDS connection uses the
	// bootstrap's channel_creds (TLS with client certificates in Shoal's interop test).
	conn, err := grpc.NewClient(*target, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		fmt.Fprintf(os.Stderr, "client: dial %s: %v\n", *target, err)
		os.Exit(1)
	}
	defer conn.Close()
	hc := healthpb.NewHealthClient(conn)
	enc := json.NewEncoder(os.Stdout)
	deadline := time.Now().Add(*timeout)
	for i := 0; i < *calls; i++ {
		ctx, cancel := context.WithDeadline(context.Background(), deadline)
		var hdr metadata.MD
		_, err := hc.Check(ctx, &healthpb.HealthCheckRequest{}, grpc.Header(&hdr), grpc.WaitForReady(true))
		cancel()
		if err != nil {
			_ = enc.Encode(map[string]string{"error": err.Error()})
			os.Exit(1)
		}
		backend := ""
		if v := hdr.Get("x-backend"); len(v) > 0 {
			backend = v[0]
		}
		_ = enc.Encode(map[string]string{"backend": backend})
		deadline = time.Now().Add(10 * time.Second)
	}
}
