package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"

	enumspb "go.temporal.io/api/enums/v1"
)

// options holds the parsed command line. The flag names mirror
// `temporal server start-dev` from the Temporal CLI so that SDK test harnesses
// (sdk-core's ephemeral_server, used by @temporalio/testing createLocal with an
// `existing-path` executable) can launch this binary unchanged.
type options struct {
	IP             string
	Port           int
	HTTPPort       int
	Namespaces     []string
	DBFilename     string
	LogFormat      string
	LogLevel       string
	DynamicConfig  map[string]any
	SearchAttrs    map[string]enumspb.IndexedValueType
	SqlitePragmas  map[string]string
	ExitWithParent bool
	LogConfig      bool

	ShowHelp    bool
	ShowVersion bool

	// Flags that were accepted but have no effect (UI, metrics, ...), and
	// flags that were not recognised at all. Both are reported at info level.
	Ignored []string
	Unknown []string
}

// flagSpec describes how one accepted flag is parsed.
type flagSpec struct {
	takesValue bool
	apply      func(o *options, v string) error // nil => accepted and ignored
}

func intFlag(dst func(o *options) *int) func(o *options, v string) error {
	return func(o *options, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > 65535 {
			return fmt.Errorf("invalid port %q", v)
		}
		*dst(o) = n
		return nil
	}
}

var flagSpecs = map[string]flagSpec{
	// ---- flags with an effect ----
	"ip":        {true, func(o *options, v string) error { o.IP = v; return nil }},
	"port":      {true, intFlag(func(o *options) *int { return &o.Port })},
	"http-port": {true, intFlag(func(o *options) *int { return &o.HTTPPort })},
	"namespace": {true, func(o *options, v string) error {
		if v == "" {
			return fmt.Errorf("empty namespace")
		}
		o.Namespaces = append(o.Namespaces, v)
		return nil
	}},
	"db-filename": {true, func(o *options, v string) error { o.DBFilename = v; return nil }},
	"log-format":  {true, func(o *options, v string) error { o.LogFormat = v; return nil }},
	"log-level":   {true, func(o *options, v string) error { o.LogLevel = v; return nil }},
	// Older CLI versions had a separate server log level flag.
	"log-level-server":     {true, func(o *options, v string) error { o.LogLevel = v; return nil }},
	"dynamic-config-value": {true, parseDynamicConfigValue},
	"search-attribute":     {true, parseSearchAttribute},
	"sqlite-pragma": {true, func(o *options, v string) error {
		k, val, ok := strings.Cut(v, "=")
		if !ok || strings.TrimSpace(k) == "" {
			return fmt.Errorf("invalid --sqlite-pragma %q, expected KEY=VALUE", v)
		}
		o.SqlitePragmas[strings.TrimSpace(k)] = strings.TrimSpace(val)
		return nil
	}},
	"log-config":       {false, func(o *options, _ string) error { o.LogConfig = true; return nil }},
	"exit-with-parent": {false, func(o *options, _ string) error { o.ExitWithParent = true; return nil }},
	"help":             {false, func(o *options, _ string) error { o.ShowHelp = true; return nil }},
	"version":          {false, func(o *options, _ string) error { o.ShowVersion = true; return nil }},

	// ---- accepted for compatibility, no effect (no UI / metrics / CLI client config here) ----
	"headless":                   {false, nil},
	"ui-port":                    {true, nil},
	"ui-ip":                      {true, nil},
	"ui-public-path":             {true, nil},
	"ui-asset-path":              {true, nil},
	"ui-codec-endpoint":          {true, nil},
	"ui-disable-news-fetch":      {false, nil},
	"metrics-port":               {true, nil},
	"pprof-port":                 {true, nil},
	"color":                      {true, nil},
	"env":                        {true, nil},
	"env-file":                   {true, nil},
	"config-file":                {true, nil},
	"profile":                    {true, nil},
	"disable-config-file":        {false, nil},
	"disable-config-env":         {false, nil},
	"time-format":                {true, nil},
	"output":                     {true, nil},
	"command-timeout":            {true, nil},
	"no-json-shorthand-payloads": {false, nil},
}

var shortFlags = map[string]string{
	"n": "namespace",
	"p": "port",
	"f": "db-filename",
	"h": "help",
	"v": "version",
	"o": "output",
}

func newOptions() *options {
	return &options{
		IP:            "127.0.0.1",
		Port:          7233,
		LogFormat:     "pretty",
		LogLevel:      "warn",
		DynamicConfig: map[string]any{},
		SearchAttrs:   map[string]enumspb.IndexedValueType{},
		SqlitePragmas: map[string]string{},
	}
}

// parseArgs parses `server start-dev [flags]`. It is deliberately lenient:
// unknown flags never make it fail (a warning is logged instead), so a newer
// SDK passing a flag we don't know about still gets a working server.
func parseArgs(args []string) (*options, error) {
	o := newOptions()
	var positionals []string
	for i := 0; i < len(args); i++ {
		arg := args[i]
		if arg == "--" {
			positionals = append(positionals, args[i+1:]...)
			break
		}
		if !strings.HasPrefix(arg, "-") || arg == "-" {
			positionals = append(positionals, arg)
			continue
		}
		name := strings.TrimLeft(arg, "-")
		value, hasValue := "", false
		if k, v, ok := strings.Cut(name, "="); ok {
			name, value, hasValue = k, v, true
		}
		if !strings.HasPrefix(arg, "--") {
			if long, ok := shortFlags[name]; ok {
				name = long
			}
		}
		spec, known := flagSpecs[name]
		if !known {
			// Unknown flag: consume a following value if it does not look like a flag.
			if !hasValue && i+1 < len(args) && !strings.HasPrefix(args[i+1], "-") &&
				args[i+1] != "server" && args[i+1] != "start-dev" {
				value, hasValue = args[i+1], true
				i++
			}
			o.Unknown = append(o.Unknown, arg+optionalValue(hasValue, value))
			continue
		}
		if spec.takesValue && !hasValue {
			if i+1 >= len(args) {
				return nil, fmt.Errorf("flag --%s needs a value", name)
			}
			i++
			value = args[i]
		} else if !spec.takesValue && hasValue {
			// --headless=true / --headless=false
			b, err := strconv.ParseBool(value)
			if err != nil {
				return nil, fmt.Errorf("invalid boolean for --%s: %q", name, value)
			}
			if !b {
				continue
			}
		}
		if spec.apply == nil {
			o.Ignored = append(o.Ignored, "--"+name+optionalValue(spec.takesValue, value))
			continue
		}
		if err := spec.apply(o, value); err != nil {
			return nil, fmt.Errorf("--%s: %w", name, err)
		}
	}

	// Expected positionals: `server start-dev`. Tolerate their absence.
	rest := positionals
	if len(rest) > 0 && rest[0] == "server" {
		rest = rest[1:]
	}
	if len(rest) > 0 && rest[0] == "start-dev" {
		rest = rest[1:]
	}
	if len(rest) > 0 && !o.ShowHelp && !o.ShowVersion {
		if len(positionals) > 0 && positionals[0] == "version" {
			o.ShowVersion = true
		} else {
			return nil, fmt.Errorf("unexpected arguments %q (usage: server start-dev [flags])", rest)
		}
	}

	if o.IP == "localhost" {
		// The server needs an IP, not a host name (same as the Temporal CLI).
		o.IP = "127.0.0.1"
	}
	if o.Port == 0 {
		return nil, fmt.Errorf("--port must be > 0")
	}
	// Like the Temporal CLI, "default" is always registered in addition to
	// whatever --namespace values were given.
	o.Namespaces = dedupe(append([]string{"default"}, o.Namespaces...))
	return o, nil
}

func optionalValue(has bool, v string) string {
	if !has {
		return ""
	}
	return " " + v
}

func dedupe(in []string) []string {
	seen := map[string]bool{}
	out := in[:0:0]
	for _, s := range in {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// parseDynamicConfigValue handles KEY=VALUE where VALUE is JSON (as in the
// Temporal CLI). A VALUE that is not valid JSON is used as a plain string.
// JSON numbers become int when integral (dynamic config int settings do not
// accept float64), float64 otherwise.
func parseDynamicConfigValue(o *options, v string) error {
	k, raw, ok := strings.Cut(v, "=")
	k = strings.TrimSpace(k)
	if !ok || k == "" {
		return fmt.Errorf("invalid value %q, expected KEY=JSON_VALUE", v)
	}
	dec := json.NewDecoder(bytes.NewReader([]byte(raw)))
	dec.UseNumber()
	var val any
	if err := dec.Decode(&val); err != nil {
		val = raw
	} else if _, err := dec.Token(); err != io.EOF {
		val = raw // trailing garbage: not a single JSON value
	} else {
		val = normalizeJSONNumbers(val)
	}
	o.DynamicConfig[k] = val
	return nil
}

func normalizeJSONNumbers(v any) any {
	switch t := v.(type) {
	case json.Number:
		if n, err := t.Int64(); err == nil {
			return int(n)
		}
		if f, err := t.Float64(); err == nil {
			return f
		}
		return t.String()
	case map[string]any:
		for k, e := range t {
			t[k] = normalizeJSONNumbers(e)
		}
		return t
	case []any:
		for i, e := range t {
			t[i] = normalizeJSONNumbers(e)
		}
		return t
	default:
		return v
	}
}

// parseSearchAttribute handles NAME=TYPE, TYPE being an indexed value type
// such as Keyword, Text, Int, Double, Bool, Datetime, KeywordList
// (case-insensitive), which is what @temporalio/testing passes.
func parseSearchAttribute(o *options, v string) error {
	name, typ, ok := strings.Cut(v, "=")
	name, typ = strings.TrimSpace(name), strings.TrimSpace(typ)
	if !ok || name == "" {
		return fmt.Errorf("invalid value %q, expected NAME=TYPE", v)
	}
	for shorthand, ord := range enumspb.IndexedValueType_shorthandValue {
		if strings.EqualFold(shorthand, typ) {
			o.SearchAttrs[name] = enumspb.IndexedValueType(ord)
			return nil
		}
	}
	for full, ord := range enumspb.IndexedValueType_value {
		if strings.EqualFold(full, typ) && ord != 0 {
			o.SearchAttrs[name] = enumspb.IndexedValueType(ord)
			return nil
		}
	}
	return fmt.Errorf("invalid search attribute type %q for %q", typ, name)
}

const usage = `shoal-temporal-dev: a Temporal dev server (go.temporal.io/server + SQLite) for tests.

Usage:
  shoal-temporal-dev server start-dev [flags]

Flags (compatible with 'temporal server start-dev'):
  --ip IP                      frontend gRPC bind address (default 127.0.0.1)
  -p, --port PORT              frontend gRPC port (default 7233)
  -n, --namespace NAME         namespace to register (repeatable; "default" is always registered)
  -f, --db-filename PATH       SQLite file to persist to (default: in-memory, gone on exit)
  --log-format FORMAT          pretty|text|console or json (default pretty), logs go to stderr
  --log-level LEVEL            debug|info|warn|error|never (default warn)
  --dynamic-config-value K=V   dynamic config override, V is JSON (repeatable)
  --search-attribute NAME=TYPE custom search attribute on all namespaces (repeatable)
  --sqlite-pragma K=V          SQLite pragma, e.g. journal_mode=wal (repeatable)
  --http-port PORT             frontend HTTP API port (default: a free port on --ip)
  --exit-with-parent           exit when the launching process goes away
  --log-config                 print the generated server config (YAML) to stderr
  --version                    print versions and exit

Accepted and ignored: --headless, --ui-port, --ui-ip, --ui-public-path,
--ui-asset-path, --ui-codec-endpoint, --ui-disable-news-fetch, --metrics-port,
and CLI client flags (--env, --color, --config-file, ...). Unknown flags are
logged and ignored.
`
