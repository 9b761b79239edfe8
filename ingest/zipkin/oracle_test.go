package zipkin

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// With ZIPKIN_ORACLE set to the address of ../shared/zipkin-oracle (Zipkin's
// own core library behind its HTTP routes; development only, CI cannot
// build it), the table cases are also sent to Zipkin and its answer
// compared with ours: the check that the tables carry Zipkin's facts.
func oracle(t *testing.T) string {
	u := os.Getenv("ZIPKIN_ORACLE")
	if u == "" {
		t.Skip("ZIPKIN_ORACLE not set")
	}
	return strings.TrimSuffix(u, "/")
}

func oraclePost(t *testing.T, base, path, ct string, body []byte) (int, string) {
	t.Helper()
	resp, err := http.Post(base+path, ct, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func oracleTrace(t *testing.T, base, id string) []any {
	t.Helper()
	resp, err := http.Get(base + "/api/v2/trace/" + id)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out []any
	json.NewDecoder(resp.Body).Decode(&out)
	return out
}

func sortedJSON(vs []any) []string {
	var out []string
	for _, v := range vs {
		b, _ := json.Marshal(v)
		out = append(out, string(b))
	}
	slices.Sort(out)
	return out
}

func TestOracleV1Conversion(t *testing.T) {
	base := oracle(t)
	for i, c := range v1Cases {
		t.Run(c.zipkinTest, func(t *testing.T) {
			// A trace id of its own in the oracle, which keeps every span.
			id := fmt.Sprintf("%016x", 0xfeed0000+i)
			body := expand(c.v1)
			for _, old := range []string{`"traceId":"1"`, `"traceId":"5af7183fb1d4cf5f"`} {
				body = strings.Replace(body, old, `"traceId":"`+id+`"`, 1)
			}
			if code, msg := oraclePost(t, base, "/api/v1/spans", "application/json", []byte("["+body+"]")); code != 202 {
				t.Fatalf("oracle: %d %s", code, msg)
			}
			zipkin := oracleTrace(t, base, id)
			spans, err := DecodeV1JSON([]byte("[" + body + "]"))
			if err != nil {
				t.Fatal(err)
			}
			var ours []any
			for _, s := range spans {
				ours = append(ours, jsonValue(t, string(s.JSON)))
			}
			if z, o := sortedJSON(zipkin), sortedJSON(ours); !reflect.DeepEqual(z, o) {
				t.Errorf("zipkin:\n%s\nobs:\n%s", strings.Join(z, "\n"), strings.Join(o, "\n"))
			}
		})
	}
}

func TestOracleV2Reader(t *testing.T) {
	base := oracle(t)
	for i, c := range v2Cases {
		t.Run(c.name, func(t *testing.T) {
			id := fmt.Sprintf("%016x", 0xbeef0000+i)
			body := c.span
			for _, old := range []string{`"traceId":"6b221d5bc9e6496c"`, `"traceId":"1"`} {
				body = strings.Replace(body, old, `"traceId":"`+id+`"`, 1)
			}
			code, msg := oraclePost(t, base, "/api/v2/spans", "application/json", []byte("["+body+"]"))
			if c.wantErr != "" || c.divergent != "" {
				if code != 400 {
					t.Fatalf("zipkin answered %d, the table says it refuses this", code)
				}
				return
			}
			if code != 202 {
				t.Fatalf("zipkin: %d %s", code, msg)
			}
			spans, err := DecodeV2JSON([]byte("[" + body + "]"))
			if err != nil {
				t.Fatal(err)
			}
			zipkin := oracleTrace(t, base, spans[0].Model.TraceID.String())
			ours := []any{jsonValue(t, string(spans[0].JSON))}
			if z, o := sortedJSON(zipkin), sortedJSON(ours); !reflect.DeepEqual(z, o) {
				t.Errorf("zipkin:\n%s\nobs:\n%s", strings.Join(z, "\n"), strings.Join(o, "\n"))
			}
		})
	}
}

func TestOracleProto(t *testing.T) {
	base := oracle(t)
	code, msg := oraclePost(t, base, "/api/v2/spans", "application/x-protobuf", protoList(braveSpan()))
	if code != 202 {
		t.Fatalf("zipkin: %d %s", code, msg)
	}
	zipkin := oracleTrace(t, base, "6b221d5bc9e6496c")
	var found bool
	for _, z := range sortedJSON(zipkin) {
		found = found || reflect.DeepEqual(jsonValue(t, z), jsonValue(t, braveJSON))
	}
	if !found {
		t.Errorf("zipkin stored %s", sortedJSON(zipkin))
	}
}

func TestOracleCollector(t *testing.T) {
	base := oracle(t)
	for _, p := range posts {
		if p.code == 415 {
			continue // Zipkin reads Thrift; obs refuses it
		}
		code, msg := p.do(t, base)
		if code != p.code || !strings.Contains(msg, p.msg) {
			t.Errorf("%s: zipkin %d %q, the table says %d %q", p.name, code, msg, p.code, p.msg)
		}
	}
}
