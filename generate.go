// Package kala holds the contract (openapi.yaml) and the go:generate lines that turn it into gen/.
package kala

//go:generate go tool oapi-codegen -config gen/models.cfg.yaml openapi.yaml
//go:generate go tool oapi-codegen -config gen/server.cfg.yaml openapi.yaml
//go:generate go tool oapi-codegen -config gen/client.cfg.yaml openapi.yaml

import _ "embed"

// OpenAPI is openapi.yaml as written, served at /openapi.yaml.
//
//go:embed openapi.yaml
var OpenAPI []byte
