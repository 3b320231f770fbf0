// Package hotline is a client of the intake's signed API, as the 12345
// hotline uses it: for `nuisance replay`, the demo, tests and load runs.
package hotline

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

// Client signs requests to the intake as Standard Webhooks.
type Client struct {
	BaseURL string // e.g. http://127.0.0.1:8080
	HTTP    *http.Client
	hook    *standardwebhooks.Webhook
	// Now lets tests sign with a skewed clock.
	Now func() time.Time
}

// New returns a client for baseURL signing with secret (whsec_...).
func New(baseURL, secret string) (*Client, error) {
	keys := strings.Fields(secret)
	if len(keys) == 0 {
		return nil, fmt.Errorf("no hotline secret")
	}
	// With several keys (rotation), sign with the first.
	wh, err := NewWebhook(keys[0])
	if err != nil {
		return nil, fmt.Errorf("hotline secret: %w", err)
	}
	return &Client{
		BaseURL: strings.TrimRight(baseURL, "/"),
		HTTP:    &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 256, MaxConnsPerHost: 512}},
		hook:    wh,
		Now:     time.Now,
	}, nil
}

// Response is an intake answer: the status and the decoded body.
type Response struct {
	Status int
	Body   []byte
}

// Decode unmarshals the body into v.
func (r Response) Decode(v any) error { return json.Unmarshal(r.Body, v) }

// Sign sets the Standard Webhooks headers on req for body.
func (c *Client) Sign(req *http.Request, msgID string, body []byte) error {
	ts := c.Now()
	sig, err := c.hook.Sign(msgID, ts, body)
	if err != nil {
		return err
	}
	req.Header.Set("webhook-id", msgID)
	req.Header.Set("webhook-timestamp", strconv.FormatInt(ts.Unix(), 10))
	req.Header.Set("webhook-signature", sig)
	return nil
}

// Paths of the intake's POSTs: the hotline's work orders, and the
// operator's backfill of work orders handled before (history), which have
// the same body, signature and answers.
const (
	ComplaintsPath = "/v1/hotline/complaints"
	HistoryPath    = "/v1/hotline/history"
)

// Post sends one work order with webhook-id msgID.
func (c *Client) Post(ctx context.Context, msgID string, body []byte) (Response, error) {
	return c.PostTo(ctx, ComplaintsPath, msgID, body)
}

// PostTo sends one work order with webhook-id msgID to path, one of
// ComplaintsPath and HistoryPath.
func (c *Client) PostTo(ctx context.Context, path, msgID string, body []byte) (Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.BaseURL+path, bytes.NewReader(body))
	if err != nil {
		return Response{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	if err := c.Sign(req, msgID, body); err != nil {
		return Response{}, err
	}
	return c.do(req)
}

// Lookup asks for the work order's status.
func (c *Client) Lookup(ctx context.Context, msgID, ticketID string) (Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.BaseURL+ComplaintsPath+"/"+url.PathEscape(ticketID), nil)
	if err != nil {
		return Response{}, err
	}
	if err := c.Sign(req, msgID, nil); err != nil {
		return Response{}, err
	}
	return c.do(req)
}

func (c *Client) do(req *http.Request) (Response, error) {
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return Response{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return Response{}, err
	}
	return Response{Status: resp.StatusCode, Body: b}, nil
}
