package release

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"golang.org/x/term"
)

// ProgressModes are the values of release --progress: auto (live on a
// terminal, plain lines elsewhere), live and plain.
func ProgressModes() []string { return []string{"auto", "live", "plain"} }

// Progress receives the life of a release as it happens. Three
// implementations: plain lines (CI, pipes), a live display (terminal)
// and JSON events.
type Progress interface {
	Start(stage string)
	Log(msg string)
	End(res StageResult)
}

type nopProgress struct{}

func (nopProgress) Start(string)    {}
func (nopProgress) Log(string)      {}
func (nopProgress) End(StageResult) {}

// Plain writes one line per event, for CI logs.
type Plain struct {
	W     io.Writer
	mu    sync.Mutex
	stage string
}

func (p *Plain) Start(stage string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stage = stage
	fmt.Fprintf(p.W, "==> %s\n", stage)
}

func (p *Plain) Log(msg string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.W, "    %s: %s\n", p.stage, msg)
}

func (p *Plain) End(res StageResult) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.W, "<== %s %s in %s: %s\n", res.Stage, res.Status, fmtSeconds(res.Seconds), res.Detail)
}

// Event is one JSON progress event.
type Event struct {
	Time    string  `json:"time"`
	Type    string  `json:"type"` // start, log, end
	Stage   string  `json:"stage"`
	Status  string  `json:"status,omitempty"`
	Seconds float64 `json:"seconds,omitempty"`
	Message string  `json:"message,omitempty"`
}

// JSON writes one event object per line.
type JSON struct {
	W     io.Writer
	Now   func() time.Time
	mu    sync.Mutex
	stage string
}

func (j *JSON) emit(e Event) {
	now := time.Now
	if j.Now != nil {
		now = j.Now
	}
	e.Time = now().UTC().Format(time.RFC3339Nano)
	b, _ := json.Marshal(e)
	j.W.Write(append(b, '\n'))
}

func (j *JSON) Start(stage string) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.stage = stage
	j.emit(Event{Type: "start", Stage: stage})
}

func (j *JSON) Log(msg string) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.emit(Event{Type: "log", Stage: j.stage, Message: msg})
}

func (j *JSON) End(res StageResult) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.emit(Event{Type: "end", Stage: res.Stage, Status: res.Status, Seconds: res.Seconds, Message: res.Detail})
}

// Live redraws a per-stage list with elapsed times on a terminal. Each
// line is cut to the terminal's width: a line that wrapped would take two
// rows, and moving the cursor back up by the number of lines would then
// leave a stale copy of the list above the new one.
type Live struct {
	w       io.Writer
	width   int // columns
	mu      sync.Mutex
	lines   []liveLine
	drawn   int
	stop    chan struct{}
	done    chan struct{}
	started bool
}

type liveLine struct {
	stage, status, detail string
	start                 time.Time
	secs                  float64
}

// NewLive starts the display on w, as wide as the terminal w is (80
// columns when that cannot be told); Close stops it.
func NewLive(w io.Writer) *Live { return NewLiveWidth(w, terminalWidth(w)) }

// NewLiveWidth starts the display on a terminal of the given width.
func NewLiveWidth(w io.Writer, width int) *Live {
	if width <= 0 {
		width = 80
	}
	l := &Live{w: w, width: width, stop: make(chan struct{}), done: make(chan struct{})}
	go l.tick()
	return l
}

func terminalWidth(w io.Writer) int {
	if f, ok := w.(interface{ Fd() uintptr }); ok {
		if cols, _, err := term.GetSize(int(f.Fd())); err == nil {
			return cols
		}
	}
	return 80
}

func (l *Live) tick() {
	defer close(l.done)
	t := time.NewTicker(150 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-t.C:
			l.mu.Lock()
			l.draw()
			l.mu.Unlock()
		}
	}
}

// Close stops redrawing and erases the display, so that the final
// table (Table), printed in its place, shows each stage once.
func (l *Live) Close() {
	close(l.stop)
	<-l.done
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.drawn > 0 {
		fmt.Fprintf(l.w, "\x1b[%dA\x1b[J", l.drawn)
		l.drawn = 0
	}
}

func (l *Live) Start(stage string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, liveLine{stage: stage, status: "running", start: time.Now()})
	l.draw()
}

func (l *Live) Log(msg string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if n := len(l.lines); n > 0 {
		l.lines[n-1].detail = msg
	}
}

func (l *Live) End(res StageResult) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for i := range l.lines {
		if l.lines[i].stage == res.Stage && l.lines[i].status == "running" {
			l.lines[i].status, l.lines[i].detail, l.lines[i].secs = res.Status, res.Detail, res.Seconds
		}
	}
	l.draw()
}

var marks = map[string]string{"running": "…", "done": "✓", "skipped": "=", "planned": "·", "failed": "✗"}

func (l *Live) draw() {
	var b strings.Builder
	if l.drawn > 0 {
		fmt.Fprintf(&b, "\x1b[%dA", l.drawn)
	}
	for _, ln := range l.lines {
		secs := ln.secs
		if ln.status == "running" {
			secs = time.Since(ln.start).Seconds()
		}
		line := fmt.Sprintf("%s %-8s %7s  %s", marks[ln.status], ln.stage, fmtSeconds(secs), ln.detail)
		fmt.Fprintf(&b, "\x1b[2K%s\n", cut(line, l.width-1))
	}
	l.drawn = len(l.lines)
	io.WriteString(l.w, b.String())
}

// cut shortens s to at most n runes (one column each), ending in "…"
// when it had more.
func cut(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:max(n-1, 0)]) + "…"
}

func fmtSeconds(s float64) string {
	if s < 10 {
		return fmt.Sprintf("%.2fs", s)
	}
	return fmt.Sprintf("%.1fs", s)
}

// Table renders the per-stage timing table.
func Table(w io.Writer, results []StageResult) {
	var total float64
	fmt.Fprintf(w, "%-8s %-8s %8s  %s\n", "stage", "status", "time", "detail")
	for _, r := range results {
		total += r.Seconds
		fmt.Fprintf(w, "%-8s %-8s %8s  %s\n", r.Stage, r.Status, fmtSeconds(r.Seconds), r.Detail)
	}
	fmt.Fprintf(w, "%-8s %-8s %8s\n", "total", "", fmtSeconds(total))
}
