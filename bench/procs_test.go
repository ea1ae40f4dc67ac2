package main

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// statLine is a /proc/<pid>/stat line with the given fields (the rest zero).
func statLine(pid int, comm string, ppid int, utime, stime, cutime, cstime uint64) string {
	u := func(v uint64) string { return strconv.FormatUint(v, 10) }
	return strconv.Itoa(pid) + " (" + comm + ") S " + strconv.Itoa(ppid) +
		" 1 1 0 -1 4194560 100 0 0 0 " + u(utime) + " " + u(stime) + " " + u(cutime) + " " + u(cstime) +
		" 20 0 1 0 100 1000 100 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n"
}

func TestParseStat(t *testing.T) {
	for _, comm := range []string{"postgres", "post gres", "a) (b", ")"} {
		s, err := parseStat([]byte(statLine(4242, comm, 17, 1, 2, 3, 4)))
		if err != nil {
			t.Fatalf("%q: %v", comm, err)
		}
		want := procStat{PID: 4242, PPID: 17, Comm: comm, UTime: 1, STime: 2, CUTime: 3, CSTime: 4}
		if s != want {
			t.Errorf("%q: got %+v, want %+v", comm, s, want)
		}
	}
	for _, bad := range []string{"", "12 postgres S 1", "12 (x) S 1 2 3", "x (y) S 1 1 1 0 -1 0 0 0 0 0 1 2 3 4"} {
		if _, err := parseStat([]byte(bad)); err == nil {
			t.Errorf("%q: parsed, want an error", bad)
		}
	}
}

// fakeProc writes a /proc with the given stat lines.
func fakeProc(t *testing.T, dir string, lines map[int]string) {
	t.Helper()
	for pid, line := range lines {
		d := filepath.Join(dir, strconv.Itoa(pid))
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(d, "stat"), []byte(line), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// The group's CPU is its roots' own and reaped children's times plus its live children's
// own times; other processes, and grandchildren (counted by their parent when reaped),
// are not in it.
func TestCPUMeter(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "loadavg"), []byte("0 0 0"), 0o644); err != nil {
		t.Fatal(err)
	}
	fakeProc(t, dir, map[int]string{
		10: statLine(10, "kala", 1, 100, 50, 7, 3),         // server: 160
		20: statLine(20, "postgres", 1, 5, 5, 1000, 200),   // postmaster: 1210
		21: statLine(21, "postgres", 20, 30, 20, 999, 999), // backend: 50 (its cutime is not ours)
		22: statLine(22, "postgres", 20, 1, 1, 0, 0),       // another: 2
		30: statLine(30, "other", 1, 5000, 5000, 0, 0),     // not in the group
		31: statLine(31, "grandchild", 21, 400, 400, 0, 0), // its parent counts it once reaped
		32: statLine(32, "kala helper", 10, 9, 1, 0, 0),    // the server's child: 10
	})
	m := cpuMeter{procfs: dir, roots: []int{10, 20}}
	got, err := m.ticks()
	if err != nil {
		t.Fatal(err)
	}
	if want := uint64(160 + 1210 + 50 + 2 + 10); got != want {
		t.Errorf("ticks = %d, want %d", got, want)
	}
	if d := ticksToDuration(got); d != 14320*time.Millisecond {
		t.Errorf("ticksToDuration(%d) = %s", got, d)
	}
	// a backend that exits moves into the postmaster's cutime: the total stays
	fakeProc(t, dir, map[int]string{20: statLine(20, "postgres", 1, 5, 5, 1030, 220)})
	if err := os.RemoveAll(filepath.Join(dir, "21")); err != nil {
		t.Fatal(err)
	}
	if again, err := m.ticks(); err != nil || again != got {
		t.Errorf("after the backend exited: %d, %v; want %d", again, err, got)
	}
	// a root that is gone is an error, not a smaller number
	if _, err := (cpuMeter{procfs: dir, roots: []int{99}}).ticks(); err == nil {
		t.Error("missing root: no error")
	}
}

// The real /proc parses: this process's own line.
func TestReadStatSelf(t *testing.T) {
	s, err := readStat("/proc", os.Getpid())
	if err != nil {
		t.Skip("no /proc:", err)
	}
	if s.PID != os.Getpid() || s.PPID != os.Getppid() {
		t.Errorf("got pid %d ppid %d, want %d %d", s.PID, s.PPID, os.Getpid(), os.Getppid())
	}
}
