package main

import (
	"io"
	"sync"
	"time"
)

// Log lines are gathered for at most logDelay, or until logBatch bytes wait, and written
// together: a request log line per request would otherwise cost a system call each, which
// under load is a large part of what a small request costs.
const (
	logDelay = 50 * time.Millisecond
	logBatch = 64 << 10
)

// batchWriter is an io.Writer that writes what it is given in batches. Lines stay whole
// and in order. A process that dies without Flush loses at most logDelay of lines.
type batchWriter struct {
	mu    sync.Mutex
	w     io.Writer
	buf   []byte
	timer *time.Timer // armed while buf holds bytes
}

func newBatchWriter(w io.Writer) *batchWriter {
	b := &batchWriter{w: w}
	b.timer = time.AfterFunc(time.Hour, b.Flush)
	b.timer.Stop()
	return b
}

// Write keeps p for the next batch; it reports no error, as a log line that cannot be
// written has nowhere better to go.
func (b *batchWriter) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.buf) == 0 {
		b.timer.Reset(logDelay)
	}
	b.buf = append(b.buf, p...)
	if len(b.buf) >= logBatch {
		b.flushLocked()
	}
	return len(p), nil
}

// Flush writes what waits now.
func (b *batchWriter) Flush() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.flushLocked()
}

func (b *batchWriter) flushLocked() {
	if len(b.buf) == 0 {
		return
	}
	b.timer.Stop()
	_, _ = b.w.Write(b.buf)
	if cap(b.buf) > 4*logBatch {
		b.buf = nil // a burst of large lines does not pin its buffer
	} else {
		b.buf = b.buf[:0]
	}
}
