package zipkin

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/openzipkin/zipkin-go/model"
	proto3 "github.com/openzipkin/zipkin-go/proto/zipkin_proto3"
	"google.golang.org/protobuf/encoding/protowire"
)

// v2Case is a v2 JSON span and what the collector makes of it: the stored
// span (want, compared as a JSON value) or an error containing wantErr.
// divergent cases are where obs is deliberately more lenient than Zipkin,
// which refuses the batch; the oracle test expects Zipkin to refuse them.
type v2Case struct {
	name      string
	span      string
	want      string
	wantErr   string
	divergent string
}

const sp = `"traceId":"6b221d5bc9e6496c","id":"6b221d5bc9e6496c"`
const spOut = `"traceId":"6b221d5bc9e6496c","id":"6b221d5bc9e6496c"`

// The reader cases of zipkin2.codec.SpanBytesDecoderTest (JSON_V2), and the
// leniency of V2SpanReader, Span.Builder and Endpoint.Builder that issue 13
// found reporters rely on.
var v2Cases = []v2Case{
	{name: "SpanBytesDecoderTest.readsTraceIdHighFromTraceIdField",
		span: `{"traceId":"48485a3953bb61246b221d5bc9e6496c","name":"get-traces","id":"6b221d5bc9e6496c"}`,
		want: `{"traceId":"48485a3953bb61246b221d5bc9e6496c","name":"get-traces","id":"6b221d5bc9e6496c"}`},
	{name: "SpanBytesDecoderTest.ignoresNull_topLevelFields",
		span: `{"traceId":"6b221d5bc9e6496c","parentId":null,"id":"6b221d5bc9e6496c","name":null,"timestamp":null,"duration":null,
		  "localEndpoint":null,"remoteEndpoint":null,"annotations":null,"tags":null,"debug":null,"shared":null}`,
		want: `{` + spOut + `}`},
	{name: "SpanBytesDecoderTest.ignoresNull_endpoint_topLevelFields",
		span: `{` + sp + `,"name":"get-traces","localEndpoint":{"serviceName":null,"ipv4":"127.0.0.1","ipv6":null,"port":null}}`,
		want: `{` + spOut + `,"name":"get-traces","localEndpoint":{"ipv4":"127.0.0.1"}}`},
	{name: "SpanBytesDecoderTest.skipsIncompleteEndpoint (nulls, local)",
		span: `{` + sp + `,"localEndpoint":{"serviceName":null,"ipv4":null,"ipv6":null,"port":null}}`, want: `{` + spOut + `}`},
	{name: "SpanBytesDecoderTest.skipsIncompleteEndpoint (empty, local)",
		span: `{` + sp + `,"localEndpoint":{}}`, want: `{` + spOut + `}`},
	{name: "SpanBytesDecoderTest.skipsIncompleteEndpoint (nulls, remote)",
		span: `{` + sp + `,"remoteEndpoint":{"serviceName":null,"ipv4":null,"ipv6":null,"port":null}}`, want: `{` + spOut + `}`},
	{name: "SpanBytesDecoderTest.skipsIncompleteEndpoint (empty, remote)",
		span: `{` + sp + `,"remoteEndpoint":{}}`, want: `{` + spOut + `}`},
	{name: "SpanBytesDecoderTest.niceErrorOnIncomplete_annotation",
		span: `{` + sp + `,"name":"get-traces","annotations":[{"timestamp":1472470996199000}]}`, wantErr: "incomplete annotation"},
	{name: "SpanBytesDecoderTest.niceErrorOnNull_traceId",
		span: `{"traceId":null,"name":"get-traces","id":"6b221d5bc9e6496c"}`, wantErr: "expected a string"},
	{name: "SpanBytesDecoderTest.niceErrorOnNull_id",
		span: `{"traceId":"6b221d5bc9e6496c","name":"get-traces","id":null}`, wantErr: "expected a string"},
	{name: "SpanBytesDecoderTest.niceErrorOnNull_tagValue",
		span: `{` + sp + `,"tags":{"foo":null}}`, wantErr: `tag "foo" has no value`},
	{name: "SpanBytesDecoderTest.niceErrorOnNull_tagValue (NULL, not JSON)",
		span: `{` + sp + `,"tags":{"foo":NULL}}`, wantErr: "expected a string"},
	{name: "SpanBytesDecoderTest.niceErrorOnNull_annotationValue",
		span: `{` + sp + `,"annotations":[{"timestamp":1472470996199000,"value":null}]}`, wantErr: "expected a string"},
	{name: "SpanBytesDecoderTest.niceErrorOnNull_annotationTimestamp",
		span: `{` + sp + `,"annotations":[{"timestamp":null,"value":"foo"}]}`, wantErr: "expected a number"},
	{name: "SpanBytesDecoderTest.readSpan_localEndpoint_noServiceName",
		span: `{` + sp + `,"name":"get-traces","localEndpoint":{"ipv4":"127.0.0.1"}}`,
		want: `{` + spOut + `,"name":"get-traces","localEndpoint":{"ipv4":"127.0.0.1"}}`},
	{name: "SpanBytesDecoderTest.readSpan_remoteEndpoint_noServiceName",
		span: `{` + sp + `,"name":"get-traces","remoteEndpoint":{"ipv4":"127.0.0.1"}}`,
		want: `{` + spOut + `,"name":"get-traces","remoteEndpoint":{"ipv4":"127.0.0.1"}}`},
	{name: "SpanBytesDecoderTest.niceErrorOnUppercase_traceId",
		span:      `{"traceId":"48485A3953BB6124","name":"get-traces","id":"6b221d5bc9e6496c"}`,
		want:      `{"traceId":"48485a3953bb6124","name":"get-traces","id":"6b221d5bc9e6496c"}`,
		divergent: "upper-case hex is read as lower case rather than refused"},
	{name: "SpanBytesDecoderTest.niceErrorOnNonStringTagValue",
		span: `{` + sp + `,"tags":{"error":true}}`, want: `{` + spOut + `,"tags":{"error":"true"}}`,
		divergent: "issue 13: a boolean tag value is kept as its text rather than losing the batch"},

	// gson's nextString/nextLong/nextInt read numbers and strings either way.
	{name: "V2SpanReader: port as a string (the seed's zipkin-lite)",
		span: `{` + sp + `,"kind":"CLIENT","remoteEndpoint":{"ipv4":"127.0.0.1","port":"35505"}}`,
		want: `{` + spOut + `,"kind":"CLIENT","remoteEndpoint":{"ipv4":"127.0.0.1","port":35505}}`},
	{name: "V2SpanReader: timestamp and duration as strings",
		span: `{` + sp + `,"timestamp":"1472470996199000","duration":"207000"}`,
		want: `{` + spOut + `,"timestamp":1472470996199000,"duration":207000}`},
	{name: "V2SpanReader: a number with an exact integer value (gson nextLong)",
		span: `{` + sp + `,"timestamp":1.472470996199E15,"duration":"207000.0"}`,
		want: `{` + spOut + `,"timestamp":1472470996199000,"duration":207000}`},
	{name: "V2SpanReader: a fractional timestamp",
		span: `{` + sp + `,"timestamp":1.5}`, wantErr: "not a whole number"},
	{name: "V2SpanReader: a timestamp that is not a number",
		span: `{` + sp + `,"timestamp":"yesterday"}`, wantErr: "not a whole number"},
	{name: "V2SpanReader: tag values that are numbers (gson nextString)",
		span: `{` + sp + `,"tags":{"http.status_code":200,"ratio":0.5}}`,
		want: `{` + spOut + `,"tags":{"http.status_code":"200","ratio":"0.5"}}`},
	{name: "V2SpanReader: ids and names as numbers (gson nextString)",
		span: `{"traceId":123,"id":456,"name":7}`, want: `{"traceId":"0000000000000123","id":"0000000000000456","name":"7"}`},
	{name: "Endpoint.Builder.parseIp: not an address is dropped, the span kept",
		span: `{` + sp + `,"localEndpoint":{"serviceName":"web","ipv4":"web-1.local","ipv6":"nope","port":80}}`,
		want: `{` + spOut + `,"localEndpoint":{"serviceName":"web","port":80}}`},
	{name: "Endpoint.Builder.parseIp: an IPv6 address in ipv4",
		span: `{` + sp + `,"localEndpoint":{"ipv4":"2001:DB8::C001"}}`, want: `{` + spOut + `,"localEndpoint":{"ipv6":"2001:db8::c001"}}`},
	{name: "Endpoint.Builder.parseIp: IPv4 mapped into IPv6",
		span: `{` + sp + `,"localEndpoint":{"ipv6":"::ffff:10.1.2.3"}}`, want: `{` + spOut + `,"localEndpoint":{"ipv4":"10.1.2.3"}}`},
	{name: "Endpoint.Builder.port: over 65535",
		span: `{` + sp + `,"localEndpoint":{"port":70000}}`, wantErr: "invalid port 70000"},
	{name: "Endpoint.Builder.port: negative is unknown",
		span: `{` + sp + `,"localEndpoint":{"serviceName":"a","port":-1}}`, want: `{` + spOut + `,"localEndpoint":{"serviceName":"a"}}`},
	{name: "Endpoint.Builder.serviceName: lower-cased",
		span: `{` + sp + `,"localEndpoint":{"serviceName":"Web-API"}}`, want: `{` + spOut + `,"localEndpoint":{"serviceName":"web-api"}}`},
	{name: "Span.normalizeTraceId: short ids padded",
		span: `{"traceId":"a001","id":"1","parentId":"2"}`,
		want: `{"traceId":"000000000000a001","id":"0000000000000001","parentId":"0000000000000002"}`},
	{name: "Span.normalizeTraceId: 20 characters padded to 32",
		span: `{"traceId":"463ac35c9f6413ad4848","id":"1"}`, want: `{"traceId":"000000000000463ac35c9f6413ad4848","id":"0000000000000001"}`},
	{name: "Span.normalizeTraceId: a 128-bit id with a zero high half is 64-bit",
		span: `{"traceId":"00000000000000007b221d5bc9e6496c","id":"6b221d5bc9e6496c"}`, want: `{"traceId":"7b221d5bc9e6496c","id":"6b221d5bc9e6496c"}`},
	{name: "Span.normalizeTraceId: longer than 32", span: `{"traceId":"463ac35c9f6413ad48485a3953bb6124a","id":"1"}`, wantErr: "longer than 32"},
	{name: "Span.normalizeTraceId: all zeros", span: `{"traceId":"0000000000000000","id":"1"}`, wantErr: "all zeros"},
	{name: "Span.Builder.id: longer than 16", span: `{"traceId":"1","id":"12345678901234567"}`, wantErr: "longer than 16"},
	{name: "Span.Builder.id: not hex", span: `{"traceId":"1","id":"zz"}`, wantErr: "not hex"},
	{name: "Span.Builder.parentId: all zeros is none", span: `{"traceId":"1","id":"2","parentId":"0000000000000000"}`,
		want: `{"traceId":"0000000000000001","id":"0000000000000002"}`},
	{name: "Span.Builder.build: parentId equal to id is none", span: `{"traceId":"1","id":"2","parentId":"2"}`,
		want: `{"traceId":"0000000000000001","id":"0000000000000002"}`},
	{name: "Span.Builder.build: shared is dropped from a client span", span: `{"traceId":"1","id":"2","kind":"CLIENT","shared":true}`,
		want: `{"traceId":"0000000000000001","id":"0000000000000002","kind":"CLIENT"}`},
	{name: "Span.Builder: negative timestamp and duration are none", span: `{"traceId":"1","id":"2","timestamp":-5,"duration":-5}`,
		want: `{"traceId":"0000000000000001","id":"0000000000000002"}`},
	{name: "Span.Builder.name: lower-cased", span: `{"traceId":"1","id":"2","name":"GET /Users"}`,
		want: `{"traceId":"0000000000000001","id":"0000000000000002","name":"get /users"}`},
	{name: "Span.Kind.valueOf: unknown kind", span: `{"traceId":"1","id":"2","kind":"SIDEWAYS"}`, wantErr: "kind"},
	{name: "Span.Kind.valueOf: is case sensitive", span: `{"traceId":"1","id":"2","kind":"client"}`, wantErr: "kind"},
	{name: "Span: annotations sorted by time then value, duplicates once",
		span: `{"traceId":"1","id":"2","annotations":[{"timestamp":3,"value":"b"},{"timestamp":1,"value":"z"},{"timestamp":3,"value":"a"},{"timestamp":1,"value":"z"}]}`,
		want: `{"traceId":"0000000000000001","id":"0000000000000002","annotations":[{"timestamp":1,"value":"z"},{"timestamp":3,"value":"a"},{"timestamp":3,"value":"b"}]}`},
	{name: "V2SpanReader: debug must be a boolean", span: `{"traceId":"1","id":"2","debug":"true"}`, wantErr: "true or false"},
	{name: "V2SpanReader: unknown fields skipped",
		span: `{"traceId":"1","id":"2","extra":{"a":[1,{"b":null}],"c":"d"},"debug":true}`,
		want: `{"traceId":"0000000000000001","id":"0000000000000002","debug":true}`},
	{name: "JSON escapes", span: `{"traceId":"1","id":"2","name":"a\"b\\c\u00e9\ud83d\ude00\n"}`,
		want: `{"traceId":"0000000000000001","id":"0000000000000002","name":"a\"b\\cé😀\n"}`},
	{name: "missing id", span: `{"traceId":"1"}`, wantErr: "missing id"},
}

func TestV2Reader(t *testing.T) {
	for _, c := range v2Cases {
		t.Run(c.name, func(t *testing.T) {
			spans, err := DecodeV2JSON([]byte("[" + c.span + "]"))
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("got %v, want an error about %q", err, c.wantErr)
				}
				return
			}
			if err != nil || len(spans) != 1 {
				t.Fatalf("%v, %d spans", err, len(spans))
			}
			if got, want := jsonValue(t, string(spans[0].JSON)), jsonValue(t, c.want); !reflect.DeepEqual(got, want) {
				t.Errorf("\n got %s\nwant %s", spans[0].JSON, c.want)
			}
		})
	}
}

func TestV2ReaderBatch(t *testing.T) {
	for _, c := range []struct{ body, wantErr string }{
		{`[]`, ""},                      // SpanBytesDecoderTest.emptyListOk_JSON_V2
		{`hello`, "JSON list of spans"}, // SpanBytesDecoderTest.niceErrorOnMalformed_inputSpans_JSON_V2
		{`[{"traceId":"1","id":"2"},]`, "after ','"},
		{`[{"traceId":"1","id":"2"} {"traceId":"1","id":"3"}]`, "','"},
		{`[{"traceId":"1","id":"2"}`, "end of input"},
		{`{"traceId":"1","id":"2"}`, "JSON list"},
		{`[{"traceId":"1","id":"2"},{"traceId":"1","id":"zz"}]`, "span 1: "}, // a bad span refuses the batch, as Zipkin
	} {
		spans, err := DecodeV2JSON([]byte(c.body))
		if c.wantErr == "" && (err != nil || len(spans) != 0) || c.wantErr != "" && (err == nil || !strings.Contains(err.Error(), c.wantErr)) {
			t.Errorf("%s: %v, want %q", c.body, err, c.wantErr)
		}
	}
}

// A span with many tags is decoded in linear time and cut at the limit.
func TestManyTags(t *testing.T) {
	var b strings.Builder
	b.WriteString(`[{"traceId":"1","id":"2","tags":{`)
	n := 200_000
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `"k%d":"v"`, i)
	}
	b.WriteString(`}}]`)
	d, err := decodeV2JSON([]byte(b.String()))
	if err != nil || len(d.Spans) != 1 || len(d.Spans[0].Model.Tags) != MaxTagsPerSpan || d.Cut != n-MaxTagsPerSpan {
		t.Fatalf("%v: %d tags kept, %d cut", err, len(d.Spans[0].Model.Tags), d.Cut)
	}
}

// protoList wraps encoded spans in a ListOfSpans.
func protoList(spans ...[]byte) []byte {
	var out []byte
	for _, s := range spans {
		out = protowire.AppendTag(out, 1, protowire.BytesType)
		out = protowire.AppendBytes(out, s)
	}
	return out
}

func pbBytes(b []byte, num protowire.Number, v []byte) []byte {
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendBytes(b, v)
}

func pbVarint(b []byte, num protowire.Number, v uint64) []byte {
	b = protowire.AppendTag(b, num, protowire.VarintType)
	return protowire.AppendVarint(b, v)
}

func pbFixed(b []byte, num protowire.Number, v uint64) []byte {
	b = protowire.AppendTag(b, num, protowire.Fixed64Type)
	return protowire.AppendFixed64(b, v)
}

// braveSpan is what Brave's proto3 encoder writes for a 64-bit trace:
// an 8-byte trace_id, which zipkin-go's decoder refuses.
func braveSpan() []byte {
	be := func(v uint64) []byte {
		return []byte{byte(v >> 56), byte(v >> 48), byte(v >> 40), byte(v >> 32), byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}
	}
	var s []byte
	s = pbBytes(s, 1, be(0x6b221d5bc9e6496c))
	s = pbBytes(s, 2, be(0x1))
	s = pbBytes(s, 3, be(0x352bff9a74ca9ad2))
	s = pbVarint(s, 4, 2) // SERVER
	s = pbBytes(s, 5, []byte("GET /recipes"))
	s = pbFixed(s, 6, 1472470996199000)
	s = pbVarint(s, 7, 207000)
	var local []byte
	local = pbBytes(local, 1, []byte("recipe-api"))
	local = pbBytes(local, 2, []byte{127, 0, 0, 1})
	local = pbVarint(local, 4, 4000)
	s = pbBytes(s, 8, local)
	var remote []byte
	remote = pbBytes(remote, 3, []byte{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xc0, 0x01})
	s = pbBytes(s, 9, remote)
	var ann []byte
	ann = pbFixed(ann, 1, 1472470996200000)
	ann = pbBytes(ann, 2, []byte("wr"))
	s = pbBytes(s, 10, ann)
	s = pbBytes(s, 10, pbBytes(nil, 2, []byte("no timestamp: dropped")))
	var tag []byte
	tag = pbBytes(tag, 1, []byte("http.path"))
	tag = pbBytes(tag, 2, []byte("/recipes/42"))
	s = pbBytes(s, 11, tag)
	s = pbBytes(s, 11, pbBytes(nil, 2, []byte("no key: dropped")))
	s = pbVarint(s, 13, 1)                      // shared
	s = pbBytes(s, 99, []byte("unknown field")) // skipped
	return s
}

const braveJSON = `{"traceId":"6b221d5bc9e6496c","parentId":"0000000000000001","id":"352bff9a74ca9ad2","kind":"SERVER","name":"get /recipes",
  "timestamp":1472470996199000,"duration":207000,"shared":true,"localEndpoint":{"serviceName":"recipe-api","ipv4":"127.0.0.1","port":4000},
  "remoteEndpoint":{"ipv6":"2001:db8::c001"},"annotations":[{"timestamp":1472470996200000,"value":"wr"}],"tags":{"http.path":"/recipes/42"}}`

func TestProto(t *testing.T) {
	spans, err := DecodeProto(protoList(braveSpan()))
	if err != nil || len(spans) != 1 {
		t.Fatalf("Brave-style span: %v", err)
	}
	if got, want := jsonValue(t, string(spans[0].JSON)), jsonValue(t, braveJSON); !reflect.DeepEqual(got, want) {
		t.Errorf("\n got %s\nwant %s", spans[0].JSON, braveJSON)
	}
	// zipkin-go's own encoder (16-byte trace ids) round trips.
	pid := model.ID(0x110)
	in := []*model.SpanModel{{SpanContext: model.SpanContext{TraceID: model.TraceID{High: 7, Low: 0x100}, ID: 0x111, ParentID: &pid},
		Name: "get_recipe", Kind: model.Client, LocalEndpoint: &model.Endpoint{ServiceName: "web-api"}, Tags: map[string]string{"a": "b"}}}
	blob, err := proto3.SpanSerializer{}.Serialize(in)
	if err != nil {
		t.Fatal(err)
	}
	spans, err = DecodeProto(blob)
	if err != nil || len(spans) != 1 || string(spans[0].JSON) != `{"traceId":"00000000000000070000000000000100","id":"0000000000000111","parentId":"0000000000000110","kind":"CLIENT","name":"get_recipe","localEndpoint":{"serviceName":"web-api"},"tags":{"a":"b"}}` {
		t.Fatalf("%v %s", err, spans[0].JSON)
	}
	for _, c := range []struct {
		name string
		body []byte
		want string
	}{
		{"SpanBytesDecoderTest.niceErrorOnMalformed_inputSpans_PROTO3", []byte("hello"), "protobuf"},
		{"SpanBytesDecoderTest.niceErrorOnTruncatedSpans_PROTO3", protoList(braveSpan())[:10], "protobuf"},
		{"Proto3Fields.HexField: a 5-byte trace id", protoList(pbBytes(pbBytes(nil, 1, []byte{1, 2, 3, 4, 5}), 3, []byte{0, 0, 0, 0, 0, 0, 0, 1})), "trace_id is 5 bytes"},
		{"missing id", protoList(pbBytes(nil, 1, []byte{0, 0, 0, 0, 0, 0, 0, 1})), "missing id"},
	} {
		if _, err := DecodeProto(c.body); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.name, err, c.want)
		}
	}
	// SpanBytesDecoderTest.emptyListOk_PROTO3
	if spans, err := DecodeProto(nil); err != nil || len(spans) != 0 {
		t.Fatalf("empty: %v", err)
	}
}

func FuzzDecodeV2(f *testing.F) {
	f.Add([]byte(`[{"traceId":"0000000000000100","id":"0000000000000111","kind":"CLIENT","timestamp":1,"duration":2,"localEndpoint":{"serviceName":"a"},"tags":{"a":"b"},"annotations":[{"timestamp":1,"value":"x"}]}]`))
	f.Add([]byte(`[]`))
	for _, c := range v2Cases {
		f.Add([]byte("[" + c.span + "]"))
	}
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
	for _, c := range v1Cases {
		f.Add([]byte("[" + expand(c.v1) + "]"))
	}
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

func FuzzDecodeProto(f *testing.F) {
	f.Add(protoList(braveSpan()))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		spans, err := DecodeProto(b)
		if err != nil {
			return
		}
		for _, s := range spans {
			if !json.Valid(s.JSON) || s.Model.ID == 0 || s.Model.TraceID.Empty() {
				t.Fatalf("bad span %s", s.JSON)
			}
		}
	})
}
