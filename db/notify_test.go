package db

import (
	"testing"
	"time"

	"github.com/google/uuid"
)

// Every event reads back as sent, and its wire form stays what every instance of a
// cluster (old ones too, during an upgrade) reads.
func TestEventPayloads(t *testing.T) {
	id := uuid.MustParse("0196a1b2-0000-7000-8000-000000000001")
	until := time.UnixMilli(1_767_225_600_123)
	for _, tc := range []struct {
		e    Event
		wire string
	}{
		{Event{Kind: EventUser, ID: id}, "user:0196a1b2-0000-7000-8000-000000000001"},
		{Event{Kind: EventKey, ID: id}, "key:0196a1b2-0000-7000-8000-000000000001"},
		{Event{Kind: EventLocked, Name: "anna:b"}, "locked:anna:b"},
		{Event{Kind: EventSession, Name: "9f86d081884c7d65"}, "session:9f86d081884c7d65"},
		{Event{Kind: EventRate, Name: "203.0.113.9", Until: until}, "rate:1767225600123:203.0.113.9"},
		{Event{Kind: EventRate, Name: "2001:db8::1", Until: until}, "rate:1767225600123:2001:db8::1"},
		{Event{Kind: EventSigningKeys}, "signing-keys"},
	} {
		if got := tc.e.payload(); got != tc.wire {
			t.Errorf("%v: payload %q, want %q", tc.e, got, tc.wire)
		}
		back, ok := ParseEvent(tc.wire)
		if !ok || back.Kind != tc.e.Kind || back.ID != tc.e.ID || back.Name != tc.e.Name || !back.Until.Equal(tc.e.Until) {
			t.Errorf("ParseEvent(%q) = %+v, %v; want %+v", tc.wire, back, ok, tc.e)
		}
	}
	for _, bad := range []string{"", "*", "lost", "user:", "user:nope", "key:1", "locked:", "session:", "rate:x:1.2.3.4",
		"rate:1767225600123", "rate:1767225600123:", "signing-keys:x", "other:1"} {
		if e, ok := ParseEvent(bad); ok {
			t.Errorf("ParseEvent(%q) = %+v, accepted", bad, e)
		}
	}
}
