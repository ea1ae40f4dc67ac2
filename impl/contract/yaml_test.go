package contract_test

import (
	"os"
	"testing"

	"gopkg.in/yaml.v3"
)

// Generators that convert YAML to JSON on their own (ogen among them) stop at
// the first alias, so the document is written out in full.
func TestDocumentHasNoAnchorsOrAliases(t *testing.T) {
	b, err := os.ReadFile("../../openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var root yaml.Node
	if err := yaml.Unmarshal(b, &root); err != nil {
		t.Fatal(err)
	}
	var walk func(n *yaml.Node)
	walk = func(n *yaml.Node) {
		if n.Kind == yaml.AliasNode || n.Anchor != "" {
			t.Errorf("openapi.yaml:%d: YAML anchor or alias %q", n.Line, n.Value+n.Anchor)
		}
		for _, c := range n.Content {
			walk(c)
		}
	}
	walk(&root)
}
