package main

import (
	"bytes"
	"context"
	"debug/buildinfo"
	"errors"
	"os"
	"os/exec"
	"reflect"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/kala-server/kala/db"
)

// Flags may come before, between or after the command words; "--" ends them.
func TestParseFlagsAnywhere(t *testing.T) {
	tests := []struct {
		args  []string
		words []string
		addr  string
		ttl   time.Duration
		help  bool
	}{
		{[]string{"serve", "-addr", "10.0.0.1:1"}, []string{"serve"}, "10.0.0.1:1", 0, false},
		{[]string{"-addr", "10.0.0.1:1", "serve"}, []string{"serve"}, "10.0.0.1:1", 0, false},
		{[]string{"serve", "--addr=10.0.0.1:1"}, []string{"serve"}, "10.0.0.1:1", 0, false},
		{[]string{"-addr=10.0.0.1:1"}, nil, "10.0.0.1:1", 0, false},
		{[]string{"admin", "-addr", "10.0.0.1:1", "reset-password", "bob"}, []string{"admin", "reset-password", "bob"}, "10.0.0.1:1", 0, false},
		{[]string{"admin", "reset-password", "bob", "-token-ttl", "5m"}, []string{"admin", "reset-password", "bob"}, "", 5 * time.Minute, false},
		// a bool flag takes no value: the next word is the command
		{[]string{"-cookie-secure", "keys", "rotate", "-token-ttl=2m"}, []string{"keys", "rotate"}, "", 2 * time.Minute, false},
		{[]string{"admin", "reset-password", "-h"}, []string{"admin", "reset-password"}, "", 0, true},
		{[]string{"-h", "migrate"}, []string{"migrate"}, "", 0, true},
		{[]string{"serve", "--help", "-addr", "10.0.0.1:1"}, []string{"serve"}, "10.0.0.1:1", 0, true},
		// after --, a word that looks like a flag is an argument (a user named -h)
		{[]string{"admin", "reset-password", "--", "-h"}, []string{"admin", "reset-password", "-h"}, "", 0, false},
		{[]string{"-addr", "10.0.0.1:1", "--", "admin", "reset-password", "-x"}, []string{"admin", "reset-password", "-x"}, "10.0.0.1:1", 0, false},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			cleanEnv(t, nil)
			o, words, help, err := parse(tt.args)
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			if !reflect.DeepEqual(words, tt.words) || help != tt.help {
				t.Errorf("words %q help %v, want %q help %v", words, help, tt.words, tt.help)
			}
			if tt.addr == "" {
				tt.addr = "127.0.0.1:8080"
			}
			if tt.ttl == 0 {
				tt.ttl = 15 * time.Minute
			}
			if o.addr != tt.addr || o.tokenTTL != tt.ttl {
				t.Errorf("addr %q token TTL %v, want %q %v", o.addr, o.tokenTTL, tt.addr, tt.ttl)
			}
		})
	}
}

// A command line that makes no sense is a usage error (exit status 2) that names the
// problem, and the command when known; nothing reads the configuration first.
func TestRunUsageErrors(t *testing.T) {
	tests := []struct {
		args []string
		want string // in the message
		cmd  string // the command whose usage line is printed ("" for none)
	}{
		{[]string{"admin", "reset-password"}, "admin reset-password: missing USER", "admin reset-password"},
		{[]string{"-addr", "10.0.0.1:1", "admin", "reset-password"}, "missing USER", "admin reset-password"},
		{[]string{"admin", "reset-password", "a", "b"}, `unexpected argument "b"`, "admin reset-password"},
		{[]string{"admin"}, "admin: missing command (one of: reset-password)", ""},
		{[]string{"admin", "frob"}, `unknown command "admin frob"`, ""},
		{[]string{"keys"}, "keys: missing command (one of: rotate)", ""},
		{[]string{"frobnicate"}, `unknown command "frobnicate"`, ""},
		{[]string{"help", "frobnicate"}, `unknown command "frobnicate"`, ""},
		{[]string{"frobnicate", "-h"}, `unknown command "frobnicate"`, ""},
		{[]string{"version", "extra"}, `version: unexpected argument "extra"`, "version"},
		{[]string{"migrate", "now"}, `unexpected argument "now"`, "migrate"},
		{[]string{"migrate", "-frobnicate"}, "-frobnicate", "migrate"},
		{[]string{"keys", "rotate", "-token-ttl"}, "-token-ttl", "keys rotate"},
		{[]string{"-frobnicate"}, "-frobnicate", "serve"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			cleanEnv(t, nil) // no DATABASE_URL: the usage error comes first
			stop := capture(t, &os.Stdout)
			err := run(tt.args, nil)
			if out := stop(); out != "" {
				t.Errorf("stdout = %q, want nothing", out)
			}
			var ue *usageError
			if !errors.As(err, &ue) {
				t.Fatalf("run = %v, want a usage error", err)
			}
			if !strings.Contains(ue.msg, tt.want) {
				t.Errorf("message %q does not say %q", ue.msg, tt.want)
			}
			if name := ""; ue.cmd != nil {
				name = ue.cmd.name
				if name != tt.cmd {
					t.Errorf("usage of %q, want %q", name, tt.cmd)
				}
			} else if tt.cmd != "" {
				t.Errorf("no usage line, want that of %q", tt.cmd)
			}
		})
	}
}

// Help works with no configuration at all, even a broken one, and each command has its
// own: its usage line, what it does, and the flags it reads.
func TestHelpWithoutDatabase(t *testing.T) {
	serveFlags := []string{"-addr", "KALA_ADDR", "-metrics-addr", "KALA_METRICS_ADDR", "-database-url", "DATABASE_URL",
		"KALA_ADMIN_PASSWORD", "KALA_TOKEN_TTL", "KALA_API_KEY_MAX_DAYS", "KALA_SESSION_IDLE", "KALA_SESSION_MAX",
		"KALA_COOKIE_SECURE", "KALA_CORS_ORIGINS", "KALA_QUERY_TIMEOUT", "KALA_ISSUER", "KALA_TRUSTED_PROXIES",
		"KALA_RATE_FAILURES", "KALA_RATE_PASSWORDS", "KALA_AUDIT_RETENTION", "KALA_PPROF"}
	tests := []struct {
		args    [][]string // ways to ask for the same help
		want    []string
		notWant []string
	}{
		{[][]string{{"help"}, {"-h"}, {"--help"}, {"-help"}},
			append([]string{"usage: kala [COMMAND]", "serve", "migrate", "admin reset-password USER", "keys rotate", "version",
				"help [COMMAND...]", "before or after the command"}, serveFlags...), nil},
		{[][]string{{"serve", "-h"}, {"help", "serve"}, {"-h", "serve"}, {"serve", "--help", "-addr", "10.0.0.1:1"}},
			append([]string{"usage: kala serve [flags]", "SIGTERM"}, serveFlags...), nil},
		{[][]string{{"migrate", "-h"}, {"help", "migrate"}},
			[]string{"usage: kala migrate [flags]", "prints what it", "-database-url", "DATABASE_URL", "whole configuration"},
			[]string{"-addr", "-token-ttl"}},
		{[][]string{{"admin", "reset-password", "-h"}, {"help", "admin", "reset-password"}, {"admin", "reset-password", "bob", "--help"}},
			[]string{"usage: kala admin reset-password [flags] USER", "DATABASE_URL=$(scripts/pg.sh url kala) bin/kala admin reset-password ADMIN", "-database-url"},
			[]string{"-addr", "-token-ttl"}},
		{[][]string{{"admin", "-h"}, {"help", "admin"}},
			[]string{"usage: kala admin COMMAND", "admin reset-password USER"}, []string{"keys rotate"}},
		{[][]string{{"keys", "rotate", "-h"}, {"help", "keys", "rotate"}},
			[]string{"usage: kala keys rotate [flags]", "-database-url", "-token-ttl", "KALA_TOKEN_TTL"}, []string{"-addr"}},
		{[][]string{{"version", "-h"}, {"help", "version"}},
			[]string{"usage: kala version\n", "revision"}, []string{"-database-url"}},
		{[][]string{{"help", "help"}, {"help", "-h"}},
			[]string{"usage: kala help [COMMAND...]"}, []string{"-database-url"}},
	}
	for _, tt := range tests {
		for _, args := range tt.args {
			t.Run(strings.Join(args, " "), func(t *testing.T) {
				// no DATABASE_URL, and a setting that would stop any command using it
				cleanEnv(t, map[string]string{"KALA_TOKEN_TTL": "abc"})
				stopOut, stopErr := capture(t, &os.Stdout), quietStderr(t)
				err := run(args, nil)
				out, errOut := stopOut(), stopErr()
				if err != nil {
					t.Fatalf("run = %v, want help", err)
				}
				if errOut != "" {
					t.Errorf("stderr = %q, want nothing: help goes to stdout", errOut)
				}
				for _, s := range tt.want {
					if !strings.Contains(out, s) {
						t.Errorf("help does not mention %q:\n%s", s, out)
					}
				}
				for _, s := range tt.notWant {
					if strings.Contains(out, s) {
						t.Errorf("help mentions %q, which this command does not read:\n%s", s, out)
					}
				}
			})
		}
	}
}

func TestVersionLine(t *testing.T) {
	set := func(kv ...string) []debug.BuildSetting {
		var out []debug.BuildSetting
		for i := 0; i < len(kv); i += 2 {
			out = append(out, debug.BuildSetting{Key: kv[i], Value: kv[i+1]})
		}
		return out
	}
	tests := []struct {
		name string
		info *debug.BuildInfo
		want string
	}{
		{"no build information", nil, "kala (no build information)"},
		{"tagged, clean", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v1.2.3"},
			Settings: set("vcs", "git", "vcs.revision", "0123abcd", "vcs.time", "2026-01-02T03:04:05Z", "vcs.modified", "false")},
			"kala v1.2.3 (0123abcd, 2026-01-02T03:04:05Z) go1.26.8"},
		{"modified tree", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v0.0.0-20260102030405-0123abcd+dirty"},
			Settings: set("vcs.modified", "true", "vcs.time", "2026-01-02T03:04:05Z", "vcs.revision", "0123abcd")},
			"kala v0.0.0-20260102030405-0123abcd+dirty (0123abcd, 2026-01-02T03:04:05Z, modified) go1.26.8"},
		{"built without VCS stamping", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"},
			Settings: set("-buildmode", "exe")}, "kala (devel) go1.26.8"},
		{"no module version", &debug.BuildInfo{GoVersion: "go1.26.8"}, "kala (devel) go1.26.8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := versionLine(tt.info); got != tt.want {
				t.Errorf("versionLine = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestMigrationReport(t *testing.T) {
	for _, tt := range []struct {
		m    db.Migration
		want string
	}{
		{db.Migration{Version: 5}, "database is up to date at version 5"},
		{db.Migration{Applied: []string{"00005_audit.sql"}, Version: 5}, "applied 1 migration (now at version 5): 00005_audit.sql"},
		{db.Migration{Applied: []string{"00004_a.sql", "00005_b.sql"}, Version: 5},
			"applied 2 migrations (now at version 5): 00004_a.sql, 00005_b.sql"},
	} {
		if got := migrationReport(tt.m); got != tt.want {
			t.Errorf("migrationReport(%+v) = %q, want %q", tt.m, got, tt.want)
		}
	}
}

// The built binary: exit status 0 for help and version, 2 for a command line it cannot
// make sense of, 1 for a configuration it refuses; help and version need no database.
func TestBinaryCommandLine(t *testing.T) {
	bin := buildBinary(t)
	info, err := buildinfo.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	var base []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if !strings.HasPrefix(name, "KALA_") && name != "DATABASE_URL" && !strings.HasPrefix(name, "PG") {
			base = append(base, kv)
		}
	}
	tests := []struct {
		args       []string
		exit       int
		stdout     string // the start of stdout
		stderr     []string
		stdoutOnly bool // nothing on stderr
	}{
		{[]string{"-h"}, 0, "Kala Server", nil, true},
		{[]string{"serve", "-h"}, 0, "usage: kala serve [flags]", nil, true},
		{[]string{"help", "admin", "reset-password"}, 0, "usage: kala admin reset-password [flags] USER", nil, true},
		{[]string{"admin", "reset-password", "-h"}, 0, "usage: kala admin reset-password [flags] USER", nil, true},
		{[]string{"version"}, 0, versionLine(info) + "\n", nil, true},
		{[]string{"admin", "reset-password"}, 2, "", []string{"kala: admin reset-password: missing USER\n",
			"usage: kala admin reset-password [flags] USER\n", "kala help admin reset-password"}, false},
		{[]string{"frobnicate"}, 2, "", []string{`kala: unknown command "frobnicate"`, "kala help"}, false},
		{[]string{"migrate", "-frobnicate"}, 2, "", []string{"kala: flag provided but not defined: -frobnicate", "usage: kala migrate [flags]"}, false},
		{[]string{"migrate"}, 1, "", []string{"kala: bad configuration: DATABASE_URL is not set"}, false},
		{[]string{"admin", "reset-password", "bob"}, 1, "", []string{"kala: bad configuration: DATABASE_URL is not set"}, false},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, bin, tt.args...)
			cmd.Env = base
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			exit := 0
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				exit = ee.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			if exit != tt.exit {
				t.Errorf("exit status %d, want %d; stderr:\n%s", exit, tt.exit, stderr.String())
			}
			if !strings.HasPrefix(stdout.String(), tt.stdout) || tt.stdout == "" && stdout.Len() > 0 {
				t.Errorf("stdout does not start with %q:\n%s", tt.stdout, stdout.String())
			}
			if tt.stdoutOnly && stderr.Len() > 0 {
				t.Errorf("stderr = %q, want nothing", stderr.String())
			}
			for _, s := range tt.stderr {
				if !strings.Contains(stderr.String(), s) {
					t.Errorf("stderr does not say %q:\n%s", s, stderr.String())
				}
			}
		})
	}
}
