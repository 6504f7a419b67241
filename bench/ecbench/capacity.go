package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// capacity posts n events.k8s.io/v1 Events into ns from `concurrency`
// goroutines over the one HTTP/2 connection client-go keeps per host: the
// emitter's way of writing (src/writer.c keeps up to 100 streams in flight
// on one connection), with nothing else in the way.
func capacity(kubeconfig, ns string, n, concurrency int) {
	cs := kubernetes.NewForConfigOrDie(restConfig(kubeconfig, 1e6, 1e6))
	ctx := context.Background()
	_, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{
		ObjectMeta: metav1.ObjectMeta{Name: ns},
	}, metav1.CreateOptions{})
	if err != nil {
		fatal("creating namespace %s: %v", ns, err)
	}

	var next, failed atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for g := 0; g < concurrency; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1)
				if i > int64(n) {
					return
				}
				ev := capacityEvent(ns, i)
				_, err := cs.EventsV1().Events(ns).Create(ctx,
					ev, metav1.CreateOptions{})
				if err != nil {
					failed.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	secs := time.Since(start).Seconds()

	pss, _ := procPSS(os.Getpid())
	cpu, _ := procCPU(os.Getpid())
	out, _ := json.Marshal(map[string]any{
		"events": n, "failed": failed.Load(), "seconds": secs,
		"rate":    float64(int64(n)-failed.Load()) / secs,
		"pss_kib": pss, "cpu_s": cpu,
	})
	fmt.Println(string(out))
}

// capacityEvent is an Event of the size and fields event-controller writes
// for a created object.
func capacityEvent(ns string, i int64) *eventsv1.Event {
	obj := fmt.Sprintf("cap-%d", i)
	name := fmt.Sprintf("%s.%x", obj, time.Now().UnixNano())
	return &eventsv1.Event{
		ObjectMeta: metav1.ObjectMeta{
			Name:      name,
			Namespace: ns,
		},
		EventTime:           metav1.NowMicro(),
		ReportingController: "bench.event-controller.dev/capacity",
		ReportingInstance:   "ecbench",
		Action:              "Create",
		Reason:              "Created",
		Type:                corev1.EventTypeNormal,
		Note:                "created",
		Regarding: corev1.ObjectReference{
			APIVersion: benchGroup + "/v1",
			Kind:       "Widget1",
			Namespace:  ns,
			Name:       obj,
			UID:        "00000000-0000-0000-0000-000000000000",
		},
	}
}
