package bench

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// progress draws a one-line progress bar on stderr when it is a terminal,
// and nothing otherwise.
type progress struct {
	mu      sync.Mutex
	w       io.Writer
	on      bool
	name    string
	total   int64
	done    int64
	extra   string
	started time.Time
	drawn   time.Time
	width   int
}

func newProgress(w io.Writer, want bool) *progress {
	p := &progress{w: w}
	if f, ok := w.(*os.File); ok && want {
		if _, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS); err == nil {
			p.on = true
		}
	}
	return p
}

// phase starts a new phase; total 0 shows a spinner-less status line.
func (p *progress) phase(name string, total int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.name, p.total, p.done, p.extra, p.started = name, total, 0, "", time.Now()
	p.draw(true)
}

func (p *progress) set(done int64, extra string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.done, p.extra = done, extra
	p.draw(false)
}

// clear erases the line.
func (p *progress) clear() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.on && p.width > 0 {
		fmt.Fprintf(p.w, "\r%s\r", strings.Repeat(" ", p.width))
		p.width = 0
	}
}

func (p *progress) draw(force bool) {
	if !p.on || (!force && time.Since(p.drawn) < 150*time.Millisecond) {
		return
	}
	p.drawn = time.Now()
	el := time.Since(p.started).Seconds()
	var line string
	if p.total > 0 {
		frac := min(1, float64(p.done)/float64(p.total))
		const barW = 30
		n := int(frac * barW)
		bar := strings.Repeat("=", n)
		if n < barW {
			bar += ">" + strings.Repeat(" ", barW-n-1)
		}
		rate := ""
		if el > 0.2 {
			rate = fmt.Sprintf(" %.0f/s", float64(p.done)/el)
		}
		line = fmt.Sprintf("%s [%s] %d/%d%s %s %.0fs", p.name, bar, p.done, p.total, rate, p.extra, el)
	} else {
		line = fmt.Sprintf("%s %.0fs", p.name, el)
	}
	pad := ""
	if len(line) < p.width {
		pad = strings.Repeat(" ", p.width-len(line))
	}
	fmt.Fprintf(p.w, "\r%s%s", line, pad)
	p.width = len(line)
}
