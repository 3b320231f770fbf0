package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"strconv"
	"time"
)

// runStatus asks the intake, as the hotline does, where a work order is:
// the signed GET /v1/hotline/complaints/{ticket_id}.
func runStatus(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("status", flag.ContinueOnError)
	fs.SetOutput(stderr)
	url := fs.String("url", "", "intake base URL (default http://NUISANCE_HTTP_ADDR)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return fmt.Errorf("status: give one ticket id")
	}
	client, err := hotlineClient(getenv, *url)
	if err != nil {
		return err
	}
	ticket := fs.Arg(0)
	resp, err := client.Lookup(ctx, "status-"+strconv.FormatInt(time.Now().UnixNano(), 36), ticket)
	if err != nil {
		return fmt.Errorf("status %s: %w", ticket, err)
	}
	if resp.Status != 200 {
		var p struct {
			Detail string `json:"detail"`
		}
		_ = json.Unmarshal(resp.Body, &p)
		return fmt.Errorf("status %s: the intake answered %d: %s", ticket, resp.Status, p.Detail)
	}
	var out bytes.Buffer
	if err := json.Indent(&out, resp.Body, "", "  "); err != nil {
		return fmt.Errorf("status %s: %w", ticket, err)
	}
	out.WriteByte('\n')
	_, err = stdout.Write(out.Bytes())
	return err
}
