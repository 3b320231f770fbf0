package intake

import (
	"encoding/json"
	"math"
	"net/http"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/xiamen-eeb/nuisance/internal/event"
)

// receivedPayload is the complaint.received event of the work order c
// stored as complaint id, byte for byte as json.Marshal writes
// event.ComplaintReceived, without its reflection: it is written for
// every accepted work order.
func receivedPayload(id string, c *Complaint) ([]byte, error) {
	l := c.Location
	if y := c.ReceivedAt.Year(); y < 0 || y > 9999 || l != nil && (!plainFloat(l.Lon) || !plainFloat(l.Lat)) {
		// Values json.Marshal refuses or writes in exponent form.
		return json.Marshal(receivedEvent(id, c))
	}
	b := make([]byte, 0, 256+len(c.Description)+len(c.Address)+len(c.HotlineCategory))
	b = append(b, `{"event_id":`...)
	b = appendString(b, id+".received")
	b = append(b, `,"complaint_id":`...)
	b = appendString(b, id)
	b = append(b, `,"ticket_id":`...)
	b = appendString(b, c.TicketID)
	b = append(b, `,"received_at":"`...)
	b = c.ReceivedAt.AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","description":`...)
	b = appendString(b, c.Description)
	b = appendOmitEmpty(b, `,"category":`, c.Category)
	b = appendOmitEmpty(b, `,"subcategory":`, c.Subcategory)
	b = appendOmitEmpty(b, `,"hotline_category":`, c.HotlineCategory)
	b = appendOmitEmpty(b, `,"address":`, c.Address)
	if l != nil {
		b = append(b, `,"location":{"lon":`...)
		b = strconv.AppendFloat(b, l.Lon, 'f', -1, 64)
		b = append(b, `,"lat":`...)
		b = strconv.AppendFloat(b, l.Lat, 'f', -1, 64)
		b = appendOmitEmpty(b, `,"crs":`, l.CRS)
		b = append(b, '}')
	}
	b = appendOmitEmpty(b, `,"channel":`, c.Channel)
	return append(b, '}'), nil
}

// receivedEvent is the complaint.received event of the work order c
// stored as complaint id.
func receivedEvent(id string, c *Complaint) event.ComplaintReceived {
	return event.ComplaintReceived{
		EventID:         id + ".received",
		ComplaintID:     id,
		TicketID:        c.TicketID,
		ReceivedAt:      c.ReceivedAt,
		Description:     c.Description,
		Category:        c.Category,
		Subcategory:     c.Subcategory,
		HotlineCategory: c.HotlineCategory,
		Address:         c.Address,
		Location:        c.Location,
		Channel:         c.Channel,
	}
}

// plainFloat tells whether json.Marshal writes f without an exponent.
func plainFloat(f float64) bool {
	a := math.Abs(f)
	return a == 0 || a >= 1e-6 && a < 1e21
}

func appendOmitEmpty(b []byte, key, s string) []byte {
	if s == "" {
		return b
	}
	return appendString(append(b, key...), s)
}

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string escaped as json.Marshal escapes
// it: HTML characters, control characters, U+2028 and U+2029 escaped,
// invalid UTF-8 replaced.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(append(b, s[start:i]...), `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(append(b, s[start:i]...), '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	return append(append(b, s[start:]...), '"')
}

// jsonContentType is the Content-Type header of every answer; net/http
// only reads it.
var jsonContentType = []string{"application/json"}

// writeAnswer writes the answer as httpx.WriteJSON would, without an
// encoder per request.
func writeAnswer(w http.ResponseWriter, status int, a Answer) {
	b := make([]byte, 0, 128)
	b = append(b, `{"complaint_id":`...)
	b = appendString(b, a.ComplaintID)
	b = append(b, `,"ticket_id":`...)
	b = appendString(b, a.TicketID)
	b = append(b, `,"status":`...)
	b = appendString(b, a.Status)
	b = append(b, "}\n"...)
	w.Header()["Content-Type"] = jsonContentType
	w.WriteHeader(status)
	_, _ = w.Write(b)
}
