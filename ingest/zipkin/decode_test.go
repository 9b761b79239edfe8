package zipkin

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/openzipkin/zipkin-go/model"
	proto3 "github.com/openzipkin/zipkin-go/proto/zipkin_proto3"
)

func TestV2Validation(t *testing.T) {
	for _, c := range []struct{ body, want string }{
		{`[{"traceId":"0000000000000100","id":"0000000000000111"}]`, ""},
		{`[{"traceId":"463AC35C9F6413AD48485A3953BB6124","id":"48485a3953bb6124"}]`, ""},
		{`[{"traceId":"100","id":"0000000000000111"}]`, "traceId"},
		{`[{"traceId":"0000000000000100","id":"111"}]`, "id"},
		{`[{"traceId":"0000000000000100","id":"0000000000000111","parentId":"zz"}]`, "parentId"},
		{`[{"traceId":"0000000000000100","id":"0000000000000111","kind":"SIDEWAYS"}]`, "kind"},
		{`[{"traceId":"0000000000000100","id":"0000000000000111","timestamp":"yesterday"}]`, "yesterday"},
		{`[{"traceId":"0000000000000100","id":"0000000000000111","duration":-5}]`, "duration"},
		{`[{"traceId":"0000000000000100","id":"0000000000000111","tags":{"a":1}}]`, "tags"},
		{`{}`, "list"},
	} {
		spans, err := DecodeV2JSON([]byte(c.body))
		if c.want == "" {
			if err != nil || len(spans) != 1 {
				t.Errorf("%s: %v", c.body, err)
			}
			continue
		}
		var ze *Error
		if !errors.As(err, &ze) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want an error about %s", c.body, err, c.want)
		}
	}
	// Trace ids are lower-cased.
	spans, _ := DecodeV2JSON([]byte(`[{"traceId":"463AC35C9F6413AD48485A3953BB6124","id":"48485A3953BB6124","name":"GET"}]`))
	if !strings.Contains(string(spans[0].JSON), `"traceId":"463ac35c9f6413ad48485a3953bb6124"`) || !strings.Contains(string(spans[0].JSON), `"name":"get"`) {
		t.Fatalf("not normalised: %s", spans[0].JSON)
	}
}

func TestV1Conversion(t *testing.T) {
	web := `{"serviceName":"web-api","ipv4":"127.0.0.1","port":3000}`
	recipe := `{"serviceName":"recipe-api","ipv4":"127.0.0.2","port":4000}`
	body := `[
	 {"traceId":"0000000000000100","id":"0000000000000111","parentId":"0000000000000110","name":"get_recipe","timestamp":1700000000001000,"duration":80,
	  "annotations":[{"timestamp":1700000000001000,"value":"cs","endpoint":` + web + `},{"timestamp":1700000000001080,"value":"cr","endpoint":` + web + `},
	                 {"timestamp":1700000000001010,"value":"sr","endpoint":` + recipe + `},{"timestamp":1700000000001070,"value":"ss","endpoint":` + recipe + `},
	                 {"timestamp":1700000000001050,"value":"cache miss","endpoint":` + recipe + `}],
	  "binaryAnnotations":[{"key":"http.path","value":"/recipes/42","endpoint":` + web + `},{"key":"sa","value":true,"endpoint":` + recipe + `}]},
	 {"traceId":"0000000000000100","id":"0000000000000112","parentId":"0000000000000110","name":"local",
	  "binaryAnnotations":[{"key":"lc","value":"compute","endpoint":` + web + `}]}
	]`
	spans, err := DecodeV1JSON([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	if len(spans) != 3 {
		t.Fatalf("%d spans", len(spans))
	}
	c, s, l := spans[0].Model, spans[1].Model, spans[2].Model
	if c.Kind != model.Client || c.LocalEndpoint.ServiceName != "web-api" || c.RemoteEndpoint.ServiceName != "recipe-api" ||
		c.Duration.Microseconds() != 80 || c.Timestamp.UnixMicro() != 1700000000001000 || c.Tags["http.path"] != "/recipes/42" || len(c.Annotations) != 1 {
		t.Errorf("client half %+v", c)
	}
	if s.Kind != model.Server || !s.Shared || s.LocalEndpoint.ServiceName != "recipe-api" || s.Duration.Microseconds() != 60 || s.Timestamp.UnixMicro() != 1700000000001010 {
		t.Errorf("server half %+v", s)
	}
	if l.Kind != "" || l.LocalEndpoint.ServiceName != "web-api" || l.Tags["lc"] != "compute" {
		t.Errorf("local span %+v", l)
	}
}

func TestProto(t *testing.T) {
	pid := model.ID(0x110)
	in := []*model.SpanModel{{SpanContext: model.SpanContext{TraceID: model.TraceID{Low: 0x100}, ID: 0x111, ParentID: &pid},
		Name: "get_recipe", Kind: model.Client, LocalEndpoint: &model.Endpoint{ServiceName: "web-api"}}}
	blob, err := proto3.SpanSerializer{}.Serialize(in)
	if err != nil {
		t.Fatal(err)
	}
	spans, err := DecodeProto(blob)
	if err != nil || len(spans) != 1 || spans[0].Model.Name != "get_recipe" {
		t.Fatalf("%v %+v", err, spans)
	}
	if _, err := DecodeProto([]byte{0xff, 0xff, 0xff}); err == nil {
		t.Fatal("garbage protobuf accepted")
	}
}

func FuzzDecodeV2(f *testing.F) {
	f.Add([]byte(`[{"traceId":"0000000000000100","id":"0000000000000111","kind":"CLIENT","timestamp":1,"duration":2,"localEndpoint":{"serviceName":"a"},"tags":{"a":"b"},"annotations":[{"timestamp":1,"value":"x"}]}]`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		spans, err := DecodeV2JSON(b)
		if err != nil {
			return
		}
		for _, s := range spans {
			if !json.Valid(s.JSON) {
				t.Fatalf("stored invalid JSON %s", s.JSON)
			}
		}
	})
}

func FuzzDecodeV1(f *testing.F) {
	f.Add([]byte(`[{"traceId":"0000000000000100","id":"0000000000000111","name":"x","annotations":[{"timestamp":1,"value":"cs","endpoint":{"serviceName":"a"}},{"timestamp":3,"value":"sr"}],"binaryAnnotations":[{"key":"sa","value":true,"endpoint":{"serviceName":"b"}}]}]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		spans, err := DecodeV1JSON(b)
		if err != nil {
			return
		}
		for _, s := range spans {
			if !json.Valid(s.JSON) || s.Model.Duration < 0 {
				t.Fatalf("bad span %s", s.JSON)
			}
		}
	})
}
