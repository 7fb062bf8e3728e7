package procedures

import (
	"encoding/xml"
	"fmt"
	"io"
	"strings"
)

// WriteText writes one line per expectation and responder step, PASS or FAIL, with what
// was expected and what happened, and a summary line per scenario.
func WriteText(w io.Writer, results []*Result) error {
	var b strings.Builder
	for _, r := range results {
		fmt.Fprintf(&b, "%s (%s)\n", r.Name, r.File)
		if r.Error != "" {
			fmt.Fprintf(&b, "  ERROR %s\n", r.Error)
		}
		for _, s := range r.Steps {
			if s.Passed {
				fmt.Fprintf(&b, "  PASS  step %s %s: %s\n", s.At, s.Step, s.Outcome)
			} else {
				fmt.Fprintf(&b, "  FAIL  step %s %s (line %d): %s\n", s.At, s.Step, s.Line, s.Outcome)
			}
		}
		for _, c := range r.Checks {
			if c.Passed {
				fmt.Fprintf(&b, "  PASS  %s: %s\n", c.Expected, c.Happened)
			} else {
				fmt.Fprintf(&b, "  FAIL  %s (line %d): expected %s; happened: %s\n", c.Name, c.Line, c.Expected, c.Happened)
			}
		}
		for _, n := range r.Notes {
			fmt.Fprintf(&b, "  note: %s\n", n)
		}
	}
	passed, failed := 0, 0
	for _, r := range results {
		if r.Passed() {
			passed++
		} else {
			failed++
		}
	}
	fmt.Fprintf(&b, "%d scenarios: %d passed, %d failed\n", len(results), passed, failed)
	_, err := io.WriteString(w, b.String())
	return err
}

// JUnit XML: one testsuite per scenario, one testcase per expectation and failed step.
type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Errors   int          `xml:"errors,attr"`
	Time     string       `xml:"time,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name     string      `xml:"name,attr"`
	File     string      `xml:"file,attr,omitempty"`
	Tests    int         `xml:"tests,attr"`
	Failures int         `xml:"failures,attr"`
	Errors   int         `xml:"errors,attr"`
	Time     string      `xml:"time,attr"`
	Cases    []junitCase `xml:"testcase"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Time      string        `xml:"time,attr"`
	Failure   *junitProblem `xml:"failure,omitempty"`
	Error     *junitProblem `xml:"error,omitempty"`
	SystemOut string        `xml:"system-out,omitempty"`
}

type junitProblem struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",chardata"`
}

// WriteJUnit writes the results as a JUnit XML report for CI systems.
func WriteJUnit(w io.Writer, results []*Result) error {
	out := junitSuites{Name: "mahavishnu procedures"}
	var total float64
	for _, r := range results {
		secs := r.Elapsed.Seconds()
		total += secs
		s := junitSuite{Name: r.Name, File: r.File, Time: fmt.Sprintf("%.3f", secs)}
		if r.Error != "" {
			s.Cases = append(s.Cases, junitCase{Name: "run", Classname: r.Name, Time: "0",
				Error: &junitProblem{Message: r.Error, Type: "scenario", Text: r.Error}})
			s.Errors++
		}
		for _, st := range r.Steps {
			c := junitCase{Name: fmt.Sprintf("step %s %s", st.At, st.Step), Classname: r.Name, Time: "0", SystemOut: st.Outcome}
			if !st.Passed {
				c.Failure = &junitProblem{Message: st.Outcome, Type: "step", Text: fmt.Sprintf("line %d: %s", st.Line, st.Outcome)}
				s.Failures++
			}
			s.Cases = append(s.Cases, c)
		}
		for _, ch := range r.Checks {
			c := junitCase{Name: ch.Expected, Classname: r.Name, Time: "0", SystemOut: "happened: " + ch.Happened}
			if !ch.Passed {
				msg := fmt.Sprintf("expected %s; happened: %s", ch.Expected, ch.Happened)
				c.Failure = &junitProblem{Message: msg, Type: ch.Kind, Text: fmt.Sprintf("%s:%d: %s", r.File, ch.Line, msg)}
				s.Failures++
			}
			s.Cases = append(s.Cases, c)
		}
		s.Tests = len(s.Cases)
		out.Tests += s.Tests
		out.Failures += s.Failures
		out.Errors += s.Errors
		out.Suites = append(out.Suites, s)
	}
	out.Time = fmt.Sprintf("%.3f", total)
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(out); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}
