// Package esdsl compiles KQL into the Elasticsearch query DSL exactly as
// Kibana's toElasticsearchQuery does (packages/kbn-es-query/src/kuery:
// functions is, range, and, or, not, nested), so that obs searching an
// Elasticsearch or OpenSearch cluster sends what Kibana would have sent for
// the same query bar. The output is plain Go values (map[string]any, []any,
// strings, bools, ints) that marshal to the DSL's JSON.
//
// What Kibana does, and so what this does:
//
//   - field:value is a bool query whose should clauses (minimum_should_match
//     1) hold one query per field the name stands for: match, or
//     match_phrase when the value was quoted. Free text is a multi_match
//     (type best_fields, or phrase when quoted; lenient).
//   - Values with a wildcard become query_string queries, the value escaped
//     the way Kibana escapes it (its character class [+-=...] is a range,
//     so digits, '.', ',', '/', ':', ';', '<' and '=' are escaped too).
//   - field:* is an exists query; *:* and the empty query are match_all.
//   - Unquoted true, false and null are JSON true, false and null; every
//     other value, numbers included, is a string (Kibana's grammar stopped
//     turning numbers into JSON numbers, to keep long values exact).
//   - and is bool.filter (bool.must with FiltersInMustClause), or is
//     bool.should with minimum_should_match 1, not is bool.must_not.
//   - path:{ ... } is a nested query (score_mode none) whose inner field
//     names are full paths.
//   - With an index pattern (Options.Fields): wildcard field names expand
//     to the fields they match, a field of type date turns an exact value
//     into a gte/lte range and gets time_zone from Options.DateFormatTZ,
//     wildcards covering nested fields get nested queries, and a field used
//     inside or outside the wrong nested group is an error. Without one,
//     names go through as written.
//
// Not supported: scripted fields (Kibana compiles them to painless scripts);
// a query that needs one is an error naming the field.
package esdsl

import (
	"fmt"
	"strings"

	"github.com/obs-dev/obs/query/kql"
)

// Query is one query (or request body part) of the DSL.
type Query = map[string]any

// Field is one field of the index pattern (Kibana's DataViewFieldBase).
type Field struct {
	Name string
	// Type is Kibana's field type; only "date" changes the query.
	Type string
	// Scripted fields cannot be compiled here.
	Scripted bool
	// NestedPath is the path of the nested object the field belongs to
	// (Kibana's subType.nested.path), "" for none.
	NestedPath string
}

// Options are what Kibana's toElasticsearchQuery takes besides the query.
type Options struct {
	// Fields is the index pattern; nil means none.
	Fields []Field
	// DateFormatTZ is Kibana's dateFormat:tz setting: when set, date
	// fields' ranges carry it as time_zone. "Browser" stands for
	// BrowserTimeZone, Kibana's guess of the browser's zone.
	DateFormatTZ    string
	BrowserTimeZone string
	// FiltersInMustClause puts and's clauses in bool.must (scored) rather
	// than bool.filter.
	FiltersInMustClause bool
	// NoLeadingWildcards refuses values that start with a wildcard, as
	// Kibana does when query:allowLeadingWildcards is off.
	NoLeadingWildcards bool
}

// errorAt is a construct the target cannot express.
func errorAt(pos int, n kql.Node, msg string) error {
	return &kql.CompileError{Target: "Elasticsearch", Pos: pos, Construct: n.String(), Msg: msg}
}

// Compile parses a KQL query and compiles it.
func Compile(q string, opts Options) (Query, error) {
	n, err := kql.Parse(q)
	if err != nil {
		return nil, fmt.Errorf("KQL to Elasticsearch: %w", err)
	}
	return ToQuery(n, opts)
}

// ToQuery compiles a parsed query.
func ToQuery(n kql.Node, opts Options) (Query, error) {
	c := compiler{opts: opts}
	return c.node(n, "")
}

type compiler struct{ opts Options }

// node compiles n; nested is the path of the enclosing nested group.
func (c compiler) node(n kql.Node, nested string) (Query, error) {
	switch t := n.(type) {
	case kql.MatchAll:
		return Query{"match_all": Query{}}, nil
	case kql.And:
		kids, err := c.nodes(t.Nodes, nested)
		if err != nil {
			return nil, err
		}
		key := "filter"
		if c.opts.FiltersInMustClause {
			key = "must"
		}
		return Query{"bool": Query{key: kids}}, nil
	case kql.Or:
		kids, err := c.nodes(t.Nodes, nested)
		if err != nil {
			return nil, err
		}
		if len(kids) == 1 {
			return kids[0].(Query), nil
		}
		return should(kids), nil
	case kql.Not:
		kid, err := c.node(t.Node, nested)
		if err != nil {
			return nil, err
		}
		return Query{"bool": Query{"must_not": kid}}, nil
	case kql.Nested:
		// The parser already joined the enclosing groups' paths.
		kid, err := c.node(t.Query, t.Path.Text)
		if err != nil {
			return nil, err
		}
		return Query{"nested": Query{"path": t.Path.Text, "query": kid, "score_mode": "none"}}, nil
	case kql.Term:
		return c.term(t, nested)
	case kql.Range:
		return c.rangeQuery(t, nested)
	}
	return nil, fmt.Errorf("KQL to Elasticsearch: unknown node %T", n)
}

func (c compiler) nodes(ns []kql.Node, nested string) ([]any, error) {
	out := make([]any, 0, len(ns))
	for _, n := range ns {
		q, err := c.node(n, nested)
		if err != nil {
			return nil, err
		}
		out = append(out, q)
	}
	return out, nil
}

func should(qs []any) Query {
	return Query{"bool": Query{"should": qs, "minimum_should_match": 1}}
}

// lone says whether a literal is Kibana's lone wildcard: a value of exactly
// "*" (after trimming), which asks for any value, or a field name of "*".
func lone(l kql.Literal) bool {
	return !l.Quoted && len(l.Parts) == 2 && l.Parts[0] == "" && l.Parts[1] == ""
}

// relative is a field name as written inside its nested group: the parser
// gave it the group's path, Kibana adds that later, after deciding whether
// the name is the all-fields "*".
func relative(l kql.Literal, nested string) kql.Literal {
	prefix := nested + "."
	if nested == "" || l.Quoted || !strings.HasPrefix(l.Parts[0], prefix) {
		return l
	}
	parts := append([]string{strings.TrimPrefix(l.Parts[0], prefix)}, l.Parts[1:]...)
	return kql.Literal{Pos: l.Pos, Text: strings.Join(parts, "*"), Parts: parts}
}

// value is the JSON value Kibana's grammar gives an unquoted or quoted
// literal.
func value(l kql.Literal) any {
	if !l.Quoted {
		switch l.Text {
		case "null":
			return nil
		case "true":
			return true
		case "false":
			return false
		}
	}
	return l.Text
}

// fieldName is the name Kibana sends for a field literal; null is the field
// of free text.
func fieldName(t kql.Term, nested string) (name string, null bool) {
	if t.Free {
		if nested != "" {
			// Kibana prefixes the nested path to the null field name as a
			// string, and so searches the field "path.null".
			return nested + ".null", false
		}
		return "", true
	}
	if !t.Field.Quoted && t.Field.Text == "null" {
		return "", true
	}
	return t.Field.Text, false
}

func (c compiler) term(t kql.Term, nested string) (Query, error) {
	exists := lone(t.Value)
	if exists && !t.Free && lone(relative(t.Field, nested)) {
		return Query{"match_all": Query{}}, nil
	}
	if c.opts.NoLeadingWildcards && leadingWildcard(t.Value) {
		return nil, errorAt(t.Value.Pos, t, "Leading wildcards are disabled. See query:allowLeadingWildcards in Advanced Settings.")
	}
	name, null := fieldName(t, nested)
	wildField := !t.Free && t.Field.Wildcard()
	if !null {
		if err := c.checkNested(t.Field, name, wildField, nested, t); err != nil {
			return nil, err
		}
	}
	val := value(t.Value)
	if null {
		if t.Value.Wildcard() {
			return Query{"query_string": Query{"query": queryString(t.Value)}}, nil
		}
		typ := "best_fields"
		if t.Value.Quoted {
			typ = "phrase"
		}
		return Query{"multi_match": Query{"type": typ, "query": val, "lenient": true}}, nil
	}
	fields := c.fields(t.Field, name, wildField)
	if exists && c.opts.Fields != nil && len(fields) == len(c.opts.Fields) {
		// Every field of the pattern: everything has one.
		return Query{"match_all": Query{}}, nil
	}
	var queries []any
	for _, f := range fields {
		var q Query
		switch {
		case f.Scripted && exists:
			continue // Kibana leaves scripted fields out of exists queries
		case f.Scripted:
			return nil, errorAt(t.Field.Pos, t, fmt.Sprintf("scripted field %q is not supported", f.Name))
		case exists:
			q = Query{"exists": Query{"field": f.Name}}
		case t.Value.Wildcard():
			q = Query{"query_string": Query{"fields": []any{f.Name}, "query": queryString(t.Value)}}
		case f.Type == "date":
			// match queries take no time zone, so an exact date is a range.
			r := Query{"gte": val, "lte": val}
			c.timeZone(r)
			q = Query{"range": Query{f.Name: r}}
		case t.Value.Quoted:
			q = Query{"match_phrase": Query{f.Name: val}}
		default:
			q = Query{"match": Query{f.Name: val}}
		}
		queries = append(queries, wrapNested(q, f, wildField, nested))
	}
	if queries == nil {
		queries = []any{}
	}
	return should(queries), nil
}

var ops = map[string]string{"<": "lt", "<=": "lte", ">": "gt", ">=": "gte"}

func (c compiler) rangeQuery(r kql.Range, nested string) (Query, error) {
	name := r.Field.Text
	wildField := r.Field.Wildcard()
	if err := c.checkNested(r.Field, name, wildField, nested, r); err != nil {
		return nil, err
	}
	var queries []any
	for _, f := range c.fields(r.Field, name, wildField) {
		if f.Scripted {
			return nil, errorAt(r.Field.Pos, r, fmt.Sprintf("scripted field %q is not supported", f.Name))
		}
		params := Query{ops[r.Op]: value(r.Value)}
		if f.Type == "date" {
			c.timeZone(params)
		}
		queries = append(queries, wrapNested(Query{"range": Query{f.Name: params}}, f, wildField, nested))
	}
	return should(queries), nil
}

func (c compiler) timeZone(params Query) {
	switch tz := c.opts.DateFormatTZ; tz {
	case "":
	case "Browser":
		if c.opts.BrowserTimeZone == "" {
			params["time_zone"] = "UTC"
		} else {
			params["time_zone"] = c.opts.BrowserTimeZone
		}
	default:
		params["time_zone"] = tz
	}
}

// matches are the index pattern's fields a name stands for.
func (c compiler) matches(lit kql.Literal, name string, wild bool) []Field {
	var out []Field
	for _, f := range c.opts.Fields {
		if wild && lit.Matches(f.Name) || !wild && f.Name == name {
			out = append(out, f)
		}
	}
	return out
}

// fields are the matches or, when there are none (or no pattern), the name
// as written: Kibana sends it through "to preserve the behaviour of lucene".
func (c compiler) fields(lit kql.Literal, name string, wild bool) []Field {
	if out := c.matches(lit, name, wild); len(out) > 0 {
		return out
	}
	return []Field{{Name: name}}
}

// wrapNested puts a query on a nested field in a nested query when a
// wildcard field name reached it from outside any nested group.
func wrapNested(q Query, f Field, wildField bool, nested string) Query {
	if !wildField || f.NestedPath == "" || nested != "" {
		return q
	}
	return Query{"nested": Query{"path": f.NestedPath, "query": q, "score_mode": "none"}}
}

// checkNested refuses, as Kibana does, fields of the index pattern used in
// the wrong nested group (or outside the one they need).
func (c compiler) checkNested(lit kql.Literal, name string, wild bool, nested string, n kql.Node) error {
	if c.opts.Fields == nil || wild && nested == "" {
		return nil
	}
	var msgs []string
	for _, f := range c.matches(lit, name, wild) {
		switch {
		case nested != "" && f.NestedPath == "":
			msgs = append(msgs, fmt.Sprintf("%s is not a nested field but is in nested group %q in the KQL expression.", f.Name, nested))
		case f.NestedPath != "" && nested == "":
			msgs = append(msgs, fmt.Sprintf("%s is a nested field, but is not in a nested group in the KQL expression.", f.Name))
		case f.NestedPath != nested:
			msgs = append(msgs, fmt.Sprintf("Nested field %s is being queried with the incorrect nested path. The correct path is %s.", f.Name, f.NestedPath))
		}
	}
	if msgs != nil {
		return errorAt(lit.Pos, n, strings.Join(msgs, "\n"))
	}
	return nil
}

// leadingWildcard is Kibana's hasLeadingWildcard: a wildcard first, and
// more than the lone wildcard (which is an exists query).
func leadingWildcard(l kql.Literal) bool {
	return l.Wildcard() && l.Parts[0] == "" && !lone(l)
}

// queryString is Kibana's toQueryStringQuery: the parts between wildcards
// escaped for query_string, joined by *.
func queryString(l kql.Literal) string {
	parts := make([]string, len(l.Parts))
	for i, p := range l.Parts {
		parts[i] = escapeQueryString(p)
	}
	return strings.Join(parts, "*")
}

// escapeQueryString backslashes what Kibana's /[+-=&|><!(){}[\]^"~*?:\\/]/
// matches. Its "+-=" is a range (0x2B to 0x3D), which takes in , - . / the
// digits : ; < = as well; Kibana sends them escaped, so this does too.
func escapeQueryString(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r >= '+' && r <= '=' || strings.ContainsRune(`&|><!(){}[]^"~*?:\/`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}
