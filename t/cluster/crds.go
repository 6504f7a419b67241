package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// The seed's custom resources: namespaced, with a status subresource and a
// schema that keeps any field under spec and status.
var seedKinds = []struct{ kind, plural string }{
	{"Notebook", "notebooks"},
	{"ImageBuilder", "imagebuilders"},
	{"WorkflowTemplate", "workflowtemplates"},
}

const seedGroup = "tensorstack.dev"

func crd(kind, plural string) []byte {
	open := map[string]any{
		"type":                                 "object",
		"x-kubernetes-preserve-unknown-fields": true,
	}
	obj := map[string]any{
		"apiVersion": "apiextensions.k8s.io/v1",
		"kind":       "CustomResourceDefinition",
		"metadata":   map[string]any{"name": plural + "." + seedGroup},
		"spec": map[string]any{
			"group": seedGroup,
			"scope": "Namespaced",
			"names": map[string]any{
				"kind":     kind,
				"plural":   plural,
				"singular": strings.ToLower(kind),
				"listKind": kind + "List",
			},
			"versions": []any{map[string]any{
				"name":    "v1beta1",
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
	}
	b, _ := json.Marshal(obj)
	return b
}

// installCRDs creates the seed's CRDs and waits until discovery serves them.
func installCRDs(dir string, st *state) error {
	c, err := newAdminClient(dir, st)
	if err != nil {
		return err
	}
	const crds = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
	for _, k := range seedKinds {
		code, body, err := c.do("POST", crds, crd(k.kind, k.plural))
		if err != nil {
			return err
		}
		if code != 201 && code != 409 {
			return fmt.Errorf("creating CRD %s: %d %s",
				k.plural, code, body)
		}
	}
	return waitFor(dir, "apiserver", 60*time.Second, func() error {
		path := "/apis/" + seedGroup + "/v1beta1"
		code, body, err := c.do("GET", path, nil)
		if err != nil {
			return err
		}
		if code != 200 {
			return fmt.Errorf("discovery of %s: %d",
				seedGroup, code)
		}
		for _, k := range seedKinds {
			name := `"name":"` + k.plural + `"`
			if !strings.Contains(string(body), name) {
				return fmt.Errorf("%s not served yet", k.plural)
			}
		}
		return nil
	})
}
