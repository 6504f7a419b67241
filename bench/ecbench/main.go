// Command ecbench is the Go half of bench/run: the load generator of the
// API capacity baseline, the reference controller written the standard
// client-go way, the workload that changes objects and times their
// Events, and the readings of CPU time and memory from /proc.
//
//	ecbench crds KUBECONFIG N
//	ecbench capacity KUBECONFIG NS EVENTS CONCURRENCY
//	ecbench reference KUBECONFIG NS N QPS BURST
//	ecbench preload KUBECONFIG NS N OBJECTS PREFIX
//	ecbench workload KUBECONFIG NS N OBJECTS PREFIX
//	ecbench steady KUBECONFIG NS N OBJECTS RATE SECONDS
//	ecbench proc PID...
//	ecbench table RESULTS.jsonl PLOT.dat
//
// Every measuring subcommand prints one line of JSON on stdout; progress
// goes to stderr.
package main

import (
	"fmt"
	"os"
	"strconv"

	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// The bench's own resources: widgets1..N, so that 10 or 50 resources need
// no CRDs of anybody else's.
const benchGroup = "bench.event-controller.dev"

func widget(i int) schema.GroupVersionResource {
	return schema.GroupVersionResource{
		Group:    benchGroup,
		Version:  "v1",
		Resource: fmt.Sprintf("widgets%d", i),
	}
}

// restConfig reads a kubeconfig with client-side rate limits high enough
// never to be what a measurement measures.
func restConfig(path string, qps float32, burst int) *rest.Config {
	cfg, err := clientcmd.BuildConfigFromFlags("", path)
	if err != nil {
		fatal("reading %s: %v", path, err)
	}
	cfg.QPS = qps
	cfg.Burst = burst
	return cfg
}

func fatal(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "ecbench: "+format+"\n", args...)
	os.Exit(1)
}

func atoi(s string) int {
	n, err := strconv.Atoi(s)
	if err != nil {
		fatal("not a number: %q", s)
	}
	return n
}

func need(n int) {
	if len(os.Args) < n+2 {
		fatal("%s: expected %d arguments, see the comment of main.go",
			os.Args[1], n)
	}
}

func main() {
	if len(os.Args) < 2 {
		fatal("usage: ecbench crds|capacity|reference|preload|" +
			"workload|steady|proc|table ...")
	}
	a := os.Args[2:]
	switch os.Args[1] {
	case "crds":
		need(2)
		installCRDs(a[0], atoi(a[1]))
	case "capacity":
		need(4)
		capacity(a[0], a[1], atoi(a[2]), atoi(a[3]))
	case "reference":
		need(5)
		reference(a[0], a[1], atoi(a[2]), atoi(a[3]), atoi(a[4]))
	case "preload":
		need(5)
		preload(a[0], a[1], atoi(a[2]), atoi(a[3]), a[4])
	case "workload":
		need(5)
		workload(a[0], a[1], atoi(a[2]), atoi(a[3]), a[4])
	case "steady":
		need(6)
		steady(a[0], a[1], atoi(a[2]), atoi(a[3]), atoi(a[4]),
			atoi(a[5]))
	case "proc":
		need(1)
		procReport(a)
	case "table":
		need(2)
		table(a[0], a[1])
	default:
		fatal("unknown subcommand %q", os.Args[1])
	}
}
