package geocoder

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"go.uber.org/zap"

	"github.com/xiamen-eeb/nuisance/internal/classify"
	"github.com/xiamen-eeb/nuisance/internal/event"
	"github.com/xiamen-eeb/nuisance/internal/locate"
	"github.com/xiamen-eeb/nuisance/internal/natsx"
)

// Triage kinds, as the triage table's check constraint names them.
const (
	kindUnlocated    = "unlocated"
	kindUnclassified = "unclassified"
)

// reasonUnclassified is the triage reason of a complaint whose words name
// none of the nuisances.
const reasonUnclassified = "description names no noise, dust or cooking smoke"

// decision is what the geocoder concluded about one complaint, before it is
// stored.
type decision struct {
	loc  locate.Result
	cls  classify.Result
	prio classify.Priority
	// kind is "" for a complaint that goes on, else the triage kind, with
	// reason saying why.
	kind, reason string
	// codeIgnored says the hotline's category code was not one we know,
	// and the complaint was classified without it.
	codeIgnored bool
}

// decide locates and classifies a complaint. It never fails on the
// complaint's data: coordinates the locator rejects fall back to the
// address, a category code that does not exist falls back to the text,
// and what still cannot be decided is sent to triage with the reason.
func (s *Service) decide(ev event.ComplaintReceived) (decision, error) {
	var d decision
	in := locate.Input{Address: ev.Address}
	if ev.Location != nil {
		lon, lat := ev.Location.Lon, ev.Location.Lat
		in.Lon, in.Lat, in.CRS = &lon, &lat, ev.Location.CRS
	}
	loc, err := s.loc.Locate(in)
	if err != nil {
		rejected := "coordinates rejected: " + strings.TrimPrefix(err.Error(), "locate: ")
		if loc, err = s.loc.Locate(locate.Input{Address: ev.Address}); err != nil {
			return d, fmt.Errorf("locate %s by address: %w", ev.ComplaintID, err)
		}
		switch {
		case loc.Located():
			loc.Disagreement = joinReasons(rejected, loc.Disagreement)
		case strings.TrimSpace(ev.Address) == "":
			loc.Reason = rejected
		default:
			loc.Reason = joinReasons(rejected, loc.Reason)
		}
	}
	d.loc = loc

	cin := classify.Input{Category: ev.Category, Subcategory: ev.Subcategory, HotlineCategory: ev.HotlineCategory, Description: ev.Description}
	cls, err := s.cls.Classify(cin)
	if errors.Is(err, classify.ErrInvalidCode) && cin.Subcategory != "" {
		// Keep a known category even when its subcategory is unknown. A
		// subcategory of another category contradicts it: neither code
		// decides, the hotline's path or the description does (and a
		// complaint they do not decide goes to triage).
		d.codeIgnored = true
		if owner, ok := s.cls.CategoryOf(cin.Subcategory); ok && owner != strings.TrimSpace(cin.Category) {
			cin.Category = ""
		}
		cin.Subcategory = ""
		cls, err = s.cls.Classify(cin)
	}
	if errors.Is(err, classify.ErrInvalidCode) {
		d.codeIgnored = true
		cin.Category, cin.Subcategory = "", ""
		cls, err = s.cls.Classify(cin)
	}
	if err != nil {
		return d, fmt.Errorf("classify %s: %w", ev.ComplaintID, err)
	}
	d.cls = cls
	if cls.Category != "" {
		// Night construction is urgent in every district, so a complaint
		// not yet located still learns that it is.
		d.prio = s.cls.Prioritise(cls.Category, cls.Subcategory, loc.District, ev.ReceivedAt)
	}

	switch {
	case !loc.Located() && cls.Category == "":
		d.kind, d.reason = kindUnlocated, joinReasons(loc.Reason, reasonUnclassified)
	case !loc.Located():
		d.kind, d.reason = kindUnlocated, loc.Reason
	case cls.Category == "":
		d.kind, d.reason = kindUnclassified, reasonUnclassified
	}
	return d, nil
}

// joinReasons joins the non-empty reasons with "; ".
func joinReasons(rs ...string) string {
	var out []string
	for _, r := range rs {
		if r != "" {
			out = append(out, r)
		}
	}
	return strings.Join(out, "; ")
}

// HandleComplaintsReceived locates and classifies a batch of received
// complaints and stores, with one statement for the whole batch, their
// locations, their triage rows and their events: complaint.located, or
// complaint.unlocated for a complaint that goes to triage. A complaint
// already handled, under any event id, in an earlier batch or earlier in
// this one, keeps its first result and nothing more is written for it.
func (s *Service) HandleComplaintsReceived(ctx context.Context, tx pgx.Tx, evs []event.ComplaintReceived, _ []natsx.Meta) error {
	var ds decisions
	for _, ev := range evs {
		d, err := s.decide(ev)
		if err != nil {
			return err
		}
		subject, out := announcement(ev, d)
		added, err := ds.add(ev, d, subject, out)
		if err != nil {
			return err
		}
		if added && d.codeIgnored {
			s.log.Warn("unknown category code ignored; classified from the text",
				zap.String("complaint_id", ev.ComplaintID), zap.String("category", ev.Category), zap.String("subcategory", ev.Subcategory))
		}
	}
	if len(ds.ids) == 0 {
		return nil
	}
	rows, err := tx.Query(ctx, storeDecisions, ds.args()...)
	if err != nil {
		return fmt.Errorf("store locations of %d complaints: %w", len(ds.ids), err)
	}
	inserted := make(map[string]bool, len(ds.ids))
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return fmt.Errorf("store locations of %d complaints: %w", len(ds.ids), err)
		}
		inserted[id] = true
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("store locations of %d complaints: %w", len(ds.ids), err)
	}
	// Complaints handled before under another event id count nothing.
	for i, id := range ds.ids {
		if inserted[id] {
			decided.WithLabelValues(ds.outcomes[i], ds.outcomeMethods[i]).Inc()
		}
	}
	return nil
}

// announcement is the event that carries a decided complaint on:
// complaint.unlocated for one that goes to triage, else
// complaint.located.<district>.<category>.
func announcement(ev event.ComplaintReceived, d decision) (string, interface{ ID() string }) {
	if d.kind != "" {
		return event.SubjComplaintUnlocated, event.ComplaintUnlocated{
			EventID:     ev.ComplaintID + ".unlocated",
			ComplaintID: ev.ComplaintID,
			TicketID:    ev.TicketID,
			Reason:      d.reason,
			History:     ev.History,
		}
	}
	located := locatedEvent(ev.ComplaintID+".located", ev.ComplaintID, ev.TicketID, ev.ReceivedAt, d.loc, d.cls.Category, d.cls.Subcategory, d.prio)
	located.Detail = d.cls.Detail
	located.History = ev.History
	return locatedSubject(located), located
}
