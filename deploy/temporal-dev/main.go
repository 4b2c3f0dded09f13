// Command shoal-temporal-dev runs a single-process Temporal server (all four
// services, SQLite persistence, no UI) with a command line compatible with
// `temporal server start-dev`, so it can be handed to
// TestWorkflowEnvironment.createLocal({ server: { executable: { type:
// 'existing-path', path } } }) in @temporalio/testing.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"go.temporal.io/server/common/headers"
	"go.temporal.io/server/common/log/tag"
	"go.uber.org/zap/zapcore"
)

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	o, err := parseArgs(args)
	if err != nil {
		fmt.Fprintf(os.Stderr, "shoal-temporal-dev: %v\n\n%s", err, usage)
		return 2
	}
	if o.ShowHelp {
		fmt.Print(usage)
		return 0
	}
	if o.ShowVersion {
		fmt.Printf("shoal-temporal-dev (temporal server %s, %s)\n", headers.ServerVersion, goVersion())
		return 0
	}

	logger, level, err := buildLogger(o)
	if err != nil {
		fmt.Fprintf(os.Stderr, "shoal-temporal-dev: %v\n", err)
		return 2
	}
	for _, f := range o.Unknown {
		logger.Warn("ignoring unknown flag", tag.NewStringTag("flag", f))
	}
	for _, f := range o.Ignored {
		logger.Info("ignoring flag (not supported by this dev server)", tag.NewStringTag("flag", f))
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer stop()
	if o.ExitWithParent {
		go watchParent(stop)
	}

	started := time.Now()
	srv, addrs, err := newServer(o, logger)
	if err != nil {
		fmt.Fprintf(os.Stderr, "shoal-temporal-dev: failed creating server: %v\n", err)
		return 1
	}
	if err := srv.Start(); err != nil {
		fmt.Fprintf(os.Stderr, "shoal-temporal-dev: failed starting server: %v\n", err)
		return 1
	}
	persistence := "in-memory"
	if o.DBFilename != "" {
		persistence = o.DBFilename
	}
	logger.Info("temporal dev server started",
		tag.NewStringTag("frontend", addrs.frontendDial),
		tag.NewStringTag("namespaces", strings.Join(o.Namespaces, ",")),
		tag.NewStringTag("persistence", persistence),
		tag.NewDurationTag("startup", time.Since(started)),
	)

	<-ctx.Done()
	stop() // a second signal now kills the process the default way
	if level != nil && level.Level() > zapcore.InfoLevel {
		// Shutting down makes the server log a burst of expected warnings and
		// "context canceled" errors (pollers losing connections, system
		// workers still starting up, ...). Unless debug/info logging was asked
		// for, silence them: nobody is listening for this server any more.
		level.SetLevel(zapcore.FatalLevel)
	}

	// The server is chatty while shutting down; stopping must not hang forever.
	done := make(chan error, 1)
	go func() { done <- srv.Stop() }()
	select {
	case err := <-done:
		if err != nil {
			fmt.Fprintf(os.Stderr, "shoal-temporal-dev: error while stopping: %v\n", err)
		}
	case <-time.After(15 * time.Second):
		fmt.Fprintln(os.Stderr, "shoal-temporal-dev: server did not stop within 15s, exiting")
	}
	return 0
}

// watchParent calls stop when the process that started us goes away (we get
// re-parented), so an aborted test run does not leave a server behind.
func watchParent(stop func()) {
	ppid := os.Getppid()
	for range time.Tick(time.Second) {
		if os.Getppid() != ppid {
			stop()
			return
		}
	}
}

func goVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		return bi.GoVersion
	}
	return "unknown"
}
