package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/xiamen-eeb/nuisance/internal/config"
	"github.com/xiamen-eeb/nuisance/internal/gistar"
	"github.com/xiamen-eeb/nuisance/internal/report"
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
	if fs.NArg() > 0 {
		return fmt.Errorf("report: unexpected %q", fs.Arg(0))
	}
	if !slices.Contains(report.Formats, *format) {
		return fmt.Errorf("report: format %q: want one of %s", *format, strings.Join(report.Formats, ", "))
	}
	now := time.Now()
	if *week == "" {
		*week = gistar.WeekOf(now.AddDate(0, 0, -7))
	}
	_, end, err := gistar.WeekBounds(*week)
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	cfg, err := config.FromEnv(getenv)
	if err != nil {
		return err
	}
	pool, closeDB, err := openDB(ctx, getenv, stderr)
	if err != nil {
		return err
	}
	defer closeDB()
	r, err := reporter.GenerateWith(ctx, pool, *week, now, cfg.Priority)
	if err != nil {
		return err
	}
	if now.Before(end) {
		fmt.Fprintf(stderr, "week %s is not over yet: the report covers it up to now\n", *week)
	}
	if *out == "-" {
		return reporter.Render(r, *format, stdout)
	}
	// Written beside the file and renamed over it: a failure leaves the
	// file as it was.
	var buf bytes.Buffer
	if err := reporter.Render(r, *format, &buf); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(*out), "."+filepath.Base(*out)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) //nolint:errcheck // gone after the rename
	if _, err := tmp.Write(buf.Bytes()); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), *out); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "report %s (%s) written to %s\n", *week, *format, *out)
	return nil
}
