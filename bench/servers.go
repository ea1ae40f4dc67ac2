package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// proc is a server under test, started by the harness.
type proc struct {
	name string
	cmd  *exec.Cmd
	base string // http://127.0.0.1:port
	done chan struct{}
	err  error // how it exited, once done is closed
}

// freeAddr returns a loopback address with a port nobody listens on right now.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// start runs bin with its output in logPath; the process is asked to stop (SIGTERM,
// then killed after 10 s) when ctx ends or stop is called.
func start(ctx context.Context, name, bin string, args, env []string, addr, logPath string) (*proc, error) {
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env, cmd.Stdout, cmd.Stderr = env, logf, logf
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 10 * time.Second
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &proc{name: name, cmd: cmd, base: "http://" + addr, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		logf.Close()
		close(p.done)
	}()
	return p, nil
}

// waitReady polls path until it answers 200, the process exits, or 60 s pass.
func (p *proc) waitReady(path, logPath string) error {
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-p.done:
			return fmt.Errorf("%s exited: %v; its log (%s):\n%s", p.name, p.err, logPath, tail(logPath, 30))
		default:
		}
		if res, err := http.Get(p.base + path); err == nil {
			_, _ = io.Copy(io.Discard, res.Body)
			res.Body.Close()
			if res.StatusCode == 200 {
				return nil
			}
		}
		time.Sleep(100 * time.Millisecond) // polling a starting server, not synchronising tests
	}
	return fmt.Errorf("%s not ready after 60 s; its log (%s):\n%s", p.name, logPath, tail(logPath, 30))
}

func (p *proc) stop() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

func (p *proc) alive() error {
	select {
	case <-p.done:
		return fmt.Errorf("%s exited during the run: %v", p.name, p.err)
	default:
		return nil
	}
}

// trimLog keeps the last keep bytes of a log (from a line start): a full run's request
// log is hundreds of MB, and its end is what one looks at.
func trimLog(path string, keep int64) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil || st.Size() <= keep {
		return err
	}
	b := make([]byte, keep)
	if _, err := f.ReadAt(b, st.Size()-keep); err != nil {
		return err
	}
	if i := bytes.IndexByte(b, '\n'); i >= 0 {
		b = b[i+1:]
	}
	return os.WriteFile(path, b, 0o644)
}

func tail(path string, n int) string {
	b, _ := os.ReadFile(path)
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// env returns the environment without the variables that configure Kala or name a
// database, plus extra: the servers get only the configuration given here.
func env(extra ...string) []string {
	var out []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "KALA_") || k == "DATABASE_URL" || strings.HasPrefix(k, "PG") {
			continue
		}
		out = append(out, kv)
	}
	return append(out, extra...)
}

// randomPassword satisfies Kala's and PocketBase's password rules.
func randomPassword() string {
	b := make([]byte, 9)
	_, _ = rand.Read(b)
	return "Bench#" + hex.EncodeToString(b) + "x9"
}

// api is a small JSON client for seeding.
type api struct {
	base string
	hc   *http.Client
}

// do sends body (JSON unless nil) and decodes a JSON answer into out (if not nil); any
// status other than want is an error.
func (a api) do(method, path string, headers map[string]string, body, out any, want int) (http.Header, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, a.base+path, rd)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	res, err := a.hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return nil, err
	}
	if res.StatusCode != want {
		return nil, fmt.Errorf("%s %s: status %d, want %d: %.300s", method, path, res.StatusCode, want, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			return nil, fmt.Errorf("%s %s: %w", method, path, err)
		}
	}
	return res.Header, nil
}

// parallel runs f(0..n-1) on workers goroutines and returns the first error.
func parallel(n, workers int, f func(i int) error) error {
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
	)
	next := make(chan int)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if err := f(i); err != nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
				}
			}
		}()
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	return first
}

// listUsers is how many extra users each server gets, so both lists return full 50-row pages.
const listUsers = 60

// kalaCreds are the credentials the Kala calls use.
type kalaCreds struct {
	adminPassword, token, key, session, loginUser, loginPassword string
}

// seedKala logs in as ADMIN, makes an API key and a Kylin session, and creates the list's
// users and the login user (both through the API, as a user would).
func seedKala(a api, adminPassword string) (kalaCreds, error) {
	c := kalaCreds{adminPassword: adminPassword, loginUser: "bench_login", loginPassword: randomPassword()}
	var tok struct {
		Data struct {
			AccessToken string `json:"access_token"`
		} `json:"data"`
	}
	if _, err := a.do("POST", "/api/auth/access-token", nil,
		map[string]string{"username": "ADMIN", "password": adminPassword}, &tok, 200); err != nil {
		return c, err
	}
	c.token = tok.Data.AccessToken
	bearer := map[string]string{"Authorization": "Bearer " + c.token}
	var key struct {
		Data string `json:"data"`
	}
	if _, err := a.do("POST", "/api/auth/api-key", bearer, map[string]any{"name": "bench",
		"validTo": time.Now().Add(30 * 24 * time.Hour).UTC().Format(time.RFC3339)}, &key, 201); err != nil {
		return c, err
	}
	c.key = key.Data
	h, err := a.do("POST", "/kylin/api/user/authentication",
		map[string]string{"Authorization": basic("ADMIN", adminPassword)}, nil, nil, 200)
	if err != nil {
		return c, err
	}
	for _, ck := range (&http.Response{Header: h}).Cookies() {
		if ck.Name == "JSESSIONID" {
			c.session = ck.Value
		}
	}
	if c.session == "" {
		return c, fmt.Errorf("POST /kylin/api/user/authentication set no JSESSIONID cookie")
	}
	if _, err := a.do("POST", "/api/users", bearer,
		map[string]any{"username": c.loginUser, "password": c.loginPassword}, nil, 201); err != nil {
		return c, err
	}
	pw := randomPassword()
	return c, parallel(listUsers, 4, func(i int) error {
		_, err := a.do("POST", "/api/users", bearer,
			map[string]any{"username": fmt.Sprintf("bench_user_%02d", i), "password": pw}, nil, 201)
		return err
	})
}

func basic(user, password string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+password))
}

// pbCreds are the credentials the PocketBase calls use.
type pbCreds struct {
	superToken, userToken, userID, loginEmail, loginPassword string
}

// seedPocketBase turns off the users collection's new-login e-mails (there is no mail
// server; every login comes from one address anyway), creates the list's users and the
// login user, and logs one of them in.
func seedPocketBase(a api, superEmail, superPassword string) (pbCreds, error) {
	c := pbCreds{loginEmail: "login@bench.example.com", loginPassword: randomPassword()}
	var auth struct {
		Token  string `json:"token"`
		Record struct {
			ID string `json:"id"`
		} `json:"record"`
	}
	if _, err := a.do("POST", "/api/collections/_superusers/auth-with-password", nil,
		map[string]string{"identity": superEmail, "password": superPassword}, &auth, 200); err != nil {
		return c, err
	}
	c.superToken = auth.Token
	su := map[string]string{"Authorization": c.superToken}
	if _, err := a.do("PATCH", "/api/collections/users", su,
		map[string]any{"authAlert": map[string]any{"enabled": false}}, nil, 200); err != nil {
		return c, err
	}
	create := func(email, pw string) error {
		_, err := a.do("POST", "/api/collections/users/records", su,
			map[string]string{"email": email, "password": pw, "passwordConfirm": pw}, nil, 200)
		return err
	}
	if err := create(c.loginEmail, c.loginPassword); err != nil {
		return c, err
	}
	pw := randomPassword()
	if err := parallel(listUsers, 4, func(i int) error {
		return create(fmt.Sprintf("user%02d@bench.example.com", i), pw)
	}); err != nil {
		return c, err
	}
	if _, err := a.do("POST", "/api/collections/users/auth-with-password", nil,
		map[string]string{"identity": "user00@bench.example.com", "password": pw}, &auth, 200); err != nil {
		return c, err
	}
	c.userToken, c.userID = auth.Token, auth.Record.ID
	return c, nil
}

// pbMain is the scratch module's program: PocketBase as its docs show it embedded.
const pbMain = `// Generated by the Kala benchmark (bench/); never committed.
package main

import (
	"log"

	"github.com/pocketbase/pocketbase"
)

func main() {
	if err := pocketbase.New().Start(); err != nil {
		log.Fatal(err)
	}
}
`

// buildPocketBase builds PocketBase at version as a Go module in dir (a scratch folder),
// unless dir already has the binary of that version.
func buildPocketBase(ctx context.Context, goBin, dir, version string, log io.Writer) (string, error) {
	bin := filepath.Join(dir, "pocketbase")
	stamp := filepath.Join(dir, "built-version")
	if b, err := os.ReadFile(stamp); err == nil && string(b) == version {
		if _, err := os.Stat(bin); err == nil {
			return bin, nil
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte(pbMain), 0o644); err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module kalabench/pocketbase\n"), 0o644); err != nil {
		return "", err
	}
	_ = os.Remove(filepath.Join(dir, "go.sum"))
	fmt.Fprintf(log, "building PocketBase %s in %s (a minute or more the first time)\n", version, dir)
	for _, args := range [][]string{
		{"get", "github.com/pocketbase/pocketbase@" + version},
		{"mod", "tidy"},
		{"build", "-o", bin, "."},
	} {
		cmd := exec.CommandContext(ctx, goBin, args...)
		cmd.Dir, cmd.Stdout, cmd.Stderr = dir, log, log
		cmd.Env = append(os.Environ(), "GOWORK=off", "CGO_ENABLED=0", "GOFLAGS=-mod=mod")
		if err := cmd.Run(); err != nil {
			return "", fmt.Errorf("go %s (in %s): %w", strings.Join(args, " "), dir, err)
		}
	}
	return bin, os.WriteFile(stamp, []byte(version), 0o644)
}
