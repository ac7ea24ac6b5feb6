package release

import (
	"strconv"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"
)

// vt is a terminal screen of a fixed width that understands what Live
// writes: printable text (wrapping at the right margin, as a terminal
// does), newlines, cursor up (ESC[nA), erase line (ESC[2K) and erase to
// the end of the screen (ESC[J).
type vt struct {
	mu       sync.Mutex
	width    int
	rows     [][]rune
	row, col int
}

func (v *vt) Write(p []byte) (int, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	s := string(p)
	for len(s) > 0 {
		if strings.HasPrefix(s, "\x1b[") {
			i := 2
			for i < len(s) && (s[i] >= '0' && s[i] <= '9') {
				i++
			}
			n, _ := strconv.Atoi(s[2:i])
			switch s[i] {
			case 'A':
				v.row = max(0, v.row-max(n, 1))
			case 'K':
				v.grow()
				v.rows[v.row] = nil
			case 'J':
				v.grow()
				v.rows[v.row] = v.rows[v.row][:min(v.col, len(v.rows[v.row]))]
				v.rows = v.rows[:v.row+1]
			}
			s = s[i+1:]
			continue
		}
		r, size := utf8.DecodeRuneInString(s)
		s = s[size:]
		if r == '\n' {
			v.row, v.col = v.row+1, 0
			continue
		}
		if v.col == v.width {
			v.row, v.col = v.row+1, 0
		}
		v.grow()
		for len(v.rows[v.row]) <= v.col {
			v.rows[v.row] = append(v.rows[v.row], ' ')
		}
		v.rows[v.row][v.col] = r
		v.col++
	}
	return len(p), nil
}

func (v *vt) grow() {
	for len(v.rows) <= v.row {
		v.rows = append(v.rows, nil)
	}
}

func (v *vt) screen() []string {
	v.mu.Lock()
	defer v.mu.Unlock()
	var out []string
	for _, r := range v.rows {
		if l := strings.TrimRight(string(r), " "); l != "" {
			out = append(out, l)
		}
	}
	return out
}

// TestLiveShowsEachStageOnce: on a terminal narrower than the details,
// the live display keeps one line per stage while it redraws, and leaves
// nothing behind for the final table, which then shows each stage once.
func TestLiveShowsEachStageOnce(t *testing.T) {
	term := &vt{width: 60}
	detail := "127.0.0.1:5000/demo/app@sha256:" + strings.Repeat("7949289a35cd", 6) + "…"
	stages := []string{StageLock, StageBuild, StageTest, StagePublish}
	var results []StageResult
	l := NewLiveWidth(term, term.width)
	for _, s := range stages {
		l.Start(s)
		l.Log(detail)
		l.draw() // as the ticker would, with a long detail
		res := StageResult{Stage: s, Status: "done", Seconds: 1.25, Detail: detail}
		l.End(res)
		results = append(results, res)
	}
	live := term.screen()
	if len(live) != len(stages) {
		t.Fatalf("live display has %d rows for %d stages:\n%s", len(live), len(stages), strings.Join(live, "\n"))
	}
	for i, s := range stages {
		if !strings.HasPrefix(live[i], "✓ "+s+" ") || utf8.RuneCountInString(live[i]) >= term.width || !strings.HasSuffix(live[i], "…") {
			t.Errorf("row %d: %q; want stage %s, cut to fit %d columns", i, live[i], s, term.width)
		}
	}
	l.Close()
	if rest := term.screen(); len(rest) != 0 {
		t.Fatalf("Close left %q on the screen", rest)
	}
	Table(term, results)
	final := term.screen()
	for _, s := range stages {
		n := 0
		for _, line := range final {
			if strings.HasPrefix(line, s+" ") || strings.Contains(line, "✓ "+s) {
				n++
			}
		}
		if n != 1 {
			t.Errorf("stage %s shows %d times:\n%s", s, n, strings.Join(final, "\n"))
		}
	}
	if !strings.HasPrefix(final[0], "stage ") || !strings.HasPrefix(final[len(final)-1], "total ") {
		t.Errorf("the table is not all that is left:\n%s", strings.Join(final, "\n"))
	}
}

func TestCut(t *testing.T) {
	for _, c := range []struct {
		s    string
		n    int
		want string
	}{
		{"short", 10, "short"},
		{"exactly10!", 10, "exactly10!"},
		{"sha256:ab…cdef", 10, "sha256:ab…"},
		{"ééééé", 3, "éé…"},
	} {
		if got := cut(c.s, c.n); got != c.want {
			t.Errorf("cut(%q, %d) = %q, want %q", c.s, c.n, got, c.want)
		}
	}
}
