// Package config reads the one configuration every process shares from the
// environment, with defaults that let a first run work without any.
package config

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Config is the whole runtime configuration. Only cmd/ reads the
// environment; everything else receives a Config.
type Config struct {
	NATSURL       string // empty: embedded server (all-in-one) or nats://127.0.0.1:4222
	DatabaseURL   string // empty: private cluster under DataDir/pg
	HTTPAddr      string
	HotlineSecret string // whsec_<base64>; may hold several, space-separated, for rotation
	CallbackURL   string // empty: callbacks wait in the outbox
	DataDir       string
	LogLevel      string
	// StreamReplicas is the JetStream replication factor (3 on a cluster).
	StreamReplicas int
	// SweepAfter is how long a complaint may sit at one stage before its
	// event is published again.
	SweepAfter time.Duration
	// DebugAddr, when set, serves Go's profiler (/debug/pprof/) on its own
	// listener, apart from the public API: for an operator on the host.
	DebugAddr string
}

// FromEnv builds a Config from getenv with the documented defaults.
func FromEnv(getenv func(string) string) (Config, error) {
	c := Config{
		NATSURL:        getenv("NATS_URL"),
		DatabaseURL:    getenv("DATABASE_URL"),
		HTTPAddr:       or(getenv("NUISANCE_HTTP_ADDR"), "127.0.0.1:8080"),
		HotlineSecret:  getenv("HOTLINE_SECRET"),
		CallbackURL:    getenv("HOTLINE_CALLBACK_URL"),
		DataDir:        or(getenv("NUISANCE_DATA_DIR"), "./var"),
		LogLevel:       or(getenv("LOG_LEVEL"), "info"),
		DebugAddr:      getenv("NUISANCE_DEBUG_ADDR"),
		StreamReplicas: 1,
		SweepAfter:     2 * time.Minute,
	}
	if v := getenv("NUISANCE_STREAM_REPLICAS"); v != "" {
		if _, err := fmt.Sscan(v, &c.StreamReplicas); err != nil || c.StreamReplicas < 1 || c.StreamReplicas > 5 {
			return c, fmt.Errorf("NUISANCE_STREAM_REPLICAS %q: want 1..5", v)
		}
	}
	if v := getenv("NUISANCE_SWEEP_AFTER"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return c, fmt.Errorf("NUISANCE_SWEEP_AFTER %q: want a positive duration", v)
		}
		c.SweepAfter = d
	}
	abs, err := filepath.Abs(c.DataDir)
	if err != nil {
		return c, fmt.Errorf("data dir %q: %w", c.DataDir, err)
	}
	c.DataDir = abs
	return c, nil
}

func or(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// Masked returns the configuration as log fields with secrets hidden.
func (c Config) Masked() map[string]any {
	return map[string]any{
		"nats_url":        maskURL(c.NATSURL, "embedded"),
		"database_url":    maskURL(c.DatabaseURL, "private cluster"),
		"http_addr":       c.HTTPAddr,
		"hotline_secret":  maskSecret(c.HotlineSecret),
		"callback_url":    maskURL(c.CallbackURL, "unset: callbacks wait in the outbox"),
		"data_dir":        c.DataDir,
		"log_level":       c.LogLevel,
		"stream_replicas": c.StreamReplicas,
		"sweep_after":     c.SweepAfter.String(),
		"debug_addr":      or(c.DebugAddr, "off"),
	}
}

func maskSecret(s string) string {
	if s == "" {
		return "unset"
	}
	return "set (" + fmt.Sprint(len(strings.Fields(s))) + " key(s))"
}

func maskURL(u, empty string) string {
	if u == "" {
		return empty
	}
	// Hide a password in user:pass@host.
	if at := strings.LastIndex(u, "@"); at > 0 {
		if scheme := strings.Index(u, "://"); scheme >= 0 && scheme < at {
			userinfo := u[scheme+3 : at]
			if colon := strings.Index(userinfo, ":"); colon >= 0 {
				return u[:scheme+3] + userinfo[:colon] + ":***" + u[at:]
			}
		}
	}
	return u
}

// SecretFile is where a generated hotline secret is kept.
func (c Config) SecretFile() string { return filepath.Join(c.DataDir, "hotline_secret") }

// EnsureSecret fills HotlineSecret from the data directory, generating and
// storing a new one on a first run. It reports the file and whether it was
// created so the caller can tell the operator where it is.
func (c *Config) EnsureSecret() (path string, created bool, err error) {
	if c.HotlineSecret != "" {
		return "", false, nil
	}
	path = c.SecretFile()
	b, err := os.ReadFile(path)
	if err == nil {
		c.HotlineSecret = strings.TrimSpace(string(b))
		return path, false, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return path, false, fmt.Errorf("read hotline secret: %w", err)
	}
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return path, false, fmt.Errorf("generate hotline secret: %w", err)
	}
	secret := "whsec_" + base64.StdEncoding.EncodeToString(key)
	if err := os.MkdirAll(c.DataDir, 0o755); err != nil {
		return path, false, fmt.Errorf("create data dir: %w", err)
	}
	if err := os.WriteFile(path, []byte(secret+"\n"), 0o600); err != nil {
		return path, false, fmt.Errorf("write hotline secret: %w", err)
	}
	c.HotlineSecret = secret
	return path, true, nil
}

// LoadSecret reads the secret for client commands (replay): the
// environment first, then the file `nuisance up` generated.
func (c *Config) LoadSecret() error {
	if c.HotlineSecret != "" {
		return nil
	}
	b, err := os.ReadFile(c.SecretFile())
	if err != nil {
		return fmt.Errorf("no HOTLINE_SECRET set and none in %s (start `nuisance up` once or set HOTLINE_SECRET): %w", c.SecretFile(), err)
	}
	c.HotlineSecret = strings.TrimSpace(string(b))
	return nil
}
