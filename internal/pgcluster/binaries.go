package pgcluster

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// ErrNoBinaries is returned by FindBinaries when no PostgreSQL server
// binaries exist on the machine, so callers can tell a missing
// installation from a broken cluster.
var ErrNoBinaries = errors.New("no PostgreSQL server binaries (initdb, pg_ctl, postgres) found: set PG_BINDIR, or run scripts/install-deps.sh as root to install them")

// debianLibDir is where Debian and Ubuntu install one directory per
// PostgreSQL major version.
const debianLibDir = "/usr/lib/postgresql"

// serverBinaries are the programs a private cluster cannot run without.
var serverBinaries = []string{"initdb", "pg_ctl", "postgres"}

// FindBinaries returns the directory holding initdb, pg_ctl and postgres,
// so a cluster can be created on any machine without configuration. It
// tries, in order: $PG_BINDIR, `pg_config --bindir`, the newest
// /usr/lib/postgresql/<major>/bin, then $PATH. A candidate counts only
// when all three programs are in it, because Debian's pg_config may come
// from libpq-dev and name /usr/bin, which holds no server.
func FindBinaries() (string, error) {
	return findBinaries(os.Getenv)
}

func findBinaries(getenv func(string) string) (string, error) {
	if dir := getenv("PG_BINDIR"); dir != "" {
		if err := hasServerBinaries(dir); err != nil {
			return "", fmt.Errorf("PG_BINDIR=%s: %w", dir, err)
		}
		return dir, nil
	}
	if dir := pgConfigBinDir(); dir != "" && hasServerBinaries(dir) == nil {
		return dir, nil
	}
	for _, dir := range debianBinDirs(debianLibDir) {
		if hasServerBinaries(dir) == nil {
			return dir, nil
		}
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		// Follow a symlink such as /usr/local/bin/initdb so pg_ctl and
		// postgres come from the same installation.
		if real, err := filepath.EvalSymlinks(p); err == nil {
			if dir := filepath.Dir(real); hasServerBinaries(dir) == nil {
				return dir, nil
			}
		}
		if dir := filepath.Dir(p); hasServerBinaries(dir) == nil {
			return dir, nil
		}
	}
	return "", ErrNoBinaries
}

// hasServerBinaries reports, as an error naming the first one missing,
// whether dir holds every server program as an executable file.
func hasServerBinaries(dir string) error {
	for _, name := range serverBinaries {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		if fi.IsDir() || fi.Mode().Perm()&0o111 == 0 {
			return fmt.Errorf("%s: not an executable file", name)
		}
	}
	return nil
}

// pgConfigBinDir asks pg_config, when it is on PATH, where the binaries
// are; an empty result means it could not say.
func pgConfigBinDir() string {
	path, err := exec.LookPath("pg_config")
	if err != nil {
		return ""
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, path, "--bindir").Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}

// debianBinDirs lists root/<major>/bin, newest major first.
func debianBinDirs(root string) []string {
	entries, err := os.ReadDir(root)
	if err != nil {
		return nil
	}
	type version struct {
		name  string
		major float64
	}
	var versions []version
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		// Majors are "15", "16"; before PostgreSQL 10 they were "9.6".
		major, err := strconv.ParseFloat(e.Name(), 64)
		if err != nil {
			continue
		}
		versions = append(versions, version{e.Name(), major})
	}
	sort.Slice(versions, func(i, j int) bool { return versions[i].major > versions[j].major })
	dirs := make([]string, 0, len(versions))
	for _, v := range versions {
		dirs = append(dirs, filepath.Join(root, v.name, "bin"))
	}
	return dirs
}
