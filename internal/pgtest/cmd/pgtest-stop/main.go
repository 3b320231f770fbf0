// Command pgtest-stop stops the shared private PostgreSQL cluster that the
// tests leave running between packages; `make test` runs it at the end.
// It does nothing when no cluster was created.
//
//	go run ./internal/pgtest/cmd/pgtest-stop [-rm]
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/xiamen-eeb/nuisance/internal/pgcluster"
	"github.com/xiamen-eeb/nuisance/internal/pgtest"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "pgtest-stop:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("pgtest-stop", flag.ContinueOnError)
	remove := fs.Bool("rm", false, "also delete the cluster directory and its data")
	if err := fs.Parse(args); err != nil {
		return err
	}
	dir := pgtest.ClusterDir()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := pgcluster.StopDir(ctx, dir, nil); err != nil {
		return err
	}
	if *remove {
		if err := os.RemoveAll(dir); err != nil {
			return fmt.Errorf("remove %s: %w", dir, err)
		}
	}
	return nil
}
