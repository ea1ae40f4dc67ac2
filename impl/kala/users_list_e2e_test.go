package kala_test

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/kala-server/kala/impl/testkit"
)

type ulPage struct {
	Data []struct {
		Username string `json:"username"`
	} `json:"data"`
	Page struct {
		Offset int     `json:"offset"`
		Limit  int     `json:"limit"`
		Total  int     `json:"total"`
		Next   *string `json:"next"`
	} `json:"page"`
}

// Every way through the user list gives the same users in the same order: offset pages
// (deep ones are read from the end of the index), `after` continuation, and Kylin's
// pages; the total is exact through creates, deletes and an all-or-none batch that fails.
func TestUsersListPagesAndTotals(t *testing.T) {
	e := testkit.New(t)
	tok := testkit.Bearer(e.AdminToken())
	admin := testkit.Basic("ADMIN", testkit.AdminPassword)
	want := []string{"ADMIN"}
	for i := range 24 {
		name := fmt.Sprintf("ul_%c%02d", 'a'+rune(i%3), i) // creation order is not name order
		if i%2 == 0 {
			name = strings.ToUpper(name)
		}
		e.NewUser(name, false)
		want = append(want, name)
	}
	slices.SortFunc(want, func(a, b string) int { return strings.Compare(strings.ToLower(a), strings.ToLower(b)) })
	list := func(query string) ulPage {
		t.Helper()
		var p ulPage
		e.Do("GET", "/api/users?"+query, nil, tok).Expect(t, 200).JSON(t, &p)
		return p
	}
	names := func(p ulPage) (out []string) {
		for _, u := range p.Data {
			out = append(out, u.Username)
		}
		return out
	}

	var byOffset []string
	for offset := 0; offset < len(want); offset += 7 {
		p := list(fmt.Sprintf("limit=7&offset=%d", offset))
		if p.Page.Total != len(want) {
			t.Fatalf("offset %d: total %d, want %d", offset, p.Page.Total, len(want))
		}
		byOffset = append(byOffset, names(p)...)
	}
	if !slices.Equal(byOffset, want) {
		t.Fatalf("offset pages:\n got %v\nwant %v", byOffset, want)
	}
	if p := list("limit=7&offset=25"); len(p.Data) != 0 || p.Page.Total != len(want) || p.Page.Next != nil {
		t.Fatalf("past the end: %+v", p)
	}

	var byKey []string
	query := "limit=7"
	for pages := 0; ; pages++ {
		p := list(query)
		byKey = append(byKey, names(p)...)
		if p.Page.Next == nil {
			break
		}
		if pages > len(want) {
			t.Fatal("the continuation does not end")
		}
		// any case continues the same
		query = "limit=7&after=" + url.QueryEscape(strings.ToUpper(*p.Page.Next))
	}
	if !slices.Equal(byKey, want) {
		t.Fatalf("after pages:\n got %v\nwant %v", byKey, want)
	}

	var kylin []string
	for index := 0; index*10 < len(want); index++ {
		p := testkit.KylinOK[testkit.KylinPage[struct {
			Username string `json:"username"`
		}]](t, e.Do("GET", fmt.Sprintf("/kylin/api/user?page_offset=%d&page_size=10", index), nil, admin))
		for _, u := range p.Value {
			kylin = append(kylin, u.Username)
		}
	}
	if !slices.Equal(kylin, want) {
		t.Fatalf("Kylin pages:\n got %v\nwant %v", kylin, want)
	}

	// The total follows every change, and only committed ones.
	e.Do("DELETE", "/kylin/api/user/"+want[3], nil, admin).Expect(t, 200)
	e.Do("POST", "/kylin/api/user/batch", []map[string]any{{"username": "ul_new1", "password": "Welcome#2026"},
		{"username": "ADMIN", "password": "Welcome#2026"}}, admin).Expect(t, 409)
	if p := list("limit=1"); p.Page.Total != len(want)-1 {
		t.Fatalf("total after a delete and a failed batch: %d, want %d", p.Page.Total, len(want)-1)
	}
	e.Do("POST", "/kylin/api/user/batch", []map[string]any{{"username": "ul_new1", "password": "Welcome#2026"},
		{"username": "ul_new2", "password": "Welcome#2026"}}, admin).Expect(t, 200)
	if p := list("limit=1"); p.Page.Total != len(want)+1 {
		t.Fatalf("total after a batch of two: %d, want %d", p.Page.Total, len(want)+1)
	}
	// A filtered list counts its matches (eight ul_a names, one of them deleted above).
	if p := list("limit=2&name=UL_A"); p.Page.Total != 7 || len(p.Data) != 2 {
		t.Fatalf("filtered: %+v", p)
	}
}
