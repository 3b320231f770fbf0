package devcluster

import "fmt"

// Running reports whether the process is alive, so a fault can be held
// and checked before the process comes back.
func (p *Proc) Running() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil {
		return false
	}
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// Start starts the process again, with its command, environment and
// addresses, after Kill or Stop ended it: unlike Restart it lets a fault
// last, e.g. the whole NATS cluster down for a while.
func (p *Proc) Start() error {
	if p.Running() {
		return fmt.Errorf("start %s: already running", p.Name)
	}
	return p.start()
}
