package logs

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"testing"
)

// reference flattens with encoding/json, the behaviour ParseJSON must match.
func reference(raw []byte) ([]string, error) {
	if !json.Valid(raw) {
		return nil, fmt.Errorf("invalid")
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	var out []Field
	flattenInto(&out, "", v)
	return fieldStrings(out), nil
}

func fieldStrings(fs []Field) []string {
	var s []string
	for _, f := range fs {
		s = append(s, fmt.Sprintf("%s|%d|%q|%v", f.Path, f.Kind, f.Str, f.Num))
	}
	sort.Strings(s)
	return s
}

func TestFlattenMatchesEncodingJSON(t *testing.T) {
	for _, in := range []string{
		`{"a":1,"b":{"c":[1,2,{"d":"x"}]},"e":null,"f":true,"g":false,"h":-0.5e3}`,
		`{"s":"esc \" \\ \/ \b \f \n \r \t \u00e9 \ud83d\ude00 \ud800 x"}`,
		`{"big":1e400,"neg":-12,"zero":0}`,
		`[1,"a",{"b":2}]`, `"str"`, `12`, `null`, `{}`, `[]`, `{"a":{}}`,
		"{\"bad\":\"\xff\xfe\"}",
	} {
		want, werr := reference([]byte(in))
		got, gerr := Flatten([]byte(in))
		if (werr != nil) != (gerr != nil) {
			t.Errorf("%s: encoding/json err %v, ours %v", in, werr, gerr)
			continue
		}
		if fmt.Sprint(want) != fmt.Sprint(fieldStrings(got)) {
			t.Errorf("%s:\n got %v\nwant %v", in, fieldStrings(got), want)
		}
	}
	for _, bad := range []string{`{"a":}`, `{"a" 1}`, `[1,]`, `{"a":1,}`, `01`, `1.`, `-`, `"\x"`, "\"a\x01\"", `tru`, `{"a":"b"`, strings.Repeat("[", 600) + strings.Repeat("]", 600)} {
		if _, err := Flatten([]byte(bad)); err == nil {
			t.Errorf("%q: want error", bad)
		}
	}
}

// FuzzFlatten checks ParseJSON against encoding/json on arbitrary input.
func FuzzFlatten(f *testing.F) {
	for _, s := range []string{`{"a":1,"b":[true,null,"x"]}`, `{"s":"\ud83d\ude00\u0041"}`, `[{"a":{"b":-1.5e-3}}]`, `"\ud800\ud800"`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		want, werr := reference(b)
		got, gerr := Flatten(b)
		if werr != nil || gerr != nil {
			// Depth beyond MaxDepth is our only intended difference.
			if (werr == nil) != (gerr == nil) && !strings.Contains(fmt.Sprint(gerr), "too deep") {
				t.Fatalf("%q: encoding/json err %v, ours %v", b, werr, gerr)
			}
			return
		}
		// With duplicate keys encoding/json keeps the last value and we keep
		// all of them, so every reference leaf must be among ours.
		have := map[string]int{}
		for _, s := range fieldStrings(got) {
			have[s]++
		}
		for _, s := range want {
			if have[s] == 0 {
				t.Fatalf("%q: missing %s; got %v", b, s, fieldStrings(got))
			}
			have[s]--
		}
	})
}

// flattenInto flattens a value decoded by encoding/json (UseNumber).
func flattenInto(out *[]Field, path string, v any) {
	switch t := v.(type) {
	case map[string]any:
		for k, sub := range t {
			p := k
			if path != "" {
				p = path + "." + k
			}
			flattenInto(out, p, sub)
		}
	case []any:
		for _, sub := range t {
			flattenInto(out, path, sub)
		}
	case string:
		*out = append(*out, Field{Path: path, Kind: KindString, Str: t})
	case json.Number:
		f, err := t.Float64()
		if err != nil {
			// 1e400 and friends: keep the text, searchable as a keyword.
			*out = append(*out, Field{Path: path, Kind: KindString, Str: t.String()})
			return
		}
		*out = append(*out, Field{Path: path, Kind: KindNumber, Str: t.String(), Num: f})
	case float64:
		*out = append(*out, Field{Path: path, Kind: KindNumber, Str: fmt.Sprint(t), Num: t})
	case bool:
		s := "false"
		if t {
			s = "true"
		}
		*out = append(*out, Field{Path: path, Kind: KindBool, Str: s})
	case nil:
		*out = append(*out, Field{Path: path, Kind: KindNull, Str: ""})
	}
}
