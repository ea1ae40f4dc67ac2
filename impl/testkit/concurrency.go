package testkit

import (
	"sync"
	"testing"
	"unicode"
)

// AtOnce runs n requests at once (released together) and returns each one's status and
// body. req must not fail the test (see TryDo): it runs on another goroutine.
func AtOnce(t *testing.T, n int, req func(i int) (int, []byte, error)) ([]int, [][]byte) {
	t.Helper()
	statuses, bodies, errs := make([]int, n), make([][]byte, n), make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			statuses[i], bodies[i], errs[i] = req(i)
		}()
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
	}
	return statuses, bodies
}

// MixedCase spells base with the letters picked by the bits of mask in upper case.
func MixedCase(base string, mask int) string {
	b := []rune(base)
	for j := range b {
		if mask&(1<<j) != 0 {
			b[j] = unicode.ToUpper(b[j])
		}
	}
	return string(b)
}
