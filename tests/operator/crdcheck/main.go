// crdcheck validates CRDs the way kube-apiserver does on create (structural schema, CEL compilation and
// cost estimates), then validates custom resources against them (OpenAPI schema and CEL rules at runtime).
//
//	crdcheck CRD.yaml... -- CR.yaml...
//
// One JSON line per file: {"file": ..., "errors": [...]}. Exit 1 if a CRD is invalid.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"

	apiext "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	v1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	crdvalidation "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/validation"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/cel"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/validation"
	utiljson "k8s.io/apimachinery/pkg/util/json"
	"k8s.io/apimachinery/pkg/util/validation/field"
	celconfig "k8s.io/apiserver/pkg/apis/cel"
	"sigs.k8s.io/yaml"
)

type result struct {
	File   string   `json:"file"`
	Errors []string `json:"errors"`
}

func report(file string, errs field.ErrorList) {
	r := result{File: file, Errors: []string{}}
	for _, e := range errs {
		r.Errors = append(r.Errors, e.Error())
	}
	line, _ := json.Marshal(r)
	fmt.Println(string(line))
}

func main() {
	schemas := map[string]*apiext.JSONSchemaProps{}
	crdFailed := false
	args := os.Args[1:]
	i := 0
	for ; i < len(args) && args[i] != "--"; i++ {
		data, err := os.ReadFile(args[i])
		if err != nil {
			panic(err)
		}
		var crd v1.CustomResourceDefinition
		if err := yaml.UnmarshalStrict(data, &crd); err != nil {
			report(args[i], field.ErrorList{field.Invalid(nil, "", err.Error())})
			crdFailed = true
			continue
		}
		v1.SetObjectDefaults_CustomResourceDefinition(&crd)
		var internal apiext.CustomResourceDefinition
		if err := v1.Convert_v1_CustomResourceDefinition_To_apiextensions_CustomResourceDefinition(&crd, &internal, nil); err != nil {
			panic(err)
		}
		errs := crdvalidation.ValidateCustomResourceDefinition(context.TODO(), &internal)
		crdFailed = crdFailed || len(errs) > 0
		report(args[i], errs)
		props := internal.Spec.Validation
		if props == nil && len(internal.Spec.Versions) > 0 {
			props = internal.Spec.Versions[0].Schema
		}
		schemas[internal.Spec.Names.Kind] = props.OpenAPIV3Schema
	}
	for i++; i < len(args); i++ {
		data, err := os.ReadFile(args[i])
		if err != nil {
			panic(err)
		}
		// Decode like the API server: JSON with integers kept as int64 (CEL tells int from double).
		jsonData, err := yaml.YAMLToJSON(data)
		if err != nil {
			panic(err)
		}
		var obj map[string]interface{}
		if err := utiljson.Unmarshal(jsonData, &obj); err != nil {
			panic(err)
		}
		kind, _ := obj["kind"].(string)
		props, ok := schemas[kind]
		if !ok {
			report(args[i], field.ErrorList{field.NotSupported[string](field.NewPath("kind"), kind, nil)})
			continue
		}
		validator, _, err := validation.NewSchemaValidator(props)
		if err != nil {
			panic(err)
		}
		errs := validation.ValidateCustomResource(nil, obj, validator)
		structural, err := schema.NewStructural(props)
		if err != nil {
			panic(err)
		}
		celErrs, _ := cel.NewValidator(structural, true, celconfig.PerCallLimit).Validate(
			context.TODO(), nil, structural, obj, nil, celconfig.RuntimeCELCostBudget)
		report(args[i], append(errs, celErrs...))
	}
	if crdFailed {
		os.Exit(1)
	}
}
