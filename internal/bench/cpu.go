package bench

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
)

// clockTicks is the unit of /proc/PID/stat's CPU times (USER_HZ: 100 on
// Linux, whatever the kernel's HZ).
const clockTicks = 100

// cpuSeconds is the CPU time (user and system) a target's processes have
// used so far: the node processes of a cluster, else the server's; false
// when a process is unknown or unreadable (a --url server without --pid).
func (t *Target) cpuSeconds() (float64, bool) {
	pids := []int{t.PID}
	if len(t.nodes) > 0 {
		pids = pids[:0]
		for _, n := range t.nodes {
			pids = append(pids, n.PID)
		}
	}
	total := 0.0
	for _, pid := range pids {
		s, err := readCPUSeconds(pid)
		if err != nil {
			return 0, false
		}
		total += s
	}
	return total, true
}

// readCPUSeconds reads utime + stime of a process from /proc/PID/stat.
func readCPUSeconds(pid int) (float64, error) {
	if pid <= 0 {
		return 0, fmt.Errorf("no process")
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) is in parentheses and may hold spaces:
	// the fields counted from after its closing parenthesis, state first.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: no command name", pid)
	}
	f := bytes.Fields(b[i+1:])
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f))
	}
	var ticks int64
	for _, s := range f[11:13] { // utime, stime (fields 14 and 15)
		n, err := strconv.ParseInt(string(s), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc/%d/stat: %w", pid, err)
		}
		ticks += n
	}
	return float64(ticks) / clockTicks, nil
}
