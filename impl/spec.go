package impl

import (
	"encoding/json"
	"net/http"

	"github.com/kala-server/kala"
	"github.com/kala-server/kala/impl/contract"
)

// specDocs is the contract as served at /openapi.yaml and /openapi.json.
type specDocs struct {
	yaml, json []byte
}

func specDocuments(c *contract.Contract) (*specDocs, error) {
	j, err := json.Marshal(c.Doc)
	if err != nil {
		return nil, err
	}
	return &specDocs{yaml: kala.OpenAPI, json: j}, nil
}

func (d *specDocs) serveYAML(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/yaml")
	_, _ = w.Write(d.yaml)
}

func (d *specDocs) serveJSON(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(d.json)
}
