package detector

import (
	"bytes"
	"strings"

	"github.com/mahavishnu/mahavishnu/schemas"
)

// compiledRule is an enabled rule prepared for matching, with its windows.
type compiledRule struct {
	rule     *schemas.Rule // private immutable copy; handed out as Action.Rule
	index    int
	window   int64 // effective window in ns: min(rule window, retention)
	matchers []compiledMatcher
	claims   []int // indices of the enabled rules this one claims
	groups   map[string]*window
	// every is the rule's re-evaluation period (ns); due is when it is next due (clock ns).
	every, due int64
	checks     uint64 // re-evaluations so far
}

// cand says that events of some type may match rule: always (m == nil) or when m holds.
type cand struct {
	rule int
	m    *compiledMatcher
}

type compiledMatcher struct {
	msg    []keyword
	src    []keyword
	srcBit int // bit of this matcher in Detector.srcCache values; -1 when not cached
}

// keyword is a lower-case needle, optionally anchored at the start and/or end.
type keyword struct {
	text           []byte
	atStart, atEnd bool
}

func compile(r *schemas.Rule, retention int64) *compiledRule {
	cr := &compiledRule{rule: r, window: min(int64(r.Window()), retention), groups: make(map[string]*window)}
	for _, m := range r.Matchers {
		cr.matchers = append(cr.matchers, compiledMatcher{msg: keywords(m.MessageContains), src: keywords(m.SourceContains)})
	}
	return cr
}

func keywords(list []string) []keyword {
	out := make([]keyword, 0, len(list))
	for _, s := range list {
		var k keyword
		if strings.HasPrefix(s, "^") {
			k.atStart, s = true, s[1:]
		}
		if strings.HasSuffix(s, "$") {
			k.atEnd, s = true, s[:len(s)-1]
		}
		k.text = lowerASCII(nil, s)
		out = append(out, k)
	}
	return out
}

// in reports whether the keyword occurs in the lower-cased text h.
func (k *keyword) in(h []byte) bool {
	switch {
	case k.atStart && k.atEnd:
		return bytes.Equal(h, k.text)
	case k.atStart:
		return bytes.HasPrefix(h, k.text)
	case k.atEnd:
		return bytes.HasSuffix(h, k.text)
	}
	return bytes.Contains(h, k.text)
}

func anyIn(kws []keyword, h []byte) bool {
	for i := range kws {
		if kws[i].in(h) {
			return true
		}
	}
	return false
}

// lowerASCII appends s to dst[:0] with ASCII letters lower-cased; other bytes are copied.
func lowerASCII(dst []byte, s string) []byte {
	dst = dst[:0]
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		dst = append(dst, c)
	}
	return dst
}

// matches evaluates a conditional matcher; the event type was already checked. The
// lower-cased message, source and component are computed once per event, on demand.
func (d *Detector) matches(m *compiledMatcher, ev *schemas.Event) bool {
	if len(m.msg) > 0 {
		if !d.haveMsg {
			d.lowMsg, d.haveMsg = lowerASCII(d.lowMsg, ev.Message), true
		}
		if !anyIn(m.msg, d.lowMsg) {
			return false
		}
	}
	if len(m.src) > 0 {
		if !d.haveSrc {
			d.loadSource(ev)
		}
		var ok bool
		if m.srcBit >= 0 {
			ok = d.srcMask&(1<<m.srcBit) != 0
		} else {
			ok = anyIn(m.src, d.lowSrc)
		}
		if !ok && len(d.lowComp) > 0 {
			ok = anyIn(m.src, d.lowComp)
		}
		if !ok {
			return false
		}
	}
	return true
}

// loadSource computes, once per event, the cached source keyword verdicts and the
// lower-cased component (only when it differs from the source: Normalize defaults it to
// the source).
func (d *Detector) loadSource(ev *schemas.Event) {
	mask, hit := d.srcCache[ev.Source]
	if !hit || len(d.srcMatchers) > 64 {
		d.lowSrc = lowerASCII(d.lowSrc, ev.Source)
	}
	if !hit {
		for _, m := range d.srcMatchers {
			if m.srcBit >= 0 && anyIn(m.src, d.lowSrc) {
				mask |= 1 << m.srcBit
			}
		}
		if len(d.srcCache) >= srcCacheSize {
			clear(d.srcCache)
		}
		d.srcCache[ev.Source] = mask
	}
	d.srcMask = mask
	d.lowComp = d.lowComp[:0]
	if ev.Component != ev.Source {
		d.lowComp = lowerASCII(d.lowComp, ev.Component)
	}
	d.haveSrc = true
}
