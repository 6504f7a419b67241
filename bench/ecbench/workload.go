package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
)

// Writers of the workload: enough to keep the apiserver busy on 2 cores.
const writers = 16

// Seconds without a new Event after which the missing ones are given up.
const settle = 20 * time.Second

type task struct{ resource, index int }

func objectName(prefix string, t task) string {
	return fmt.Sprintf("%s-r%d-%d", prefix, t.resource, t.index)
}

func widgetObject(ns, name string, resource int) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": benchGroup + "/v1",
		"kind":       fmt.Sprintf("Widget%d", resource),
		"metadata":   map[string]any{"name": name, "namespace": ns},
		"spec":       map[string]any{"image": "jupyter:1", "cpu": "1"},
	}}
}

func ensureNamespace(cs kubernetes.Interface, ns string) {
	_, err := cs.CoreV1().Namespaces().Create(context.Background(),
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}},
		metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		fatal("creating namespace %s: %v", ns, err)
	}
}

// run calls f for objects 0..perResource-1 of every resource from the
// workload's writers.
func run(n, perResource int, f func(task)) {
	tasks := make(chan task, 1024)
	var wg sync.WaitGroup
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for t := range tasks {
				f(t)
			}
		}()
	}
	for j := 0; j < perResource; j++ {
		for i := 1; i <= n; i++ {
			tasks <- task{i, j}
		}
	}
	close(tasks)
	wg.Wait()
}

// preload creates objects that exist before the controller starts: what
// it lists and then holds in memory.
func preload(kubeconfig, ns string, n, perResource int, prefix string) {
	cfg := restConfig(kubeconfig, 1e6, 1e6)
	dyn := dynamic.NewForConfigOrDie(cfg)
	ensureNamespace(kubernetes.NewForConfigOrDie(cfg), ns)
	start := time.Now()
	var failed atomic.Int64
	run(n, perResource, func(t task) {
		name := objectName(prefix, t)
		obj := widgetObject(ns, name, t.resource)
		_, err := dyn.Resource(widget(t.resource)).Namespace(ns).Create(
			context.Background(), obj, metav1.CreateOptions{})
		if err != nil && !apierrors.IsAlreadyExists(err) {
			failed.Add(1)
		}
	})
	if failed.Load() > 0 {
		fatal("preload: %d creations failed", failed.Load())
	}
	fmt.Fprintf(os.Stderr, "ecbench: preloaded %d objects in %.1fs\n",
		n*perResource, time.Since(start).Seconds())
}

// timings pairs the time a write returned with the time its Event was
// seen, per object name and reason.
type timings struct {
	mu            sync.Mutex
	written, seen map[string]time.Time
	duplicates    int
	lastSeen      time.Time
}

func (t *timings) write(key string) {
	now := time.Now()
	t.mu.Lock()
	t.written[key] = now
	t.mu.Unlock()
}

func (t *timings) see(key string) {
	now := time.Now()
	t.mu.Lock()
	if _, dup := t.seen[key]; dup {
		t.duplicates++
	} else {
		t.seen[key] = now
	}
	t.lastSeen = now
	t.mu.Unlock()
}

func (t *timings) count() (int, time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.seen), t.lastSeen
}

// watchEvents sees every Event of ns written from now on, through a watch
// on events.k8s.io/v1 that resumes from its last resourceVersion.
func watchEvents(ctx context.Context, cs kubernetes.Interface, ns,
	prefix string, t *timings) {
	api := cs.EventsV1().Events(ns)
	list, err := api.List(ctx, metav1.ListOptions{Limit: 1})
	if err != nil {
		fatal("listing Events: %v", err)
	}
	rv := list.ResourceVersion
	ready := make(chan struct{})
	var once sync.Once
	go func() {
		for ctx.Err() == nil {
			w, err := api.Watch(ctx, metav1.ListOptions{
				ResourceVersion: rv, AllowWatchBookmarks: true,
			})
			once.Do(func() { close(ready) })
			if err != nil {
				time.Sleep(200 * time.Millisecond)
				continue
			}
			for ev := range w.ResultChan() {
				e, ok := ev.Object.(*eventsv1.Event)
				if !ok {
					continue
				}
				rv = e.ResourceVersion
				mine := strings.HasPrefix(e.Regarding.Name,
					prefix+"-")
				if ev.Type != watch.Added || !mine {
					continue
				}
				t.see(e.Regarding.Name + "/" + e.Reason)
			}
		}
	}()
	<-ready
}

// workload puts objects 0..perResource-1 of every resource through
// create, spec update, status update and delete, and reports how soon
// and how fast their Events appeared.
func workload(kubeconfig, ns string, n, perResource int, prefix string) {
	cfg := restConfig(kubeconfig, 1e6, 1e6)
	dyn := dynamic.NewForConfigOrDie(cfg)
	cs := kubernetes.NewForConfigOrDie(cfg)
	ensureNamespace(cs, ns)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	t := &timings{written: map[string]time.Time{},
		seen: map[string]time.Time{}}
	watchEvents(ctx, cs, ns, prefix, t)

	var failed atomic.Int64
	start := time.Now()
	run(n, perResource, func(k task) {
		if err := lifecycle(ctx, dyn, ns, prefix, k, t); err != nil {
			if failed.Add(1) <= 3 {
				fmt.Fprintf(os.Stderr, "ecbench: %v\n", err)
			}
		}
	})
	wrote := time.Since(start)
	expected := 4 * n * perResource

	for {
		seen, last := t.count()
		if seen >= expected {
			break
		}
		quiet := time.Since(last) > settle
		if quiet && time.Since(start) > wrote+settle {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	report(t, start, wrote, expected, int(failed.Load()))
}

// lifecycle makes the four changes of one object, noting when each write
// returned.
func lifecycle(ctx context.Context, dyn dynamic.Interface, ns,
	prefix string, k task, t *timings) error {
	api := dyn.Resource(widget(k.resource)).Namespace(ns)
	name := objectName(prefix, k)

	_, err := api.Create(ctx, widgetObject(ns, name, k.resource),
		metav1.CreateOptions{})
	if err != nil {
		return fmt.Errorf("create %s: %v", name, err)
	}
	t.write(name + "/Created")

	spec := []byte(`{"spec":{"image":"jupyter:2"}}`)
	_, err = api.Patch(ctx, name, types.MergePatchType, spec,
		metav1.PatchOptions{})
	if err != nil {
		return fmt.Errorf("update %s: %v", name, err)
	}
	t.write(name + "/Updated")

	status := []byte(`{"status":{"phase":"Running"}}`)
	_, err = api.Patch(ctx, name, types.MergePatchType, status,
		metav1.PatchOptions{}, "status")
	if err != nil {
		return fmt.Errorf("update status of %s: %v", name, err)
	}
	t.write(name + "/StatusChanged")

	err = api.Delete(ctx, name, metav1.DeleteOptions{})
	if err != nil {
		return fmt.Errorf("delete %s: %v", name, err)
	}
	t.write(name + "/Deleted")
	return nil
}

func percentile(sorted []float64, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(p * float64(len(sorted)-1))
	return sorted[i]
}

// report prints the Events seen, their rate from the first write to the
// last Event, and the latency from each write's return to its Event.
func report(t *timings, start time.Time, wrote time.Duration,
	expected, failed int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	var lat []float64
	for key, seen := range t.seen {
		if w, ok := t.written[key]; ok {
			lat = append(lat, seen.Sub(w).Seconds())
		}
	}
	sort.Float64s(lat)
	span, rate := 0.0, 0.0
	if len(t.seen) > 0 {
		span = t.lastSeen.Sub(start).Seconds()
		rate = float64(len(t.seen)) / span
	}
	out, _ := json.Marshal(map[string]any{
		"changes": len(t.written), "expected": expected,
		"events": len(t.seen), "duplicates": t.duplicates,
		"failed_writes": failed, "write_seconds": wrote.Seconds(),
		"seconds": span, "rate": rate,
		"p50_s": percentile(lat, 0.50), "p99_s": percentile(lat, 0.99),
		"max_s": percentile(lat, 1),
	})
	fmt.Println(string(out))
}

// steady changes the spec of preloaded objects round-robin at rate per
// second for the given seconds: a soak at a steady rate.
func steady(kubeconfig, ns string, n, perResource, rate, seconds int) {
	dyn := dynamic.NewForConfigOrDie(restConfig(kubeconfig, 1e6, 1e6))
	end := time.Now().Add(time.Duration(seconds) * time.Second)
	tick := time.NewTicker(time.Second / time.Duration(rate))
	defer tick.Stop()
	changes, failed := 0, 0
	for i := 0; time.Now().Before(end); i++ {
		<-tick.C
		k := task{1 + i%n, (i / n) % perResource}
		// A value never written before: a patch that changes nothing
		// would not change the generation either.
		patch := fmt.Sprintf(`{"spec":{"round":%d}}`,
			time.Now().UnixNano())
		api := dyn.Resource(widget(k.resource)).Namespace(ns)
		name := objectName("pre", k)
		_, err := api.Patch(context.Background(), name,
			types.MergePatchType, []byte(patch),
			metav1.PatchOptions{})
		if err != nil {
			failed++
		}
		changes++
	}
	out, _ := json.Marshal(map[string]any{
		"changes": changes, "failed_writes": failed,
	})
	fmt.Println(string(out))
}
