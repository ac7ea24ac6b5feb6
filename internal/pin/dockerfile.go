package pin

import "strings"

// word is one whitespace-separated word of a logical instruction.
type word struct {
	text string
	off  int  // byte offset of the first character in the content
	flat bool // all bytes sit on one physical line, so it can be rewritten
}

// scanDockerfile finds FROM images, COPY --from=IMAGE and
// RUN --mount=...,from=IMAGE, skipping earlier stage names, stage indexes,
// scratch, $ARG values and heredoc bodies.
func scanDockerfile(content []byte) []candidate {
	lines := splitLines(content)
	if len(lines) > 0 && strings.HasPrefix(lines[0].text, bom) {
		lines[0].text = lines[0].text[len(bom):]
		lines[0].start += len(bom)
	}
	escape := directiveEscape(lines)
	stages := map[string]bool{}
	var out []candidate
	add := func(text string, off int) {
		lower := strings.ToLower(text)
		if text == "" || lower == "scratch" || stages[lower] || strings.Contains(text, "$") || isDigits(text) {
			return
		}
		out = append(out, candidate{off: off, text: text})
	}
	for i := 0; i < len(lines); {
		t := strings.TrimLeft(lines[i].text, " \t")
		if t == "" || t[0] == '#' {
			i++
			continue
		}
		words, next := logicalLine(lines, i, escape)
		i = next
		if len(words) == 0 {
			continue
		}
		instr := strings.ToLower(words[0].text)
		args := words[1:]
		if instr == "onbuild" && len(args) > 0 {
			instr = strings.ToLower(args[0].text)
			args = args[1:]
		}
		switch instr {
		case "from":
			k := 0
			for k < len(args) && strings.HasPrefix(args[k].text, "--") {
				k++
			}
			if k >= len(args) {
				continue
			}
			if args[k].flat {
				add(args[k].text, args[k].off)
			}
			if k+2 < len(args) && strings.EqualFold(args[k+1].text, "as") {
				stages[strings.ToLower(args[k+2].text)] = true
			}
		case "copy":
			for _, w := range flags(args) {
				if v, ok := cutFlag(w.text, "--from="); ok && w.flat {
					add(v, w.off+len(w.text)-len(v))
				}
			}
		case "run":
			for _, w := range flags(args) {
				opts, ok := cutFlag(w.text, "--mount=")
				if !ok || !w.flat || strings.ContainsAny(opts, `"'`) {
					continue
				}
				pos := w.off + len(w.text) - len(opts)
				for _, field := range strings.Split(opts, ",") {
					if v, ok := cutFlag(field, "from="); ok {
						add(v, pos+len(field)-len(v))
					}
					pos += len(field) + 1
				}
			}
		}
		if instr == "run" || instr == "copy" || instr == "add" {
			i = skipHeredocs(lines, i, words)
		}
	}
	return out
}

// flags returns the leading --flag words.
func flags(args []word) []word {
	k := 0
	for k < len(args) && strings.HasPrefix(args[k].text, "--") {
		k++
	}
	return args[:k]
}

// cutFlag matches prefix case-insensitively and returns the rest.
func cutFlag(s, prefix string) (string, bool) {
	if len(s) < len(prefix) || !strings.EqualFold(s[:len(prefix)], prefix) {
		return "", false
	}
	return s[len(prefix):], true
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// directiveEscape reads the "# escape=`" parser directive at the top.
func directiveEscape(lines []line) byte {
	for _, ln := range lines {
		t := strings.TrimSpace(ln.text)
		if !strings.HasPrefix(t, "#") {
			break
		}
		k, v, ok := strings.Cut(strings.TrimSpace(t[1:]), "=")
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if !ok || k == "" || strings.ContainsAny(k, " \t") {
			break
		}
		if strings.EqualFold(k, "escape") && (v == "`" || v == `\`) {
			return v[0]
		}
	}
	return '\\'
}

// logicalLine joins the instruction starting at lines[i] with its
// continuation lines, dropping comment and blank lines inside it. It
// returns the words and the index of the next unread line.
func logicalLine(lines []line, i int, escape byte) ([]word, int) {
	var buf []byte
	var offs []int
	for i < len(lines) {
		s := trimRightWS(lines[i].text)
		cont := len(s) > 0 && s[len(s)-1] == escape
		if cont {
			s = s[:len(s)-1]
		}
		base := lines[i].start
		for k := 0; k < len(s); k++ {
			buf = append(buf, s[k])
			offs = append(offs, base+k)
		}
		i++
		if !cont {
			break
		}
		for i < len(lines) {
			t := strings.TrimLeft(lines[i].text, " \t")
			if t != "" && t[0] != '#' {
				break
			}
			i++
		}
	}
	var words []word
	for k := 0; k < len(buf); {
		if isWS(buf[k]) {
			k++
			continue
		}
		j := k
		for j < len(buf) && !isWS(buf[j]) {
			j++
		}
		words = append(words, word{
			text: string(buf[k:j]),
			off:  offs[k],
			flat: offs[j-1]-offs[k] == j-1-k,
		})
		k = j
	}
	return words, i
}

// skipHeredocs skips the bodies of heredocs ("<<EOF", "<<-'EOF'") opened
// by an instruction, starting at lines[i].
func skipHeredocs(lines []line, i int, words []word) int {
	for _, w := range words {
		t := strings.TrimLeft(w.text, "0123456789")
		rest, ok := strings.CutPrefix(t, "<<")
		if !ok {
			continue
		}
		strip, _ := strings.CutPrefix(rest, "-")
		dash := len(strip) != len(rest)
		delim := strings.Trim(strip, `"'`)
		if delim == "" || !isHeredocName(delim) {
			continue
		}
		for i < len(lines) {
			s := lines[i].text
			if dash {
				s = strings.TrimLeft(s, "\t")
			}
			i++
			if s == delim {
				break
			}
		}
	}
	return i
}

func isHeredocName(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return false
		}
	}
	return true
}
