package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/dynamic/dynamicinformer"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/events"
)

// reference is the controller event-controller is measured against,
// written as client-go's documentation and most controllers do: a dynamic
// shared informer per resource and the events.k8s.io broadcaster, one
// Event per change with event-controller's reasons.  Objects of the
// initial list get no Event, as on event-controller's first start.
func reference(kubeconfig, ns string, n, qps, burst int) {
	cfg := restConfig(kubeconfig, float32(qps), burst)
	dyn := dynamic.NewForConfigOrDie(cfg)
	cs := kubernetes.NewForConfigOrDie(cfg)

	ctx, stop := signal.NotifyContext(context.Background(),
		syscall.SIGTERM, syscall.SIGINT)
	defer stop()

	broadcaster := events.NewBroadcaster(
		&events.EventSinkImpl{Interface: cs.EventsV1()})
	broadcaster.StartRecordingToSink(ctx.Done())
	recorder := broadcaster.NewRecorder(runtime.NewScheme(),
		"bench.event-controller.dev/reference")

	factory := dynamicinformer.NewFilteredDynamicSharedInformerFactory(
		dyn, 0, ns, nil)
	for i := 1; i <= n; i++ {
		inf := factory.ForResource(widget(i)).Informer()
		_, err := inf.AddEventHandler(handlers(recorder))
		if err != nil {
			fatal("adding a handler: %v", err)
		}
	}
	start := time.Now()
	factory.Start(ctx.Done())
	for gvr, ok := range factory.WaitForCacheSync(ctx.Done()) {
		if !ok {
			fatal("%s did not sync", gvr.Resource)
		}
	}
	fmt.Fprintf(os.Stderr, "reference: [synced] %d resources in %.3fs\n",
		n, time.Since(start).Seconds())

	<-ctx.Done()
	broadcaster.Shutdown()
}

func handlers(r events.EventRecorder) cache.ResourceEventHandler {
	return cache.ResourceEventHandlerDetailedFuncs{
		AddFunc: func(obj any, initial bool) {
			if !initial {
				emit(r, obj, "Created", "Create", "created")
			}
		},
		UpdateFunc: func(oldObj, newObj any) {
			o := oldObj.(*unstructured.Unstructured)
			u := newObj.(*unstructured.Unstructured)
			if o.GetGeneration() != u.GetGeneration() {
				emit(r, u, "Updated", "Update", "spec updated")
			}
			op, _, _ := unstructured.NestedString(o.Object,
				"status", "phase")
			np, _, _ := unstructured.NestedString(u.Object,
				"status", "phase")
			if op != np {
				emit(r, u, "StatusChanged", "UpdateStatus",
					"phase "+np)
			}
		},
		DeleteFunc: func(obj any) {
			if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = d.Obj
			}
			emit(r, obj, "Deleted", "Delete", "deleted")
		},
	}
}

func emit(r events.EventRecorder, obj any, reason, action, note string) {
	u, ok := obj.(*unstructured.Unstructured)
	if !ok {
		return
	}
	r.Eventf(u, nil, corev1.EventTypeNormal, reason, action, "%s", note)
}
