package send

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// Event builds the JSON of one log event from command-line arguments:
// either a single argument that is a JSON object (or an array of them, one
// event each, as Logstash's json codec reads it), sent as written, or
// key=value pairs as Pairs reads them.
func Event(args []string) ([]byte, error) {
	if len(args) == 0 {
		return nil, errors.New("no event: give a JSON object or key=value pairs")
	}
	if t := strings.TrimSpace(args[0]); strings.HasPrefix(t, "{") || strings.HasPrefix(t, "[") {
		if len(args) > 1 {
			return nil, errors.New("give either one JSON argument or key=value pairs, not both")
		}
		return compactJSON([]byte(t))
	}
	obj, err := Pairs(args)
	if err != nil {
		return nil, err
	}
	return json.Marshal(obj)
}

// compactJSON checks that b is a JSON object or an array of objects and
// puts it on one line (a TCP json_lines event must be).
func compactJSON(b []byte) ([]byte, error) {
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return nil, fmt.Errorf("not JSON: %w", err)
	}
	switch v := v.(type) {
	case map[string]any:
	case []any:
		for i, e := range v {
			if _, ok := e.(map[string]any); !ok {
				return nil, fmt.Errorf("element %d of the array is not a JSON object", i)
			}
		}
	default:
		return nil, errors.New("an event is a JSON object (or an array of objects)")
	}
	var out bytes.Buffer
	if err := json.Compact(&out, b); err != nil {
		return nil, fmt.Errorf("not JSON: %w", err)
	}
	return out.Bytes(), nil
}

// Pairs reads HTTPie-style pairs into a JSON object: key=value sets a
// string, key:=json sets any JSON value (key:=500, key:=true,
// key:='{"a":1}'), and a dotted key nests (fields.status:=500 is
// {"fields":{"status":500}}, the seed's shape).
func Pairs(args []string) (map[string]any, error) {
	obj := map[string]any{}
	for _, a := range args {
		eq := strings.IndexByte(a, '=')
		if eq < 0 {
			return nil, fmt.Errorf("%q: want key=value (a string) or key:=json (a number, true, an object...)", a)
		}
		key, raw := a[:eq], a[eq+1:]
		var val any = raw
		if strings.HasSuffix(key, ":") {
			key = key[:len(key)-1]
			if err := json.Unmarshal([]byte(raw), &val); err != nil {
				return nil, fmt.Errorf("%q: the value after := is not JSON: %w", a, err)
			}
		}
		if err := set(obj, key, val); err != nil {
			return nil, fmt.Errorf("%q: %w", a, err)
		}
	}
	return obj, nil
}

// set puts val at the dotted path key, creating objects on the way.
func set(obj map[string]any, key string, val any) error {
	parts := strings.Split(key, ".")
	for i, p := range parts {
		if p == "" {
			return fmt.Errorf("key %q has an empty part", key)
		}
		last := i == len(parts)-1
		cur, exists := obj[p]
		if last {
			if exists {
				return fmt.Errorf("%s is given twice", key)
			}
			obj[p] = val
			return nil
		}
		if !exists {
			next := map[string]any{}
			obj[p] = next
			obj = next
			continue
		}
		next, ok := cur.(map[string]any)
		if !ok {
			return fmt.Errorf("%s is a value, it cannot also hold %s", strings.Join(parts[:i+1], "."), key)
		}
		obj = next
	}
	return nil
}
