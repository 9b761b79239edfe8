package kql

import "testing"

// TestParseTree holds the exported tree to Kibana's shape: nested groups
// stay nodes (with full paths inside), free text is marked, and f:* is a
// term with a stars-only value (Kibana's is(f, *)).
func TestParseTree(t *testing.T) {
	for _, c := range []struct{ q, want string }{
		{``, `*`},
		{`a:b`, `a:b`},
		{`foo bar`, `*:foo bar`},
		{`*`, `*:*`},
		{`f:*`, `f:*`},
		{`f:"x y"`, `f:"x y"`},
		{`a:{ b:c and d:* }`, `a:{(a.b:c AND a.d:*)}`},
		{`a:{ b:{ c:x } }`, `a:{a.b:{a.b.c:x}}`},
		{`a:{ x }`, `a:{*:x}`},
		{`n >= 5`, `n>=5`},
		{`not (x or y:(1 and 2))`, `NOT (*:x OR (y:1 AND y:2))`},
	} {
		n, err := Parse(c.q)
		if err != nil {
			t.Errorf("Parse(%q): %v", c.q, err)
			continue
		}
		if got := n.String(); got != c.want {
			t.Errorf("Parse(%q) = %s, want %s", c.q, got, c.want)
		}
	}
	n, _ := Parse(`a:{ b:{ c:x } }`)
	outer := n.(Nested)
	inner := outer.Query.(Nested)
	term := inner.Query.(Term)
	if outer.Path.Text != "a" || inner.Path.Text != "a.b" || term.Field.Text != "a.b.c" || term.Free {
		t.Errorf("nested paths: %+v", n)
	}
	n, _ = Parse(`a:{ x }`)
	if tm := n.(Nested).Query.(Term); !tm.Free || tm.Field.Text != "a." {
		t.Errorf("free text in a nested group: %+v", tm)
	}
}
