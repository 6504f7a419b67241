package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
)

// widgetCRD is Widget<i>: namespaced, with a status subresource, keeping
// any field under spec and status, as the seed's CRDs do.
func widgetCRD(i int) *unstructured.Unstructured {
	open := map[string]any{
		"type":                                 "object",
		"x-kubernetes-preserve-unknown-fields": true,
	}
	plural := fmt.Sprintf("widgets%d", i)
	kind := fmt.Sprintf("Widget%d", i)
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apiextensions.k8s.io/v1",
		"kind":       "CustomResourceDefinition",
		"metadata":   map[string]any{"name": plural + "." + benchGroup},
		"spec": map[string]any{
			"group": benchGroup,
			"scope": "Namespaced",
			"names": map[string]any{
				"kind":     kind,
				"plural":   plural,
				"singular": strings.ToLower(kind),
				"listKind": kind + "List",
			},
			"versions": []any{map[string]any{
				"name":    "v1",
				"served":  true,
				"storage": true,
				"subresources": map[string]any{
					"status": map[string]any{},
				},
				"schema": map[string]any{
					"openAPIV3Schema": map[string]any{
						"type": "object",
						"properties": map[string]any{
							"spec":   open,
							"status": open,
						},
					},
				},
			}},
		},
	}}
}

// installCRDs creates widgets1..n and waits until discovery serves them.
func installCRDs(kubeconfig string, n int) {
	cfg := restConfig(kubeconfig, 1000, 1000)
	dyn := dynamic.NewForConfigOrDie(cfg)
	crds := dyn.Resource(schema.GroupVersionResource{
		Group: "apiextensions.k8s.io", Version: "v1",
		Resource: "customresourcedefinitions",
	})
	ctx := context.Background()
	for i := 1; i <= n; i++ {
		_, err := crds.Create(ctx, widgetCRD(i), metav1.CreateOptions{})
		if err != nil && !apierrors.IsAlreadyExists(err) {
			fatal("creating the CRD of widgets%d: %v", i, err)
		}
	}

	disc := discovery.NewDiscoveryClientForConfigOrDie(cfg)
	deadline := time.Now().Add(120 * time.Second)
	for {
		gv := benchGroup + "/v1"
		list, err := disc.ServerResourcesForGroupVersion(gv)
		served := 0
		if err == nil {
			for _, r := range list.APIResources {
				if !strings.Contains(r.Name, "/") {
					served++
				}
			}
		}
		if served >= n {
			break
		}
		if time.Now().After(deadline) {
			fatal("discovery serves %d of %d widget resources",
				served, n)
		}
		time.Sleep(200 * time.Millisecond)
	}
	fmt.Fprintf(os.Stderr, "ecbench: %d widget resources served\n", n)
}
