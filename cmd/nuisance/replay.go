package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/xiamen-eeb/nuisance/internal/config"
	"github.com/xiamen-eeb/nuisance/internal/hotline"
)

func runReplay(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("replay", flag.ContinueOnError)
	fs.SetOutput(stderr)
	url := fs.String("url", "", "intake base URL (default http://NUISANCE_HTTP_ADDR)")
	conc := fs.Int("c", 32, "concurrent requests")
	quiet := fs.Bool("q", false, "no progress bar")
	perSecond := fs.Float64("rate", 0, "post at most this many complaints a second (default: as fast as the intake answers)")
	maxAge := fs.Duration("max-age", 0, "do not send work orders received longer ago than this, e.g. 168h (default 0: send all). "+
		"Sent as the hotline's, an old work order opens a case whose deadlines have passed, "+
		"escalated (督办) at once, and the hotline is called back about it: load old ones with -history")
	history := fs.Bool("history", false, "backfill: post the work orders as history (POST /v1/hotline/history), handled before this system knew of them. "+
		"Each is stored, located, classified and clustered into hotspots, and counted in its week's report, "+
		"but opens no case and joins none, is never escalated, pushed to officers or called back to the hotline, "+
		"and the hotline's look-up answers it closed")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return fmt.Errorf("replay: give one NDJSON file (or - for standard input)")
	}
	client, err := hotlineClient(getenv, *url)
	if err != nil {
		return err
	}
	var in io.Reader = os.Stdin
	total := -1
	if name := fs.Arg(0); name != "-" {
		// Read as it posts: a year's export is hundreds of megabytes.
		f, err := os.Open(name)
		if err != nil {
			return fmt.Errorf("replay: %w", err)
		}
		defer f.Close()
		// Lines are counted, for the progress bar, only in a regular
		// file: a pipe named as a file (<(zcat orders.ndjson.gz),
		// /dev/stdin) can be read once, and cannot seek back.
		if st, err := f.Stat(); err == nil && st.Mode().IsRegular() {
			if total, err = countLines(f); err != nil {
				return fmt.Errorf("replay: %w", err)
			}
			if _, err := f.Seek(0, io.SeekStart); err != nil {
				return fmt.Errorf("replay: %w", err)
			}
		}
		in = f
	}
	if *maxAge < 0 {
		return fmt.Errorf("replay: -max-age must not be negative")
	}
	if *history && *maxAge > 0 {
		return fmt.Errorf("replay: -max-age holds back the old work orders -history is for: give one or the other")
	}
	if *perSecond < 0 {
		return fmt.Errorf("replay: -rate must not be negative")
	}
	opt := hotline.ReplayOptions{Concurrency: *conc, Rate: *perSecond, History: *history}
	if *maxAge > 0 {
		opt.NotBefore = time.Now().Add(-*maxAge)
	}
	// The bar is finished before the summary is printed: finished later,
	// it redraws over the summary's line on a terminal.
	finish := func() {}
	if !*quiet {
		bar := progressbar.NewOptions(total, progressbar.OptionSetWriter(stderr), progressbar.OptionSetDescription("replay"),
			progressbar.OptionShowCount(), progressbar.OptionShowIts(), progressbar.OptionThrottle(200_000_000))
		opt.Progress = func(int) { _ = bar.Add(1) }
		finish = func() { _ = bar.Finish(); fmt.Fprintln(stderr) }
	}
	sum, err := client.Replay(ctx, in, opt)
	finish()
	fmt.Fprintln(stdout, sum.String())
	if err != nil {
		return fmt.Errorf("replay interrupted (safe to re-run): %w", err)
	}
	if sum.Failed > 0 {
		return fmt.Errorf("replay: %d work orders got no answer (safe to re-run)", sum.Failed)
	}
	if sum.Rejected > 0 {
		return fmt.Errorf("replay: %d work orders rejected or not sent (lines above)", sum.Rejected)
	}
	return nil
}

// countLines counts the lines of r, for the progress bar, without holding
// them.
func countLines(r io.Reader) (int, error) {
	buf := make([]byte, 256<<10)
	n := 0
	for {
		m, err := r.Read(buf)
		n += bytes.Count(buf[:m], []byte{'\n'})
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
}

// hotlineClient signs as the hotline does, with the secret `nuisance up`
// uses (HOTLINE_SECRET, or the one it generated in the data directory),
// for the intake at url or else at NUISANCE_HTTP_ADDR.
func hotlineClient(getenv func(string) string, url string) (*hotline.Client, error) {
	cfg, err := config.FromEnv(getenv)
	if err != nil {
		return nil, err
	}
	if err := cfg.LoadSecret(); err != nil {
		return nil, err
	}
	if url == "" {
		url = "http://" + cfg.HTTPAddr
	}
	return hotline.New(url, cfg.HotlineSecret)
}
