package main

import (
	"fmt"
	"os"
	"path/filepath"

	"k8s.io/kubernetes/cmd/kube-apiserver/app"
)

// apiserverFlags are the flags of a secure, self-contained apiserver with
// no controller-manager beside it.  The apiserver installs a signal handler
// that may be set up once per process, so each apiserver is its own process.
func apiserverFlags(dir string, st *state) []string {
	p := func(name string) string { return filepath.Join(dir, name) }
	flags := []string{
		fmt.Sprintf("--etcd-servers=http://127.0.0.1:%d", st.EtcdPort),
		"--bind-address=127.0.0.1",
		"--advertise-address=127.0.0.1",
		fmt.Sprintf("--secure-port=%d", st.APIPort),
		"--tls-cert-file=" + p("apiserver.crt"),
		"--tls-private-key-file=" + p("apiserver.key"),
		"--client-ca-file=" + p("ca.crt"),
		"--cert-dir=" + p("certs"),
		"--service-account-issuer=https://kubernetes.default.svc",
		"--service-account-key-file=" + p("sa.key"),
		"--service-account-signing-key-file=" + p("sa.key"),
		"--token-auth-file=" + p("tokens.csv"),
		"--authorization-mode=RBAC",
		"--service-cluster-ip-range=10.0.0.0/24",
		"--disable-admission-plugins=ServiceAccount",
		"--endpoint-reconciler-type=none",
		// Tests compact by hand, to make 410 Gone on demand.
		"--etcd-compaction-interval=0",
	}
	if st.NoWatchCache {
		flags = append(flags, "--watch-cache=false")
	}
	if st.NoEventsV1 {
		flags = append(flags, "--runtime-config=events.k8s.io/v1=false")
	}
	if st.MaxMutatingInflight > 0 {
		// The in-flight limit answers 429 only without priority and
		// fairness, which would queue the requests instead.
		flags = append(flags,
			fmt.Sprintf("--max-mutating-requests-inflight=%d",
				st.MaxMutatingInflight),
			"--enable-priority-and-fairness=false")
	}
	return flags
}

func runAPIServer(dir string) error {
	st, err := loadState(dir)
	if err != nil {
		return err
	}
	cmd := app.NewAPIServerCommand()
	cmd.SetArgs(apiserverFlags(dir, st))
	os.Args = []string{"kube-apiserver"}
	return cmd.Execute()
}
