// Command seedgen derives the location seeds (seeds/districts.geojson,
// seeds/gazetteer.json) and the locator's evaluation set from the public
// reference data in ../shared/data. Its output is deterministic, so a
// re-run on unchanged sources changes no file.
//
//	go run ./cmd/seedgen -shared ../shared/data -out seeds
package main

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "seedgen:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("seedgen", flag.ContinueOnError)
	shared := fs.String("shared", "../shared/data", "directory of the public reference data")
	out := fs.String("out", "seeds", "directory the seeds are written to")
	eval := fs.String("eval", "internal/locate/testdata/eval.json", "file the locator's evaluation set is written to (empty: none)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	src, err := readSources(*shared)
	if err != nil {
		return err
	}
	districts, idx, err := buildDistricts(src)
	if err != nil {
		return err
	}
	if err := writeFile(filepath.Join(*out, "districts.geojson"), districts); err != nil {
		return err
	}
	gaz, report, err := buildGazetteer(src, idx)
	if err != nil {
		return err
	}
	data, err := marshalGazetteer(gaz)
	if err != nil {
		return err
	}
	if err := writeFile(filepath.Join(*out, "gazetteer.json"), data); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "districts.geojson: %d districts\n", len(src.datav.Features))
	fmt.Fprintf(stdout, "gazetteer.json: %d districts, %d sub-districts (%d with a point), %d places\n",
		len(gaz.Districts), len(gaz.Subdistricts), report.subdistrictPoints, len(gaz.Places))
	fmt.Fprintf(stdout, "places: %d duplicate names dropped, %d outside every district skipped, %d where district_pip differs from the WGS-84 outline\n",
		report.duplicates, report.outside, report.pipDiffers)
	if *eval != "" {
		ev, err := buildEval(src, gaz)
		if err != nil {
			return err
		}
		data, err := marshalEval(ev)
		if err != nil {
			return err
		}
		if err := writeFile(*eval, data); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s: %d points, %d addresses\n", *eval, len(ev.Points), len(ev.Addresses))
	}
	return nil
}

// writeFile writes data, creating the directory if needed.
func writeFile(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// readCSV reads a CSV file with a header row into maps keyed by column.
func readCSV(path string) ([]map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	defer f.Close()
	r := csv.NewReader(f)
	rows, err := r.ReadAll()
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if len(rows) == 0 {
		return nil, fmt.Errorf("read %s: %w", path, errors.New("empty file"))
	}
	header := rows[0]
	out := make([]map[string]string, 0, len(rows)-1)
	for _, row := range rows[1:] {
		m := make(map[string]string, len(header))
		for i, h := range header {
			if i < len(row) {
				m[h] = row[i]
			}
		}
		out = append(out, m)
	}
	return out, nil
}

// round rounds to the given number of decimals.
func round(v float64, decimals int) float64 {
	p := math.Pow(10, float64(decimals))
	return math.Round(v*p) / p
}

// marshalLines writes a JSON object whose array fields hold one element
// per line, so that seed diffs stay readable.
func marshalLines(fields []string, arrays [][]any) ([]byte, error) {
	var b bytes.Buffer
	b.WriteString("{")
	for i, name := range fields {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, "\n%q: [", name)
		for j, v := range arrays[i] {
			line, err := json.Marshal(v)
			if err != nil {
				return nil, fmt.Errorf("marshal %s: %w", name, err)
			}
			if j > 0 {
				b.WriteString(",")
			}
			b.WriteString("\n  ")
			b.Write(line)
		}
		b.WriteString("\n]")
	}
	b.WriteString("\n}\n")
	return b.Bytes(), nil
}
