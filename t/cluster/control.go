package main

import (
	"bytes"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// state is what up decides once and every later subcommand reads back.
type state struct {
	EtcdPort            int  `json:"etcdPort"`
	EtcdPeerPort        int  `json:"etcdPeerPort"`
	APIPort             int  `json:"apiPort"`
	NoWatchCache        bool `json:"noWatchCache"`
	NoEventsV1          bool `json:"noEventsV1"`
	MaxMutatingInflight int  `json:"maxMutatingInflight"`
}

func loadState(dir string) (*state, error) {
	b, err := os.ReadFile(filepath.Join(dir, "state.json"))
	if err != nil {
		return nil, err
	}
	st := &state{}
	return st, json.Unmarshal(b, st)
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func randomToken() string {
	b := make([]byte, 24)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// prepare writes everything a fresh control plane needs into dir.
func prepare(dir string, st *state) error {
	if err := os.MkdirAll(filepath.Join(dir, "certs"), 0o700); err != nil {
		return err
	}
	err := makeCA(filepath.Join(dir, "ca"), "event-controller-fixture-ca")
	if err != nil {
		return err
	}
	if err := makeServingCert(dir); err != nil {
		return err
	}
	if err := makeServiceAccountKey(dir); err != nil {
		return err
	}

	admin, restricted := randomToken(), randomToken()
	tokens := fmt.Sprintf("%s,admin,admin-uid,\"system:masters\"\n"+
		"%s,restricted,restricted-uid\n", admin, restricted)
	files := map[string]string{
		"tokens.csv":       tokens,
		"admin.token":      admin + "\n",
		"restricted.token": restricted + "\n",
		"kubeconfig":       kubeconfig(dir, st, "admin", admin),
		"restricted.kubeconfig": kubeconfig(dir, st, "restricted",
			restricted),
	}
	for name, content := range files {
		path := filepath.Join(dir, name)
		err := os.WriteFile(path, []byte(content), 0o600)
		if err != nil {
			return err
		}
	}
	b, _ := json.Marshal(st)
	return os.WriteFile(filepath.Join(dir, "state.json"), b, 0o600)
}

func kubeconfig(dir string, st *state, user, token string) string {
	return fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: fixture
  cluster:
    server: https://127.0.0.1:%d
    certificate-authority: %s
users:
- name: %s
  user:
    token: %s
contexts:
- name: fixture
  context:
    cluster: fixture
    user: %s
    namespace: default
current-context: fixture
`, st.APIPort, filepath.Join(dir, "ca.crt"), user, token, user)
}

// spawn starts this binary again with role and dir, detached into its own
// session, with its output in DIR/role.log and its pid in DIR/role.pid.
func spawn(dir, role string) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	logf, err := os.OpenFile(filepath.Join(dir, role+".log"),
		os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd := exec.Command(self, role, dir)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return err
	}
	pid := strconv.Itoa(cmd.Process.Pid)
	pidFile := filepath.Join(dir, role+".pid")
	err = os.WriteFile(pidFile, []byte(pid+"\n"), 0o600)
	cmd.Process.Release()
	return err
}

func readPid(dir, role string) int {
	b, err := os.ReadFile(filepath.Join(dir, role+".pid"))
	if err != nil {
		return 0
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	return pid
}

func alive(pid int) bool {
	return pid > 0 && syscall.Kill(pid, 0) == nil
}

// stop sends SIGTERM, waits up to 20 s, then kills.
func stop(dir, role string) {
	pid := readPid(dir, role)
	if !alive(pid) {
		return
	}
	syscall.Kill(pid, syscall.SIGTERM)
	for i := 0; i < 200 && alive(pid); i++ {
		time.Sleep(100 * time.Millisecond)
	}
	if alive(pid) {
		syscall.Kill(pid, syscall.SIGKILL)
		for i := 0; i < 50 && alive(pid); i++ {
			time.Sleep(100 * time.Millisecond)
		}
	}
	os.Remove(filepath.Join(dir, role+".pid"))
}

func logTail(dir, role string) string {
	b, _ := os.ReadFile(filepath.Join(dir, role+".log"))
	if len(b) > 3000 {
		b = b[len(b)-3000:]
	}
	return string(b)
}

// waitFor polls check until it succeeds, the process of role dies, or the
// time runs out.
func waitFor(dir, role string, limit time.Duration, check func() error) error {
	deadline := time.Now().Add(limit)
	var err error
	for time.Now().Before(deadline) {
		if err = check(); err == nil {
			return nil
		}
		if !alive(readPid(dir, role)) {
			return fmt.Errorf("%s exited; its log ends:\n%s", role,
				logTail(dir, role))
		}
		time.Sleep(200 * time.Millisecond)
	}
	return fmt.Errorf("%s not ready after %s: %v", role, limit, err)
}

// adminClient talks to the apiserver as the admin, trusting only the
// fixture's CA.
type adminClient struct {
	http  *http.Client
	base  string
	token string
}

func newAdminClient(dir string, st *state) (*adminClient, error) {
	ca, err := os.ReadFile(filepath.Join(dir, "ca.crt"))
	if err != nil {
		return nil, err
	}
	tok, err := os.ReadFile(filepath.Join(dir, "admin.token"))
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca)
	return &adminClient{
		http: &http.Client{
			Timeout: 10 * time.Second,
			Transport: &http.Transport{
				TLSClientConfig: &tls.Config{RootCAs: pool},
			},
		},
		base:  fmt.Sprintf("https://127.0.0.1:%d", st.APIPort),
		token: strings.TrimSpace(string(tok)),
	}, nil
}

func (c *adminClient) do(method, path string, body []byte) (
	int, []byte, error) {
	req, err := http.NewRequest(method, c.base+path, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

func (c *adminClient) ready() error {
	code, body, err := c.do("GET", "/readyz", nil)
	if err != nil {
		return err
	}
	if code != 200 {
		return fmt.Errorf("/readyz: %d %s", code, body)
	}
	return nil
}

func etcdHealthy(st *state) func() error {
	return func() error {
		url := fmt.Sprintf("http://127.0.0.1:%d/health", st.EtcdPort)
		resp, err := http.Get(url)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			return fmt.Errorf("etcd /health: %d", resp.StatusCode)
		}
		return nil
	}
}

func startAPIServer(dir string, st *state) error {
	if err := spawn(dir, "apiserver"); err != nil {
		return err
	}
	c, err := newAdminClient(dir, st)
	if err != nil {
		return err
	}
	return waitFor(dir, "apiserver", 180*time.Second, c.ready)
}

func up(dir string, args []string) error {
	fs := flag.NewFlagSet("up", flag.ContinueOnError)
	noWatchCache := fs.Bool("no-watch-cache", false,
		"serve every watch from etcd, so compaction gives 410 at once")
	maxMutating := fs.Int("max-mutating-inflight", 0,
		"limit concurrent writes, so that excess writes get 429")
	noEventsV1 := fs.Bool("no-events-v1", false,
		"serve no events.k8s.io/v1: clients fall back to core/v1")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if alive(readPid(dir, "apiserver")) || alive(readPid(dir, "etcd")) {
		return fmt.Errorf("%s: a control plane already runs there", dir)
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		return err
	}

	st := &state{
		NoWatchCache:        *noWatchCache,
		MaxMutatingInflight: *maxMutating,
		NoEventsV1:          *noEventsV1,
	}
	for _, p := range []*int{&st.EtcdPort, &st.EtcdPeerPort, &st.APIPort} {
		if *p, err = freePort(); err != nil {
			return err
		}
	}
	if err := prepare(dir, st); err != nil {
		return err
	}

	if err := spawn(dir, "etcd"); err != nil {
		return err
	}
	err = waitFor(dir, "etcd", 60*time.Second, etcdHealthy(st))
	if err != nil {
		return err
	}
	if err := startAPIServer(dir, st); err != nil {
		stop(dir, "etcd")
		return err
	}
	if err := installCRDs(dir, st); err != nil {
		down(dir)
		return err
	}
	fmt.Printf("KUBECONFIG=%s\n", filepath.Join(dir, "kubeconfig"))
	return nil
}

func down(dir string) error {
	stop(dir, "apiserver")
	stop(dir, "etcd")
	return nil
}

func restart(dir string) error {
	st, err := loadState(dir)
	if err != nil {
		return err
	}
	stop(dir, "apiserver")
	return startAPIServer(dir, st)
}
