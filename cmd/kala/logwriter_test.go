package main

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// writes records every Write it is given and signals each on got.
type writes struct {
	mu  sync.Mutex
	all [][]byte
	got chan struct{}
}

func (w *writes) Write(p []byte) (int, error) {
	w.mu.Lock()
	w.all = append(w.all, bytes.Clone(p))
	w.mu.Unlock()
	w.got <- struct{}{}
	return len(p), nil
}

func TestBatchWriterGathersLinesInOrder(t *testing.T) {
	out := &writes{got: make(chan struct{}, 100)}
	b := newBatchWriter(out)
	var want strings.Builder
	for i := range 100 {
		line := fmt.Sprintf("line %d\n", i)
		want.WriteString(line)
		if _, err := b.Write([]byte(line)); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case <-out.got: // the delay ran out
	case <-time.After(10 * time.Second):
		t.Fatal("lines were never written")
	}
	out.mu.Lock()
	defer out.mu.Unlock()
	if len(out.all) != 1 || string(out.all[0]) != want.String() {
		t.Fatalf("%d writes, first %.40q; want the 100 lines in one write", len(out.all), out.all[0])
	}
}

func TestBatchWriterWritesAFullBatchAtOnce(t *testing.T) {
	out := &writes{got: make(chan struct{}, 10)}
	b := newBatchWriter(out)
	line := []byte(strings.Repeat("x", 1023) + "\n")
	for range logBatch / len(line) {
		_, _ = b.Write(line)
	}
	out.mu.Lock()
	n := len(out.all)
	out.mu.Unlock()
	if n != 1 || len(out.all[0]) != logBatch {
		t.Fatalf("%d writes; want one of %d bytes as the batch filled", n, logBatch)
	}
	_, _ = b.Write([]byte("tail\n"))
	b.Flush()
	out.mu.Lock()
	defer out.mu.Unlock()
	if len(out.all) != 2 || string(out.all[1]) != "tail\n" {
		t.Fatalf("after Flush: %d writes; want the tail written", len(out.all))
	}
}
