package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"strings"
)

// record is one line of the results bench/run gathers: one system on one
// workload, or the soak.
type record struct {
	Workload  string  `json:"workload"`
	Resources int     `json:"resources"`
	Objects   int     `json:"objects"`
	System    string  `json:"system"`
	Events    int     `json:"events"`
	Expected  int     `json:"expected"`
	Changes   int     `json:"changes"`
	Rate      float64 `json:"rate"`
	P50       float64 `json:"p50_s"`
	P99       float64 `json:"p99_s"`
	CPURun    float64 `json:"cpu_run_s"`
	WriteS    float64 `json:"write_seconds"`
	PSS       int     `json:"pss_kib"`
	StartS    float64 `json:"start_s"`
	StartCPU  float64 `json:"start_cpu_s"`
	Listed    int     `json:"listed"`
	PSSStart  int     `json:"pss_start_kib"`
	PSSEnd    int     `json:"pss_end_kib"`
	Seconds   float64 `json:"seconds"`
	SoakRate  int     `json:"soak_rate"`
}

const (
	capacityName  = "capacity"
	controllerNm  = "event-controller"
	referenceName = "reference"
)

func readRecords(path string) []record {
	f, err := os.Open(path)
	if err != nil {
		fatal("%v", err)
	}
	defer f.Close()
	var out []record
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var r record
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			fatal("%s: %v", path, err)
		}
		out = append(out, r)
	}
	return out
}

func mib(kib int) float64 { return float64(kib) / 1024 }

func ratio(a, b float64) string {
	if b == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f", a/b)
}

func cpuPer1000(r record) float64 {
	if r.Changes == 0 {
		return 0
	}
	return r.CPURun / float64(r.Changes) * 1000
}

// table prints the Markdown table of the results and writes the data the
// plot draws.
func table(results, plotData string) {
	recs := readRecords(results)
	by := map[string]map[string]record{}
	var order []string
	var soak *record
	for i, r := range recs {
		if r.System == "soak" {
			soak = &recs[i]
			continue
		}
		if by[r.Workload] == nil {
			by[r.Workload] = map[string]record{}
			order = append(order, r.Workload)
		}
		by[r.Workload][r.System] = r
	}

	var b strings.Builder
	fmt.Fprintln(&b, "| workload | system | changes/s | Events/s |"+
		" ÷ capacity | p50 ms | p99 ms | Events seen |"+
		" CPU s / 1,000 changes | PSS MiB | watching after s |"+
		" CPU s to start |")
	fmt.Fprintln(&b, "|---|---|---|---|---|---|---|---|---|---|---|---|")
	for _, w := range order {
		c := by[w][capacityName]
		fmt.Fprintf(&b, "| %s | capacity | - | %.0f | 1 | - | - | %d |"+
			" - | %.1f | - | - |\n", w, c.Rate, c.Events,
			mib(c.PSS))
		for _, s := range []string{controllerNm, referenceName} {
			r, ok := by[w][s]
			if !ok {
				continue
			}
			writes := 0.0
			if r.WriteS > 0 {
				writes = float64(r.Changes) / r.WriteS
			}
			fmt.Fprintf(&b, "| %s | %s | %.0f | %.0f | %s | %.0f |"+
				" %.0f | %d / %d | %.3f | %.1f |"+
				" %.2f | %.2f |\n", w, s, writes,
				r.Rate, ratio(r.Rate, c.Rate), r.P50*1000,
				r.P99*1000, r.Events, r.Expected, cpuPer1000(r),
				mib(r.PSS), r.StartS, r.StartCPU)
		}
	}

	fmt.Fprintln(&b)
	fmt.Fprintln(&b, "| workload |"+
		" Events/s ÷ capacity (goal ≥ 0.9) |"+
		" CPU ÷ reference (goal ≤ 0.2) |"+
		" PSS ÷ reference (goal ≤ 0.2) | PSS MiB |")
	fmt.Fprintln(&b, "|---|---|---|---|---|")
	for _, w := range order {
		e, r := by[w][controllerNm], by[w][referenceName]
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %.1f |\n", w,
			ratio(e.Rate, by[w][capacityName].Rate),
			ratio(cpuPer1000(e), cpuPer1000(r)),
			ratio(float64(e.PSS), float64(r.PSS)), mib(e.PSS))
	}
	for _, w := range order {
		e, r := by[w][controllerNm], by[w][referenceName]
		if e.Listed < 10000 {
			continue
		}
		per := func(r record) float64 {
			return r.StartCPU * 10000 / float64(r.Listed)
		}
		fmt.Fprintf(&b, "\nStart with %d objects listed (%s): "+
			"event-controller %.2f s wall, %.2f CPU s "+
			"(%.3f CPU s per 10,000 objects); "+
			"reference %.2f s wall, %.2f CPU s"+
			" (%.3f per 10,000).\n",
			e.Listed, w, e.StartS, e.StartCPU, per(e),
			r.StartS, r.StartCPU, per(r))
	}
	if soak != nil {
		fmt.Fprintf(&b, "\nSoak of %s, %d changes/s for %.0f s: "+
			"event-controller PSS %.1f MiB at the start, "+
			"%.1f MiB at the end.\n", soak.Workload, soak.SoakRate,
			soak.Seconds, mib(soak.PSSStart), mib(soak.PSSEnd))
	}
	fmt.Print(b.String())

	f, err := os.Create(plotData)
	if err != nil {
		fatal("%v", err)
	}
	defer f.Close()
	fmt.Fprintln(f, "# workload capacity event-controller reference"+
		" (Events/s), then the same for PSS MiB")
	for _, w := range order {
		c, e, r := by[w][capacityName], by[w][controllerNm],
			by[w][referenceName]
		fmt.Fprintf(f, "%s %.1f %.1f %.1f %.2f %.2f %.2f\n", w,
			c.Rate, e.Rate, r.Rate,
			mib(c.PSS), mib(e.PSS), mib(r.PSS))
	}
}
