package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/xiamen-eeb/nuisance/internal/gistar"
	"github.com/xiamen-eeb/nuisance/services/reporter"
)

// runReport writes the weekly hotspot report of one ISO week.
func runReport(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("report", flag.ContinueOnError)
	fs.SetOutput(stderr)
	week := fs.String("week", "", "ISO week, e.g. 2024-W11 (default: last week, Asia/Shanghai)")
	format := fs.String("format", "html", "html, csv, json or geojson")
	out := fs.String("o", "-", "output file (- for standard output)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *week == "" {
		*week = gistar.WeekOf(time.Now().AddDate(0, 0, -7))
	}
	pool, err := openDB(ctx, getenv, stderr)
	if err != nil {
		return err
	}
	defer pool.Close()
	r, err := reporter.Generate(ctx, pool, *week, time.Now())
	if err != nil {
		return err
	}
	w := stdout
	if *out != "-" {
		f, err := os.Create(*out)
		if err != nil {
			return err
		}
		defer f.Close()
		w = f
	}
	if err := reporter.Render(r, *format, w); err != nil {
		return err
	}
	if *out != "-" {
		fmt.Fprintf(stderr, "report %s (%s) written to %s\n", *week, *format, *out)
	}
	return nil
}
