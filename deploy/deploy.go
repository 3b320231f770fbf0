// Package deploy describes the distributed deployment: the NATS users of
// the services with the subjects each may publish and consume, rendered as
// the nats-server authorization block that docker-compose.yml and the
// loopback cluster of `make cluster` both load. Keeping the permissions in
// one table lets the tests prove them against a real server.
package deploy

import (
	"embed"
	"fmt"
	"slices"
	"strings"

	"github.com/xiamen-eeb/nuisance/services/callbacks"
	"github.com/xiamen-eeb/nuisance/services/geocoder"
	"github.com/xiamen-eeb/nuisance/services/hotspots"
	"github.com/xiamen-eeb/nuisance/services/router"
)

// Streams are the JetStream streams every service declares at start; they
// mirror natsx.Streams, which a test checks.
var Streams = []string{"COMPLAINTS", "HOTSPOTS", "CASES", "TRIAGE", "REPORTS", "DLQ"}

// Consumer is a consumer a service creates and reads. A durable consumer
// is one of Durables, the names the service's code gives it, and no other
// service may touch it: a user allowed any name on a stream could pull
// another service's messages from its durable, change its filter or
// delete it, and that service would stop without an error.
type Consumer struct {
	Stream string
	// Durables are the names the consumer may take: one, or for the
	// hotspot detector one per district partition (PartitionDurables).
	Durables []string
	// Filters are the subjects the consumer reads; the sweeper of the
	// service republishes events on them that it has not processed, so
	// the service may publish them too.
	Filters []string
	// Ordered consumers (the officers' live push) are ephemeral, without
	// acks, and deleted and recreated on a gap. nats.go names them with a
	// random prefix, so any name on the stream is allowed, except the
	// durables of the other services (Service.PublishDeny).
	Ordered bool
}

// PartitionDurables are the names of a hotspot detector's consumer, one
// per partition of the districts (hotspots.Durable) with suffix appended:
// instances of one partition share one, and which partitions a site runs
// is its choice, so every one of them is allowed.
func PartitionDurables(suffix string) []string {
	n := len(hotspots.Districts)
	out := []string{hotspots.Durable(nil) + suffix}
	for mask := 1; mask < 1<<n; mask++ {
		var ds []string
		for i, d := range hotspots.Districts {
			if mask&(1<<i) != 0 {
				ds = append(ds, d)
			}
		}
		if name := hotspots.Durable(ds) + suffix; !slices.Contains(out, name) {
			out = append(out, name)
		}
	}
	return out
}

// Service is one service's NATS identity.
type Service struct {
	Name string
	// Publishes are the event subjects its outbox holds.
	Publishes []string
	Consumers []Consumer
	// Stateless services scale by running more instances on the same
	// durable consumers.
	Stateless bool
}

// Services are the services of cmd/ with the subjects they use.
var Services = []Service{
	{Name: "intake", Publishes: []string{"complaint.received"}, Stateless: true},
	{Name: "geocoder", Publishes: []string{"complaint.located.>", "complaint.unlocated"}, Stateless: true,
		Consumers: []Consumer{
			{Stream: "COMPLAINTS", Durables: []string{geocoder.DurableReceived}, Filters: []string{"complaint.received"}},
			{Stream: "TRIAGE", Durables: []string{geocoder.DurableCorrected}, Filters: []string{"triage.corrected"}},
		}},
	{Name: "hotspots", Publishes: []string{"complaint.clustered.>", "hotspot.>"},
		Consumers: []Consumer{
			{Stream: "COMPLAINTS", Durables: PartitionDurables(""), Filters: []string{"complaint.located.>"}},
			{Stream: "CASES", Durables: PartitionDurables("-resolved"), Filters: []string{"case.resolved"}},
		}},
	{Name: "router", Publishes: []string{"case.>"}, Stateless: true,
		Consumers: []Consumer{
			{Stream: "COMPLAINTS", Durables: []string{router.DurableClustered}, Filters: []string{"complaint.clustered.>"}},
			{Stream: "CASES", Durables: []string{router.DurableReturned}, Filters: []string{"case.returned"}},
		}},
	{Name: "officers", Publishes: []string{"case.>", "triage.corrected"}, Stateless: true,
		Consumers: []Consumer{{Stream: "CASES", Filters: []string{"case.>"}, Ordered: true}}},
	{Name: "callbacks", Stateless: true,
		Consumers: []Consumer{{Stream: "CASES", Durables: []string{callbacks.Durable}, Filters: []string{"case.>"}}}},
	{Name: "reporter", Publishes: []string{"report.>"}},
}

// OperatorUser is the user with every permission, for operators' tools and
// the tests that inspect streams; no service runs as it.
const OperatorUser = "operator"

// PasswordVar is the environment variable that holds the NATS password of
// user: nats-server resolves the $NAME references of the authorization
// block from its environment, so no password is written in the repository.
func PasswordVar(user string) string {
	return "NATS_PASSWORD_" + strings.ToUpper(strings.ReplaceAll(user, "-", "_"))
}

// ServiceNamed returns the service called name, so commands and tests
// look a service up by its process name.
func ServiceNamed(name string) (Service, bool) {
	i := slices.IndexFunc(Services, func(s Service) bool { return s.Name == name })
	if i < 0 {
		return Service{}, false
	}
	return Services[i], true
}

// PublishAllow is every subject s may publish: its events, the inputs its
// sweeper republishes, dead letters, and the JetStream API calls it makes
// (declare the streams, never change them, check the account for readiness, create, read and
// ack its consumers).
func (s Service) PublishAllow() []string {
	var out []string
	add := func(subj ...string) {
		for _, x := range subj {
			if !slices.Contains(out, x) {
				out = append(out, x)
			}
		}
	}
	add(s.Publishes...)
	for _, c := range s.Consumers {
		add(c.Filters...)
	}
	// MSG.DELETE of the DLQ: every process runs the retention job, which
	// deletes a dead letter's copy there once its callers are erased; a
	// delete by sequence reads nothing.
	add("dlq.>", "$JS.API.INFO", "$JS.API.STREAM.MSG.DELETE.DLQ")
	for _, st := range Streams {
		// No STREAM.UPDATE: an update may add a RePublish that copies
		// the stream to a subject of the updater's choosing.
		add("$JS.API.STREAM.INFO."+st, "$JS.API.STREAM.CREATE."+st)
	}
	for _, c := range s.Consumers {
		if c.Ordered {
			add(consumerAPI(c.Stream, "*")...)
			add(consumerAPI(c.Stream, "*")[0] + ".>")
			add("$JS.API.CONSUMER.DELETE." + c.Stream + ".*")
			continue
		}
		for _, d := range c.Durables {
			add(consumerAPI(c.Stream, d)...)
			add(consumerAPI(c.Stream, d)[0]+".>", "$JS.API.CONSUMER.DURABLE.CREATE."+c.Stream+"."+d, "$JS.ACK."+c.Stream+"."+d+".>")
		}
	}
	return out
}

// consumerAPI are the JetStream API subjects that create or update, look
// up and pull from the consumer durable of stream; CREATE comes first, and
// is also sent with the consumer's filter appended.
func consumerAPI(stream, durable string) []string {
	api := "$JS.API.CONSUMER."
	return []string{api + "CREATE." + stream + "." + durable, api + "INFO." + stream + "." + durable, api + "MSG.NEXT." + stream + "." + durable}
}

// PublishDeny are the subjects s may not publish although PublishAllow
// matches them: where it may name a consumer as it likes (its ordered
// consumers), the API calls on the other services' durables of that stream
// (create or update, look up, pull, delete, acks). nats-server applies a
// deny before any allow.
func (s Service) PublishDeny() []string {
	var out []string
	for _, c := range s.Consumers {
		if !c.Ordered {
			continue
		}
		for _, o := range Services {
			if o.Name == s.Name {
				continue
			}
			for _, oc := range o.Consumers {
				if oc.Stream != c.Stream {
					continue
				}
				for _, d := range oc.Durables {
					api := consumerAPI(c.Stream, d)
					out = append(out, api...)
					out = append(out, api[0]+".>", "$JS.API.CONSUMER.DELETE."+c.Stream+"."+d, "$JS.ACK."+c.Stream+"."+d+".>")
				}
			}
		}
	}
	return out
}

// SubscribeAllow is every subject s may subscribe to: only its own
// inboxes, where JetStream answers API calls and delivers pulled messages.
// They carry the user's name (natsx.InboxPrefix, which natsx.Connect sets
// from the user of NATS_URL): with the shared "_INBOX.>" any service could
// read what every other one pulls, the operator's dead letters included.
func (s Service) SubscribeAllow() []string { return []string{"_INBOX_" + s.Name + ".>"} }

// Authorization renders the nats-server authorization block: one user per
// service with its permissions, and the operator.
func Authorization() string {
	var b strings.Builder
	b.WriteString("# Generated from deploy.Services by `go test ./deploy -update`; do not edit.\n")
	b.WriteString("# One user per service, publish and subscribe limited to its subjects.\n")
	b.WriteString("# Passwords come from the server's environment ($NATS_PASSWORD_<USER>).\n")
	b.WriteString("authorization {\n  users = [\n")
	for _, s := range Services {
		fmt.Fprintf(&b, "    {\n      user: %s\n      password: $%s\n      permissions: {\n", s.Name, PasswordVar(s.Name))
		writeList(&b, "publish", s.PublishAllow(), s.PublishDeny())
		writeList(&b, "subscribe", s.SubscribeAllow(), nil)
		b.WriteString("      }\n    }\n")
	}
	fmt.Fprintf(&b, "    {\n      user: %s\n      password: $%s\n    }\n", OperatorUser, PasswordVar(OperatorUser))
	b.WriteString("  ]\n}\n")
	return b.String()
}

func writeList(b *strings.Builder, key string, allow, deny []string) {
	fmt.Fprintf(b, "        %s: {\n          allow: [\n", key)
	for _, s := range allow {
		fmt.Fprintf(b, "            %q\n", s)
	}
	b.WriteString("          ]\n")
	if len(deny) > 0 {
		b.WriteString("          deny: [\n")
		for _, s := range deny {
			fmt.Fprintf(b, "            %q\n", s)
		}
		b.WriteString("          ]\n")
	}
	b.WriteString("        }\n")
}

// Users are the NATS users the authorization block declares.
func Users() []string {
	out := make([]string, 0, len(Services)+1)
	for _, s := range Services {
		out = append(out, s.Name)
	}
	return append(out, OperatorUser)
}

// NATS holds the server configuration files of the deployment.
//
//go:embed nats/*.conf
var NATS embed.FS

// AuthorizationFile is the name, in NATS and beside every server's
// configuration, of the rendered authorization block.
const AuthorizationFile = "nats/authorization.conf"
