package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/xiamen-eeb/nuisance/internal/config"
	"github.com/xiamen-eeb/nuisance/internal/natsx"
)

const streamsUsage = `usage: nuisance streams

Declares the pipeline's JetStream streams on the NATS of NATS_URL with
NUISANCE_STREAM_REPLICAS replicas, changing those whose settings differ
from this version's, and lists them. The services create missing streams
themselves but may not change one (their NATS users lack the right): after
an upgrade that changes a stream's settings, run this first, logged in as
the operator's NATS user, e.g.
  NATS_URL=nats://operator:PASSWORD@nats-1:4222 NUISANCE_STREAM_REPLICAS=3 nuisance streams
`

// runStreams declares the streams as the operator and shows their state.
func runStreams(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) > 0 && (args[0] == "help" || args[0] == "-h" || args[0] == "--help") {
		_, err := io.WriteString(stdout, streamsUsage)
		return err
	}
	fs := flag.NewFlagSet("streams", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, streamsUsage) }
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("streams: unexpected %q", fs.Arg(0))
	}
	cfg, err := config.FromEnv(getenv)
	if err != nil {
		return err
	}
	if cfg.NATSURL == "" {
		return fmt.Errorf("streams: set NATS_URL to the cluster, with the operator's user (nuisance up declares its embedded server's streams itself)")
	}
	nc, err := natsx.Connect(cfg.NATSURL, "nuisance-streams", zap.NewNop())
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := natsx.DeclareStreams(dctx, js, cfg.StreamReplicas); err != nil {
		return fmt.Errorf("streams: %w", err)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "STREAM\tREPLICAS\tMAX AGE\tMESSAGES\tLEADER")
	for _, want := range natsx.Streams(cfg.StreamReplicas) {
		s, err := js.Stream(dctx, want.Name)
		if err != nil {
			return fmt.Errorf("streams: %s: %w", want.Name, err)
		}
		info, err := s.Info(dctx)
		if err != nil {
			return fmt.Errorf("streams: %s: %w", want.Name, err)
		}
		leader := "—"
		if info.Cluster != nil && info.Cluster.Leader != "" {
			leader = info.Cluster.Leader
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%d\t%s\n", info.Config.Name, info.Config.Replicas, info.Config.MaxAge, info.State.Msgs, leader)
	}
	return tw.Flush()
}
