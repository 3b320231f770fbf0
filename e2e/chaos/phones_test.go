package chaos

import "testing"

// phoneSet finds any of a set of phone numbers in a large text in one
// pass: it looks up every window of every run of digits, so the cost does
// not grow with the number of phones.
type phoneSet struct {
	set     map[string]struct{}
	lengths map[int]struct{}
}

func newPhoneSet() *phoneSet {
	return &phoneSet{set: map[string]struct{}{}, lengths: map[int]struct{}{}}
}

func (p *phoneSet) add(phone string) {
	if phone == "" {
		return
	}
	p.set[phone] = struct{}{}
	p.lengths[len(phone)] = struct{}{}
}

func (p *phoneSet) empty() bool { return len(p.set) == 0 }

func (p *phoneSet) foundIn(b []byte) bool {
	for i := 0; i < len(b); {
		if b[i] < '0' || b[i] > '9' {
			i++
			continue
		}
		j := i
		for j < len(b) && b[j] >= '0' && b[j] <= '9' {
			j++
		}
		run := b[i:j]
		for n := range p.lengths {
			for k := 0; k+n <= len(run); k++ {
				if _, ok := p.set[string(run[k:k+n])]; ok {
					return true
				}
			}
		}
		i = j
	}
	return false
}

func TestPhoneSetFindsPhones(t *testing.T) {
	t.Parallel()
	phones := newPhoneSet()
	phones.add("13800001234")
	phones.add("13800005678")
	tests := []struct {
		name string
		text string
		want bool
	}{
		{"alone", "13800001234", true},
		{"in a JSON log line", `{"level":"info","phone":"13800005678","msg":"x"}`, true},
		{"inside a longer run of digits", "9913800001234", true},
		{"after other numbers", "id 42 at 2024-03-11 phone 13800001234", true},
		{"masked", `{"phone":"138****1234"}`, false},
		{"another number", "13800009999", false},
		{"cut short", "1380000123", false},
		{"no digits", "工地夜间打桩噪声扰民", false},
		{"empty", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := phones.foundIn([]byte(tt.text)); got != tt.want {
				t.Fatalf("foundIn(%q) = %v, want %v", tt.text, got, tt.want)
			}
		})
	}
}
