package config

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

func env(kv ...string) func(string) string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) string { return m[k] }
}

// The configuration logged at start shows where each server is and never
// a secret, whatever form its address takes.
func TestMaskedShowsNoSecret(t *testing.T) {
	for _, tc := range []struct{ db, nats, callback, want string }{
		{"postgres://nuisance:S3cretPG@db:5432/nuisance?sslmode=disable", "", "", "postgres://nuisance:***@db:5432/nuisance?sslmode=disable"},
		{"host=db.internal user=nuisance password=S3cretPG dbname=nuisance", "", "", "host=db.internal user=nuisance password=*** dbname=nuisance"},
		{"host=db user=n password='S3cret PG' dbname=n", "", "", "host=db user=n password=*** dbname=n"},
		{"postgres://db/nuisance?user=n&password=S3cretPG", "", "", "password=REDACTED"},
		{"", "nats://S3cretToken@nats1:4222", "", "nats://***@nats1:4222"},
		{"", "nats://n:S3cretPW@nats1:4222,nats://n:S3cretPW@nats2:4222", "", "nats://n:***@nats1:4222,nats://n:***@nats2:4222"},
		{"", "", "https://hotline.example/cb?access_token=S3cretCB&v=1", "https://hotline.example/cb?access_token=REDACTED&v=1"},
	} {
		c, err := FromEnv(env("DATABASE_URL", tc.db, "NATS_URL", tc.nats, "HOTLINE_CALLBACK_URL", tc.callback))
		if err != nil {
			t.Fatal(err)
		}
		logged := fmt.Sprint(c.Masked())
		if strings.Contains(logged, "S3cret") {
			t.Errorf("logged %s", logged)
		}
		if !strings.Contains(logged, tc.want) {
			t.Errorf("logged %s, want it to show %s", logged, tc.want)
		}
	}
}

func TestFromEnvRefusesWhatItCannotUse(t *testing.T) {
	for _, kv := range [][]string{
		{"HOTLINE_CALLBACK_URL", "hotline.example.gov.cn/v1/callbacks"},
		{"HOTLINE_CALLBACK_URL", "ftp://hotline.example.gov.cn/cb"},
		{"HOTLINE_CALLBACK_URL", "https:///cb"},
		{"NUISANCE_STREAM_REPLICAS", "1.5"},
		{"NUISANCE_STREAM_REPLICAS", "3x"},
		{"NUISANCE_STREAM_REPLICAS", "0"},
		{"NUISANCE_SWEEP_AFTER", "soon"},
		{"NUISANCE_PII_RETENTION", "180"},
		{"NUISANCE_PII_RETENTION", "-1d"},
		{"NUISANCE_PII_RETENTION", "half a year"},
		{"NUISANCE_CALLBACK_RETENTION", "0d"},
		{"NUISANCE_DEAD_LETTER_RETENTION", "a while"},
	} {
		if _, err := FromEnv(env(kv...)); err == nil {
			t.Errorf("%s=%q accepted", kv[0], kv[1])
		} else if kv[0] == "HOTLINE_CALLBACK_URL" && strings.Contains(err.Error(), kv[1]) {
			t.Errorf("the error repeats the URL, which may carry a token: %v", err)
		}
	}
	c, err := FromEnv(env("NUISANCE_STREAM_REPLICAS", "3", "HOTLINE_CALLBACK_URL", "https://12345.xm.gov.cn/callbacks"))
	if err != nil || c.StreamReplicas != 3 {
		t.Errorf("good settings: %+v %v", c, err)
	}
}

// The callers' personal data is kept unless a retention period is set;
// callbacks and settled dead letters are kept 90 days unless the
// operator says otherwise, in days or as a Go duration, or "off" for
// ever.
func TestFromEnvReadsRetention(t *testing.T) {
	day := 24 * time.Hour
	for _, tc := range []struct {
		env                         []string
		callbacks, pii, deadLetters time.Duration
	}{
		{nil, 90 * day, 0, 90 * day},
		{[]string{"NUISANCE_PII_RETENTION", "180d"}, 90 * day, 180 * day, 90 * day},
		{[]string{"NUISANCE_PII_RETENTION", "off", "NUISANCE_CALLBACK_RETENTION", "4320h"}, 180 * day, 0, 90 * day},
		{[]string{"NUISANCE_CALLBACK_RETENTION", "off"}, 0, 0, 90 * day},
		{[]string{"NUISANCE_CALLBACK_RETENTION", " 30d "}, 30 * day, 0, 90 * day},
		{[]string{"NUISANCE_DEAD_LETTER_RETENTION", "365d"}, 90 * day, 0, 365 * day},
		{[]string{"NUISANCE_DEAD_LETTER_RETENTION", "off"}, 90 * day, 0, 0},
	} {
		c, err := FromEnv(env(tc.env...))
		if err != nil {
			t.Errorf("%v: %v", tc.env, err)
			continue
		}
		if c.CallbackRetention != tc.callbacks || c.PIIRetention != tc.pii || c.DeadLetterRetention != tc.deadLetters {
			t.Errorf("%v: callbacks %s, personal data %s, dead letters %s; want %s, %s, %s", tc.env,
				c.CallbackRetention, c.PIIRetention, c.DeadLetterRetention, tc.callbacks, tc.pii, tc.deadLetters)
		}
	}
}

// The trusted proxies are addresses and CIDR prefixes; unset, none.
func TestFromEnvReadsTrustedProxies(t *testing.T) {
	for _, tc := range []struct{ v, want, logged string }{
		{"", "[]", "none: every client is its TCP peer"},
		{"10.0.0.0/8", "[10.0.0.0/8]", "10.0.0.0/8"},
		{" 10.0.0.0/8, 192.168.1.10 ,fd00::/8,, ", "[10.0.0.0/8 192.168.1.10/32 fd00::/8]", "10.0.0.0/8,192.168.1.10,fd00::/8"},
		{"172.16.0.0/12 2001:db8::1", "[172.16.0.0/12 2001:db8::1/128]", "172.16.0.0/12,2001:db8::1"},
		{"::ffff:10.0.0.2,::ffff:192.168.0.0/112", "[10.0.0.2/32 192.168.0.0/16]", "10.0.0.2,192.168.0.0/16"},
	} {
		c, err := FromEnv(env("NUISANCE_TRUSTED_PROXIES", tc.v))
		if err != nil {
			t.Errorf("%q: %v", tc.v, err)
			continue
		}
		if got := fmt.Sprint(c.TrustedProxies); got != tc.want {
			t.Errorf("%q read as %s, want %s", tc.v, got, tc.want)
		}
		if got := c.Masked()["trusted_proxies"]; got != tc.logged {
			t.Errorf("%q logged as %v, want %s", tc.v, got, tc.logged)
		}
	}
}

// A setting that names a proxy wrongly stops the process at start, the
// error naming the entry.
func TestFromEnvRefusesABadTrustedProxy(t *testing.T) {
	for _, tc := range []struct{ v, bad string }{
		{"10.0.0.0/8,proxy.internal", `"proxy.internal"`},
		{"10.0.0.256", `"10.0.0.256"`},
		{"10.0.0.0/33", `"10.0.0.0/33"`},
		{"10.0.0.0/8;192.168.0.0/16", `"10.0.0.0/8;192.168.0.0/16"`},
		{"10.1.2.3/8", `"10.1.2.3/8": bits are set past its /8; write 10.0.0.0/8`},
		{"0.0.0.0/0", `"0.0.0.0/0": trusts every address`},
		{"fd00::/8 ::/0", `"::/0": trusts every address`},
		{"fe80::1%eth0", `"fe80::1%eth0"`},
		{"10.0.0.2:8080", `"10.0.0.2:8080"`},
	} {
		_, err := FromEnv(env("NUISANCE_TRUSTED_PROXIES", tc.v))
		if err == nil {
			t.Errorf("%q accepted", tc.v)
			continue
		}
		if !strings.HasPrefix(err.Error(), "NUISANCE_TRUSTED_PROXIES ") || !strings.Contains(err.Error(), tc.bad) {
			t.Errorf("%q refused with %q, want it to name %s", tc.v, err, tc.bad)
		}
	}
}
