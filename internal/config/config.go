// Package config reads the one configuration every process shares from the
// environment, with defaults that let a first run work without any.
package config

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
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
	CallbackURL   string // empty: callbacks wait in the callbacks table
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
	// Calendar is a calendar.json whose years are added to the built-in
	// working-day calendar (next year's holidays, before a new build
	// carries them); empty: the built-in calendar alone.
	Calendar string
	// Priority is a priority.json whose yearly plans (点题整治) are added
	// to the built-in ones (the bureau's plan of a new year, before a new
	// build carries it); empty: the built-in plans alone.
	Priority string
	// CallbackRetention is how long a callback is kept once delivered or
	// given up on (default 90 days); 0 keeps every callback.
	CallbackRetention time.Duration
	// PIIRetention is how long after a case was resolved or closed its
	// callers' names and phones are erased; 0 (the default) keeps them.
	PIIRetention time.Duration
	// TrustedProxies are the reverse proxies and load balancers in front
	// of the process, whose X-Forwarded-For tells which client a request
	// comes from, for the rate limits counted by client address; empty:
	// every request's client is its TCP peer.
	TrustedProxies []netip.Prefix
	// DeadLetterRetention is how long a dead letter is kept once its
	// consumer has handled its event (default 90 days); 0 keeps every
	// dead letter. One not handled is kept whatever its age.
	DeadLetterRetention time.Duration
}

// FromEnv builds a Config from getenv with the documented defaults.
func FromEnv(getenv func(string) string) (Config, error) {
	c := Config{
		NATSURL:             getenv("NATS_URL"),
		DatabaseURL:         getenv("DATABASE_URL"),
		HTTPAddr:            or(getenv("NUISANCE_HTTP_ADDR"), "127.0.0.1:8080"),
		HotlineSecret:       getenv("HOTLINE_SECRET"),
		CallbackURL:         getenv("HOTLINE_CALLBACK_URL"),
		DataDir:             or(getenv("NUISANCE_DATA_DIR"), "./var"),
		LogLevel:            or(getenv("LOG_LEVEL"), "info"),
		DebugAddr:           getenv("NUISANCE_DEBUG_ADDR"),
		Calendar:            getenv("NUISANCE_CALENDAR"),
		Priority:            getenv("NUISANCE_PRIORITY"),
		StreamReplicas:      1,
		SweepAfter:          2 * time.Minute,
		CallbackRetention:   90 * 24 * time.Hour,
		DeadLetterRetention: 90 * 24 * time.Hour,
	}
	if v := getenv("NUISANCE_STREAM_REPLICAS"); v != "" {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil || n < 1 || n > 5 {
			return c, fmt.Errorf("NUISANCE_STREAM_REPLICAS %q: want a whole number 1..5", v)
		}
		c.StreamReplicas = n
	}
	if c.CallbackURL != "" {
		// The URL is not repeated: it may carry a token.
		u, err := url.Parse(c.CallbackURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return c, errors.New("HOTLINE_CALLBACK_URL: want an http:// or https:// URL with a host, e.g. https://12345.xm.gov.cn/callbacks")
		}
	}
	if v := getenv("NUISANCE_SWEEP_AFTER"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return c, fmt.Errorf("NUISANCE_SWEEP_AFTER %q: want a positive duration", v)
		}
		c.SweepAfter = d
	}
	if v, ok := lookup(getenv, "NUISANCE_CALLBACK_RETENTION"); ok {
		d, err := parseRetention(v)
		if err != nil {
			return c, fmt.Errorf("NUISANCE_CALLBACK_RETENTION %w", err)
		}
		c.CallbackRetention = d
	}
	if v, ok := lookup(getenv, "NUISANCE_DEAD_LETTER_RETENTION"); ok {
		d, err := parseRetention(v)
		if err != nil {
			return c, fmt.Errorf("NUISANCE_DEAD_LETTER_RETENTION %w", err)
		}
		c.DeadLetterRetention = d
	}
	if v, ok := lookup(getenv, "NUISANCE_PII_RETENTION"); ok {
		d, err := parseRetention(v)
		if err != nil {
			return c, fmt.Errorf("NUISANCE_PII_RETENTION %w", err)
		}
		c.PIIRetention = d
	}
	if v, ok := lookup(getenv, "NUISANCE_TRUSTED_PROXIES"); ok {
		p, err := parseProxies(v)
		if err != nil {
			return c, fmt.Errorf("NUISANCE_TRUSTED_PROXIES %w", err)
		}
		c.TrustedProxies = p
	}
	abs, err := filepath.Abs(c.DataDir)
	if err != nil {
		return c, fmt.Errorf("data dir %q: %w", c.DataDir, err)
	}
	c.DataDir = abs
	return c, nil
}

// lookup is getenv's value of name, and whether it is set to anything.
func lookup(getenv func(string) string, name string) (string, bool) {
	v := strings.TrimSpace(getenv(name))
	return v, v != ""
}

// parseRetention reads a retention period: a number of days ("180d") or
// a Go duration ("4320h"); "off" or "0" is 0, keep for ever.
func parseRetention(v string) (time.Duration, error) {
	bad := fmt.Errorf("%q: want a number of days such as 180d, a duration such as 4320h, or off", v)
	switch strings.ToLower(v) {
	case "off", "0":
		return 0, nil
	}
	if days, ok := strings.CutSuffix(v, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil || n <= 0 || n > 100*365 {
			return 0, bad
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return 0, bad
	}
	return d, nil
}

// parseProxies reads a list of addresses and CIDR prefixes, separated by
// commas or spaces. A prefix with bits set past its length (10.1.2.3/8)
// is refused rather than read as the network it is in, and so is one
// that holds every address, which would let any client write the address
// it is counted as.
func parseProxies(v string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, e := range strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' }) {
		if !strings.Contains(e, "/") {
			a, err := netip.ParseAddr(e)
			if err != nil || a.Zone() != "" {
				return nil, fmt.Errorf("%q: want an IP address such as 10.0.0.2 or a CIDR prefix such as 10.0.0.0/8", e)
			}
			a = a.Unmap()
			out = append(out, netip.PrefixFrom(a, a.BitLen()))
			continue
		}
		p, err := netip.ParsePrefix(e)
		if err != nil {
			return nil, fmt.Errorf("%q: want a CIDR prefix such as 10.0.0.0/8 or fd00::/8, or an IP address", e)
		}
		if p.Addr().Is4In6() && p.Bits() >= 96 {
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		if m := p.Masked(); m != p {
			return nil, fmt.Errorf("%q: bits are set past its /%d; write %s for the network, or %s alone for the address", e, p.Bits(), m, p.Addr())
		}
		if p.Bits() == 0 {
			return nil, fmt.Errorf("%q: trusts every address, so any client could write the address it is counted as; name the proxies' addresses", e)
		}
		out = append(out, p)
	}
	return out, nil
}

// proxies shows the trusted proxies as the setting lists them.
func proxies(ps []netip.Prefix) string {
	if len(ps) == 0 {
		return "none: every client is its TCP peer"
	}
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = p.String()
		if p.IsSingleIP() {
			s[i] = p.Addr().String()
		}
	}
	return strings.Join(s, ",")
}

// retention shows a retention period in days where it is whole days.
func retention(d time.Duration, off string) string {
	switch {
	case d <= 0:
		return off
	case d%(24*time.Hour) == 0:
		return strconv.FormatInt(int64(d/(24*time.Hour)), 10) + "d"
	}
	return d.String()
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
		"nats_url":              maskURL(c.NATSURL, "embedded"),
		"database_url":          maskURL(c.DatabaseURL, "private cluster"),
		"http_addr":             c.HTTPAddr,
		"hotline_secret":        maskSecret(c.HotlineSecret),
		"callback_url":          maskURL(c.CallbackURL, "unset: callbacks wait in the callbacks table"),
		"data_dir":              c.DataDir,
		"log_level":             c.LogLevel,
		"stream_replicas":       c.StreamReplicas,
		"sweep_after":           c.SweepAfter.String(),
		"debug_addr":            or(c.DebugAddr, "off"),
		"calendar":              or(c.Calendar, "built-in"),
		"priority":              or(c.Priority, "built-in"),
		"callback_retention":    retention(c.CallbackRetention, "off: every callback kept"),
		"pii_retention":         retention(c.PIIRetention, "off: callers kept"),
		"dead_letter_retention": retention(c.DeadLetterRetention, "off: every dead letter kept"),
		"trusted_proxies":       proxies(c.TrustedProxies),
	}
}

func maskSecret(s string) string {
	if s == "" {
		return "unset"
	}
	return "set (" + fmt.Sprint(len(strings.Fields(s))) + " key(s))"
}

// maskURL shows a server's address without its secrets: the password or
// token of its userinfo, query parameters that look like credentials, and
// the password of a PostgreSQL key=value connection string. NATS_URL may
// list several servers, separated by commas.
func maskURL(raw, empty string) string {
	if raw == "" {
		return empty
	}
	parts := strings.Split(raw, ",")
	for i, p := range parts {
		parts[i] = maskOne(strings.TrimSpace(p))
	}
	return strings.Join(parts, ",")
}

// dsnPassword is the password of a key=value connection string, quoted or
// not.
var dsnPassword = regexp.MustCompile(`(?i)(\bpassword\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)`)

func maskOne(s string) string {
	if !strings.Contains(s, "://") {
		return dsnPassword.ReplaceAllString(s, "${1}***")
	}
	u, err := url.Parse(s)
	if err != nil {
		return "(not a URL; not shown)"
	}
	const hidden = "HIDDEN-SECRET" // written as *** below: url would escape the stars
	if u.User != nil {
		if _, ok := u.User.Password(); ok {
			u.User = url.UserPassword(u.User.Username(), hidden)
		} else {
			u.User = url.User(hidden) // a token alone, as NATS takes it
		}
	}
	if u.RawQuery != "" {
		q := u.Query()
		for k := range q {
			if credential(k) {
				q.Set(k, "REDACTED")
			}
		}
		u.RawQuery = q.Encode()
	}
	return strings.Replace(u.String(), hidden, "***", 1)
}

// credential tells a query parameter that may hold a secret by its name.
func credential(name string) bool {
	n := strings.ToLower(name)
	for _, w := range []string{"pass", "token", "secret", "key", "sig", "auth", "credential"} {
		if strings.Contains(n, w) {
			return true
		}
	}
	return false
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
