package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// The kernel's clock ticks per second as /proc/PID/stat counts them: 100
// on every Linux architecture Debian builds for (USER_HZ).
const userHZ = 100

// procCPU is utime+stime of pid, in seconds, plus cutime+cstime: what its
// children that already exited and were reaped used.
func procCPU(pid int) (float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name is in parentheses and may hold spaces: fields
	// count from after its closing one.
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 15 {
		return 0, fmt.Errorf("short /proc/%d/stat", pid)
	}
	var ticks float64
	for _, i := range []int{11, 12, 13, 14} {
		v, _ := strconv.ParseFloat(f[i], 64)
		ticks += v
	}
	return ticks / userHZ, nil
}

// procPSS is Pss from /proc/PID/smaps_rollup, in KiB.
func procPSS(pid int) (int, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/smaps_rollup", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "Pss:") {
			return strconv.Atoi(strings.Fields(line)[1])
		}
	}
	return 0, fmt.Errorf("no Pss in /proc/%d/smaps_rollup", pid)
}

// children lists the pids whose parent is pid.
func children(pid int) []int {
	b, err := os.ReadFile(
		fmt.Sprintf("/proc/%d/task/%d/children", pid, pid))
	if err != nil {
		return nil
	}
	var out []int
	for _, w := range strings.Fields(string(b)) {
		if n, err := strconv.Atoi(w); err == nil {
			out = append(out, n)
		}
	}
	return out
}

// tree is pid and all its descendants.
func tree(pid int) []int {
	out := []int{pid}
	for _, c := range children(pid) {
		out = append(out, tree(c)...)
	}
	return out
}

// procReport prints the CPU seconds and PSS summed over each pid's tree.
func procReport(args []string) {
	var cpu float64
	pss, n := 0, 0
	for _, a := range args {
		for _, pid := range tree(atoi(a)) {
			c, err := procCPU(pid)
			if err != nil {
				continue
			}
			p, err := procPSS(pid)
			if err != nil {
				continue
			}
			cpu += c
			pss += p
			n++
		}
	}
	out, _ := json.Marshal(map[string]any{
		"cpu_s": cpu, "pss_kib": pss, "processes": n,
	})
	fmt.Println(string(out))
}
