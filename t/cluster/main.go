// Command kube-fixture runs a real etcd and a real kube-apiserver on
// loopback for the tests and the demo of event-controller.
//
// Each control plane lives in a directory of its own, so several can run at
// once. The directory holds the keys, the tokens, the kubeconfig, etcd's
// data, the logs and the pid files; the subcommands find everything there.
//
//	kube-fixture up DIR [--no-watch-cache] [--max-mutating-inflight N]
//	                    [--no-events-v1]
//	kube-fixture down DIR
//	kube-fixture restart DIR
//	kube-fixture compact DIR
//	kube-fixture client-cert DIR USER [GROUP] (prints PEM paths)
//	kube-fixture etcd DIR          (internal: runs etcd in the foreground)
//	kube-fixture apiserver DIR     (internal: runs the apiserver)
package main

import (
	"fmt"
	"os"
)

func usage() {
	fmt.Fprintln(os.Stderr, "usage: kube-fixture up|down|restart|compact|"+
		"client-cert|etcd|apiserver DIR [options]")
	os.Exit(64)
}

func main() {
	if len(os.Args) < 3 {
		usage()
	}
	cmd, dir := os.Args[1], os.Args[2]
	args := os.Args[3:]

	var err error
	switch cmd {
	case "up":
		err = up(dir, args)
	case "down":
		err = down(dir)
	case "restart":
		err = restart(dir)
	case "compact":
		err = compact(dir)
	case "client-cert":
		err = clientCert(dir, args)
	case "etcd":
		err = runEtcd(dir)
	case "apiserver":
		err = runAPIServer(dir)
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "kube-fixture %s: %v\n", cmd, err)
		os.Exit(1)
	}
}
