package main

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"go.temporal.io/server/common/authorization"
	"go.temporal.io/server/common/cluster"
	"go.temporal.io/server/common/config"
	"go.temporal.io/server/common/dynamicconfig"
	"go.temporal.io/server/common/log"
	"go.temporal.io/server/common/membership/static"
	sqliteplugin "go.temporal.io/server/common/persistence/sql/sqlplugin/sqlite"
	"go.temporal.io/server/common/primitives"
	sqliteschema "go.temporal.io/server/schema/sqlite"
	"go.temporal.io/server/temporal"
	"go.uber.org/zap"
	"gopkg.in/yaml.v3"
)

const clusterName = "active"

// defaultDynamicConfig mirrors what `temporal server start-dev` sets on top
// of the server defaults. Values given with --dynamic-config-value win.
func defaultDynamicConfig() map[string]any {
	return map[string]any{
		// Search attributes / Nexus endpoints visible immediately after creation.
		dynamicconfig.ForceSearchAttributesCacheRefreshOnRead.Key().String(): true,
		"system.forceNexusEndpointRefreshOnRead":                             true,
		// The SA cache is bypassed, so raise persistence QPS limits accordingly.
		"frontend.persistenceMaxQPS": 10000,
		"history.persistenceMaxQPS":  45000,
		// Host level mutable state cache and visibility RPS as in the CLI dev server.
		dynamicconfig.HistoryCacheHostLevelMaxSize.Key().String():                 8096,
		dynamicconfig.FrontendMaxNamespaceVisibilityRPSPerInstance.Key().String(): 100,
	}
}

// addresses of the four services. The frontend binds where told (--ip/--port);
// history, matching and worker bind on the loopback interface on free ports
// picked by the OS, so several servers can run side by side.
type addresses struct {
	frontendBind     string // IP the frontend binds on (--ip)
	frontendDial     string // host:port other services/clients use to reach the frontend
	internalIP       string // IP the internal services bind on
	historyPort      int
	matchingPort     int
	workerPort       int
	httpPort         int
	frontendHTTPDial string
}

func loopbackFor(ip string) string {
	if parsed := net.ParseIP(ip); parsed != nil && parsed.To4() == nil {
		return "::1"
	}
	return "127.0.0.1"
}

func resolveAddresses(o *options) (*addresses, error) {
	if net.ParseIP(o.IP) == nil {
		return nil, fmt.Errorf("--ip %q is not an IP address", o.IP)
	}
	a := &addresses{frontendBind: o.IP, internalIP: loopbackFor(o.IP)}
	dialIP := o.IP
	if net.ParseIP(o.IP).IsUnspecified() {
		dialIP = a.internalIP
	}
	a.frontendDial = net.JoinHostPort(dialIP, strconv.Itoa(o.Port))
	exclude := map[int]bool{o.Port: true, o.HTTPPort: true}
	// Like the CLI dev server, the frontend HTTP API (needed by Nexus) is
	// always on: --http-port, or a free port on the frontend IP.
	a.httpPort = o.HTTPPort
	if a.httpPort == 0 {
		p, err := freePorts(o.IP, 1, exclude)
		if err != nil {
			return nil, err
		}
		a.httpPort = p[0]
	}
	a.frontendHTTPDial = net.JoinHostPort(dialIP, strconv.Itoa(a.httpPort))
	ports, err := freePorts(a.internalIP, 3, exclude)
	if err != nil {
		return nil, err
	}
	a.historyPort, a.matchingPort, a.workerPort = ports[0], ports[1], ports[2]
	return a, nil
}

// freePorts asks the OS for n distinct free TCP ports on ip. Like sdk-core's
// get_free_port, each port is left in TIME_WAIT (we connect to it and close
// the accepted side first) so the kernel won't hand it out again to another
// bind(:0) for a while, while we can still bind it (SO_REUSEADDR, which Go
// sets on listeners by default).
func freePorts(ip string, n int, exclude map[int]bool) ([]int, error) {
	var out []int
	for attempts := 0; len(out) < n; attempts++ {
		if attempts > 50 {
			return nil, fmt.Errorf("could not find %d free ports on %s", n, ip)
		}
		l, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
		if err != nil {
			return nil, fmt.Errorf("finding a free port on %s: %w", ip, err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		if c, err := net.Dial("tcp", l.Addr().String()); err == nil {
			if s, err := l.Accept(); err == nil {
				_ = s.Close()
			}
			_ = c.Close()
		}
		_ = l.Close()
		if exclude[port] {
			continue
		}
		exclude[port] = true
		out = append(out, port)
	}
	return out, nil
}

func buildSQLConfig(o *options) *config.SQL {
	conf := &config.SQL{PluginName: sqliteplugin.PluginName}
	if o.DBFilename == "" {
		// Shared-cache in-memory database: every connection the server opens
		// (through the plugin's connection pool) sees the same data. A random
		// name keeps concurrent servers in one process apart; separate
		// processes are separate anyway.
		conf.ConnectAttributes = map[string]string{"mode": "memory", "cache": "shared"}
		conf.DatabaseName = "shoal-" + strconv.Itoa(rand.IntN(1<<30))
	} else {
		conf.ConnectAttributes = map[string]string{"mode": "rwc"}
		conf.DatabaseName = o.DBFilename
	}
	for k, v := range o.SqlitePragmas {
		conf.ConnectAttributes[k] = v
	}
	return conf
}

// prepareDatabase creates the schema (file mode, new file; in-memory mode does
// this inside the plugin) and registers the namespaces.
func prepareDatabase(o *options, sqlConf *config.SQL) error {
	if o.DBFilename != "" {
		if _, err := os.Stat(o.DBFilename); os.IsNotExist(err) {
			if _, err := os.Stat(filepath.Dir(o.DBFilename)); err != nil {
				return fmt.Errorf("directory for --db-filename: %w", err)
			}
			if err := sqliteschema.SetupSchema(sqlConf); err != nil {
				return fmt.Errorf("setting up SQLite schema: %w", err)
			}
		}
	}
	namespaces := make([]*sqliteschema.NamespaceConfig, 0, len(o.Namespaces))
	for _, ns := range o.Namespaces {
		// Retention is 24h (set by NewNamespaceConfig), archival disabled.
		nsConf, err := sqliteschema.NewNamespaceConfig(clusterName, ns, false, o.SearchAttrs)
		if err != nil {
			return fmt.Errorf("namespace %q: %w", ns, err)
		}
		namespaces = append(namespaces, nsConf)
	}
	if err := sqliteschema.CreateNamespaces(sqlConf, namespaces...); err != nil {
		return fmt.Errorf("registering namespaces: %w", err)
	}
	return nil
}

func buildConfig(o *options, a *addresses, sqlConf *config.SQL) *config.Config {
	var conf config.Config
	conf.Global.Membership.MaxJoinDuration = 30 * time.Second
	conf.Global.Membership.BroadcastAddress = a.internalIP
	// No metrics listener, no pprof: nothing listens except the gRPC services.

	conf.Persistence.DefaultStore = "sqlite-default"
	conf.Persistence.VisibilityStore = "sqlite-default"
	conf.Persistence.NumHistoryShards = 1
	conf.Persistence.DataStores = map[string]config.DataStore{"sqlite-default": {SQL: sqlConf}}

	conf.ClusterMetadata = &cluster.Config{
		EnableGlobalNamespace:    false,
		FailoverVersionIncrement: 10,
		MasterClusterName:        clusterName,
		CurrentClusterName:       clusterName,
		ClusterInformation: map[string]cluster.ClusterInformation{
			clusterName: {
				Enabled:                true,
				InitialFailoverVersion: 1,
				RPCAddress:             a.frontendDial,
				HTTPAddress:            a.frontendHTTPDial,
				ClusterID:              uuid.NewString(),
			},
		},
	}
	conf.DCRedirectionPolicy.Policy = "noop"

	internal := func(port int) config.Service {
		return config.Service{RPC: config.RPC{GRPCPort: port, BindOnIP: a.internalIP}}
	}
	conf.Services = map[string]config.Service{
		"frontend": {RPC: config.RPC{GRPCPort: o.Port, BindOnIP: a.frontendBind, HTTPPort: a.httpPort}},
		"history":  internal(a.historyPort),
		"matching": internal(a.matchingPort),
		"worker":   internal(a.workerPort),
	}
	conf.Archival.History.State = "disabled"
	conf.Archival.Visibility.State = "disabled"
	conf.NamespaceDefaults.Archival.History.State = "disabled"
	conf.NamespaceDefaults.Archival.Visibility.State = "disabled"
	// Used by the server's internal SDK client (worker service system workflows).
	conf.PublicClient.HostPort = a.frontendDial
	return &conf
}

// buildLogger returns a zap based server logger writing to stderr and the
// level handle, so shutdown noise can be suppressed.
func buildLogger(o *options) (log.Logger, *zap.AtomicLevel, error) {
	level := strings.ToLower(o.LogLevel)
	switch level {
	case "never", "off", "none", "silent":
		return log.NewNoopLogger(), nil, nil
	case "warning":
		level = "warn"
	case "debug", "info", "warn", "error", "dpanic", "panic", "fatal":
	default:
		return nil, nil, fmt.Errorf("invalid --log-level %q (debug|info|warn|error|never)", o.LogLevel)
	}
	encoding := "console"
	switch strings.ToLower(o.LogFormat) {
	case "json":
		encoding = "json"
	case "pretty", "text", "console", "logfmt", "":
	default:
		return nil, nil, fmt.Errorf("invalid --log-format %q (pretty|text|json)", o.LogFormat)
	}
	atom := zap.NewAtomicLevelAt(log.ParseZapLevel(level))
	zl, err := zap.Config{
		Level:            atom,
		Encoding:         encoding,
		EncoderConfig:    log.DefaultZapEncoderConfig,
		OutputPaths:      []string{"stderr"},
		ErrorOutputPaths: []string{"stderr"},
	}.Build()
	if err != nil {
		return nil, nil, err
	}
	return log.NewZapLogger(zl), &atom, nil
}

func newServer(o *options, logger log.Logger) (temporal.Server, *addresses, error) {
	a, err := resolveAddresses(o)
	if err != nil {
		return nil, nil, err
	}
	sqlConf := buildSQLConfig(o)
	if err := prepareDatabase(o, sqlConf); err != nil {
		return nil, nil, err
	}
	conf := buildConfig(o, a, sqlConf)
	if o.LogConfig {
		if b, err := yaml.Marshal(conf); err == nil {
			_, _ = os.Stderr.Write(b)
		}
	}

	authorizer, err := authorization.GetAuthorizerFromConfig(&conf.Global.Authorization)
	if err != nil {
		return nil, nil, fmt.Errorf("authorizer: %w", err)
	}
	claimMapper, err := authorization.GetClaimMapperFromConfig(&conf.Global.Authorization, logger)
	if err != nil {
		return nil, nil, fmt.Errorf("claim mapper: %w", err)
	}

	dc := defaultDynamicConfig()
	for k, v := range o.DynamicConfig {
		dc[k] = v
	}
	dynClient := make(dynamicconfig.StaticClient, len(dc))
	for k, v := range dc {
		dynClient[dynamicconfig.MakeKey(k)] = v
	}

	hostPort := func(port int) string { return net.JoinHostPort(a.internalIP, strconv.Itoa(port)) }
	srv, err := temporal.NewServer(
		temporal.WithConfig(conf),
		temporal.ForServices(temporal.DefaultServices),
		// Static membership: no ringpop, no membership ports.
		temporal.WithStaticHosts(map[primitives.ServiceName]static.Hosts{
			primitives.FrontendService: static.SingleLocalHost(a.frontendDial),
			primitives.HistoryService:  static.SingleLocalHost(hostPort(a.historyPort)),
			primitives.MatchingService: static.SingleLocalHost(hostPort(a.matchingPort)),
			primitives.WorkerService:   static.SingleLocalHost(hostPort(a.workerPort)),
		}),
		temporal.WithLogger(logger),
		temporal.WithAuthorizer(authorizer),
		temporal.WithClaimMapper(func(*config.Config) authorization.ClaimMapper { return claimMapper }),
		temporal.WithDynamicConfigClient(dynClient),
	)
	if err != nil {
		return nil, nil, err
	}
	return srv, a, nil
}
