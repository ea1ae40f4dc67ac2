package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// userHZ is the unit of the times in /proc/<pid>/stat: USER_HZ, which the kernel fixes at
// 100 for /proc on every architecture (whatever its internal HZ).
const userHZ = 100

// procStat is what the benchmark reads of /proc/<pid>/stat.
type procStat struct {
	PID, PPID int
	Comm      string
	// CPU time in clock ticks: the process's own threads (user, system), and its
	// children that it has waited for (user, system).
	UTime, STime, CUTime, CSTime uint64
}

// parseStat parses one /proc/<pid>/stat line. The command name is in parentheses and may
// itself hold spaces and parentheses, so the fields are counted from the last ')'.
func parseStat(b []byte) (procStat, error) {
	open, end := bytes.IndexByte(b, '('), bytes.LastIndexByte(b, ')')
	if open < 1 || end < open {
		return procStat{}, fmt.Errorf("stat %.40q: no (comm)", b)
	}
	var s procStat
	var err error
	if s.PID, err = strconv.Atoi(string(bytes.TrimSpace(b[:open]))); err != nil {
		return procStat{}, fmt.Errorf("stat pid: %w", err)
	}
	s.Comm = string(b[open+1 : end])
	// fields[0] is field 3 (state) of proc(5); ppid is 4, utime..cstime are 14..17
	f := bytes.Fields(b[end+1:])
	if len(f) < 15 {
		return procStat{}, fmt.Errorf("stat of %d: %d fields after comm, want ≥ 15", s.PID, len(f))
	}
	if s.PPID, err = strconv.Atoi(string(f[1])); err != nil {
		return procStat{}, fmt.Errorf("stat of %d: ppid: %w", s.PID, err)
	}
	for i, p := range []*uint64{&s.UTime, &s.STime, &s.CUTime, &s.CSTime} {
		if *p, err = strconv.ParseUint(string(f[11+i]), 10, 64); err != nil {
			return procStat{}, fmt.Errorf("stat of %d: field %d: %w", s.PID, 14+i, err)
		}
	}
	return s, nil
}

func readStat(procfs string, pid int) (procStat, error) {
	b, err := os.ReadFile(filepath.Join(procfs, strconv.Itoa(pid), "stat"))
	if err != nil {
		return procStat{}, err
	}
	return parseStat(b)
}

// cpuMeter charges a call with the CPU time of its server's processes (roots: the
// server, and PostgreSQL's postmaster for Kala) and all their children: live children
// by their own times, children that have exited by their parent's cutime/cstime (the
// postmaster reaps its backends). A difference of two readings is what was spent in
// between, whatever the rest of the machine did.
type cpuMeter struct {
	procfs string
	roots  []int
}

// ticks returns the group's CPU time so far, in clock ticks.
func (m cpuMeter) ticks() (uint64, error) {
	var sum uint64
	isRoot := map[int]bool{}
	for _, pid := range m.roots {
		s, err := readStat(m.procfs, pid)
		if err != nil {
			return 0, fmt.Errorf("process %d: %w", pid, err)
		}
		sum += s.UTime + s.STime + s.CUTime + s.CSTime
		isRoot[pid] = true
	}
	ents, err := os.ReadDir(m.procfs)
	if err != nil {
		return 0, err
	}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || isRoot[pid] {
			continue
		}
		s, err := readStat(m.procfs, pid)
		if err != nil {
			continue // exited since the listing: its parent's cutime has it now
		}
		if isRoot[s.PPID] {
			sum += s.UTime + s.STime
		}
	}
	return sum, nil
}

// ticksToDuration converts clock ticks to time.
func ticksToDuration(t uint64) time.Duration { return time.Duration(t) * time.Second / userHZ }
