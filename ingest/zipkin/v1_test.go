package zipkin

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

// Endpoints of Zipkin's TestObjects and SpanConverterTest.
const (
	frontend = `{"serviceName":"frontend","ipv4":"127.0.0.1"}`
	backend  = `{"serviceName":"backend","ipv4":"192.168.99.101","port":9000}`
	kafka    = `{"serviceName":"kafka"}`
)

// v1Case is a v1 span and the v2 spans Zipkin's V1SpanConverter makes of
// it, in order. JSON is compared as values: field order does not matter.
type v1Case struct {
	zipkinTest string
	v1         string
	want       []string
}

func expand(s string) string {
	return strings.NewReplacer("$FE", frontend, "$BE", backend, "$KAFKA", kafka).Replace(s)
}

// The cases of zipkin2.v1.SpanConverterTest (v1 → v2 direction) and
// zipkin2.v1.V1SpanConverterTest.
var v1Cases = []v1Case{
	{"SpanConverterTest.client",
		`{"traceId":"1","parentId":"2","id":"3","name":"get","timestamp":1472470996199000,"duration":207000,
		 "annotations":[{"timestamp":1472470996199000,"value":"cs","endpoint":$FE},{"timestamp":1472470996238000,"value":"ws","endpoint":$FE},
		   {"timestamp":1472470996403000,"value":"wr","endpoint":$FE},{"timestamp":1472470996406000,"value":"cr","endpoint":$FE}],
		 "binaryAnnotations":[{"key":"http.path","value":"/api","endpoint":$FE},{"key":"clnt/finagle.version","value":"6.45.0","endpoint":$FE},{"key":"sa","value":true,"endpoint":$BE}]}`,
		[]string{`{"traceId":"0000000000000001","parentId":"0000000000000002","id":"0000000000000003","name":"get","kind":"CLIENT","localEndpoint":$FE,"remoteEndpoint":$BE,
		  "timestamp":1472470996199000,"duration":207000,"annotations":[{"timestamp":1472470996238000,"value":"ws"},{"timestamp":1472470996403000,"value":"wr"}],
		  "tags":{"http.path":"/api","clnt/finagle.version":"6.45.0"}}`}},
	{"SpanConverterTest.client_unfinished",
		`{"traceId":"1","parentId":"2","id":"3","name":"get","timestamp":1472470996199000,
		 "annotations":[{"timestamp":1472470996199000,"value":"cs","endpoint":$FE},{"timestamp":1472470996238000,"value":"ws","endpoint":$FE}]}`,
		[]string{`{"traceId":"0000000000000001","parentId":"0000000000000002","id":"0000000000000003","name":"get","kind":"CLIENT","localEndpoint":$FE,
		  "timestamp":1472470996199000,"annotations":[{"timestamp":1472470996238000,"value":"ws"}]}`}},
	{"SpanConverterTest.lateRemoteEndpoint_cr",
		`{"traceId":"1","parentId":"2","id":"3","name":"get","annotations":[{"timestamp":1472470996199000,"value":"cr","endpoint":$FE}],
		 "binaryAnnotations":[{"key":"sa","value":true,"endpoint":$BE}]}`,
		[]string{`{"traceId":"0000000000000001","parentId":"0000000000000002","id":"0000000000000003","name":"get","kind":"CLIENT","localEndpoint":$FE,"remoteEndpoint":$BE,
		  "annotations":[{"timestamp":1472470996199000,"value":"cr"}]}`}},
	{"SpanConverterTest.lateRemoteEndpoint_sa",
		`{"traceId":"1","parentId":"2","id":"3","binaryAnnotations":[{"key":"sa","value":true,"endpoint":$BE}]}`,
		[]string{`{"traceId":"0000000000000001","parentId":"0000000000000002","id":"0000000000000003","remoteEndpoint":$BE}`}},
	{"SpanConverterTest.noAnnotationsExceptAddresses",
		`{"traceId":"1","parentId":"2","id":"3","name":"get","timestamp":1472470996199000,"duration":207000,
		 "binaryAnnotations":[{"key":"lc","value":"","endpoint":$FE},{"key":"sa","value":true,"endpoint":$BE}]}`,
		[]string{`{"traceId":"0000000000000001","parentId":"0000000000000002","id":"0000000000000003","name":"get","localEndpoint":$FE,"remoteEndpoint":$BE,
		  "timestamp":1472470996199000,"duration":207000}`}},
	{"SpanConverterTest.server",
		`{"traceId":"1","id":"2","name":"get","timestamp":1472470996199000,"duration":207000,
		 "annotations":[{"timestamp":1472470996199000,"value":"sr","endpoint":$BE},{"timestamp":1472470996406000,"value":"ss","endpoint":$BE}],
		 "binaryAnnotations":[{"key":"http.path","value":"/api","endpoint":$BE},{"key":"finagle.version","value":"6.45.0","endpoint":$BE},{"key":"ca","value":true,"endpoint":$FE}]}`,
		[]string{`{"traceId":"0000000000000001","id":"0000000000000002","name":"get","kind":"SERVER","localEndpoint":$BE,"remoteEndpoint":$FE,
		  "timestamp":1472470996199000,"duration":207000,"tags":{"http.path":"/api","finagle.version":"6.45.0"}}`}},
	{"SpanConverterTest.server_clientAddress",
		`{"traceId":"1","id":"2","name":"get",
		 "annotations":[{"timestamp":1700000000000000,"value":"sr","endpoint":$BE},{"timestamp":1700000000000500,"value":"Gc(9,0.PSScavenge,2015-09-17 12:37:02 +0000,304.milliseconds+762.microseconds)","endpoint":$BE},
		   {"timestamp":1700000000207000,"value":"ss","endpoint":$BE}],
		 "binaryAnnotations":[{"key":"srv/finagle.version","value":"6.28.0","endpoint":{"serviceName":"backend","ipv4":"192.168.99.101"}},
		   {"key":"sa","value":true,"endpoint":$BE},{"key":"ca","value":true,"endpoint":{"serviceName":"frontend","ipv4":"127.0.0.1","port":63840}}]}`,
		[]string{`{"traceId":"0000000000000001","id":"0000000000000002","name":"get","kind":"SERVER","shared":true,"localEndpoint":$BE,
		  "remoteEndpoint":{"serviceName":"frontend","ipv4":"127.0.0.1","port":63840},"timestamp":1700000000000000,"duration":207000,
		  "annotations":[{"timestamp":1700000000000500,"value":"Gc(9,0.PSScavenge,2015-09-17 12:37:02 +0000,304.milliseconds+762.microseconds)"}],
		  "tags":{"srv/finagle.version":"6.28.0"}}`}},
	{"SpanConverterTest.missingEndpoints",
		`{"traceId":"1","parentId":"1","id":"2","name":"foo","timestamp":1472470996199000,"duration":207000}`,
		[]string{`{"traceId":"0000000000000001","parentId":"0000000000000001","id":"0000000000000002","name":"foo","timestamp":1472470996199000,"duration":207000}`}},
	{"SpanConverterTest.missingEndpoints_coreAnnotation",
		`{"traceId":"1","parentId":"1","id":"2","name":"foo","timestamp":1472470996199000,"annotations":[{"timestamp":1472470996199000,"value":"sr"}]}`,
		[]string{`{"traceId":"0000000000000001","parentId":"0000000000000001","id":"0000000000000002","name":"foo","timestamp":1472470996199000,
		  "annotations":[{"timestamp":1472470996199000,"value":"sr"}]}`}},
	{"SpanConverterTest.server_shared_v1_no_timestamp_duration",
		`{"traceId":"1","parentId":"2","id":"3","name":"get",
		 "annotations":[{"timestamp":1472470996199000,"value":"sr","endpoint":$BE},{"timestamp":1472470996406000,"value":"ss","endpoint":$BE}]}`,
		[]string{`{"traceId":"0000000000000001","parentId":"0000000000000002","id":"0000000000000003","name":"get","kind":"SERVER","shared":true,"localEndpoint":$BE,
		  "timestamp":1472470996199000,"duration":207000}`}},
	{"SpanConverterTest.server_incomplete_shared",
		`{"traceId":"1","parentId":"2","id":"3","name":"get","annotations":[{"timestamp":1472470996199000,"value":"sr","endpoint":$BE}]}`,
		[]string{`{"traceId":"0000000000000001","parentId":"0000000000000002","id":"0000000000000003","name":"get","kind":"SERVER","shared":true,"localEndpoint":$BE,
		  "timestamp":1472470996199000}`}},
	{"SpanConverterTest.lateRemoteEndpoint_ss",
		`{"traceId":"1","id":"2","name":"get","annotations":[{"timestamp":1472470996199000,"value":"ss","endpoint":$BE}],
		 "binaryAnnotations":[{"key":"ca","value":true,"endpoint":$FE}]}`,
		[]string{`{"traceId":"0000000000000001","id":"0000000000000002","name":"get","kind":"SERVER","localEndpoint":$BE,"remoteEndpoint":$FE,
		  "annotations":[{"timestamp":1472470996199000,"value":"ss"}]}`}},
	{"SpanConverterTest.lateRemoteEndpoint_ca",
		`{"traceId":"1","id":"2","binaryAnnotations":[{"key":"ca","value":true,"endpoint":$FE}]}`,
		[]string{`{"traceId":"0000000000000001","id":"0000000000000002","kind":"SERVER","remoteEndpoint":$FE}`}},
	{"SpanConverterTest.localSpan_emptyComponent",
		`{"traceId":"1","id":"2","name":"local","timestamp":1472470996199000,"duration":207000,
		 "binaryAnnotations":[{"key":"lc","value":"","endpoint":{"serviceName":"frontend"}}]}`,
		[]string{`{"traceId":"0000000000000001","id":"0000000000000002","name":"local","localEndpoint":{"serviceName":"frontend"},"timestamp":1472470996199000,"duration":207000}`}},
	{"SpanConverterTest.producer_remote",
		`{"traceId":"1","parentId":"2","id":"3","name":"send","timestamp":1472470996199000,
		 "annotations":[{"timestamp":1472470996199000,"value":"ms","endpoint":$FE}],"binaryAnnotations":[{"key":"ma","value":true,"endpoint":$KAFKA}]}`,
		[]string{`{"traceId":"0000000000000001","parentId":"0000000000000002","id":"0000000000000003","name":"send","kind":"PRODUCER","localEndpoint":$FE,
		  "remoteEndpoint":$KAFKA,"timestamp":1472470996199000}`}},
	{"SpanConverterTest.producer_duration",
		`{"traceId":"1","parentId":"2","id":"3","name":"send","timestamp":1472470996199000,"duration":51000,
		 "annotations":[{"timestamp":1472470996199000,"value":"ms","endpoint":$FE},{"timestamp":1472470996250000,"value":"ws","endpoint":$FE}]}`,
		[]string{`{"traceId":"0000000000000001","parentId":"0000000000000002","id":"0000000000000003","name":"send","kind":"PRODUCER","localEndpoint":$FE,
		  "timestamp":1472470996199000,"duration":51000}`}},
	{"SpanConverterTest.consumer",
		`{"traceId":"1","parentId":"2","id":"3","name":"next-message","timestamp":1472470996199000,
		 "annotations":[{"timestamp":1472470996199000,"value":"mr","endpoint":$BE}]}`,
		[]string{`{"traceId":"0000000000000001","parentId":"0000000000000002","id":"0000000000000003","name":"next-message","kind":"CONSUMER","localEndpoint":$BE,
		  "timestamp":1472470996199000}`}},
	{"SpanConverterTest.consumer_remote",
		`{"traceId":"1","parentId":"2","id":"3","name":"next-message","timestamp":1472470996199000,
		 "annotations":[{"timestamp":1472470996199000,"value":"mr","endpoint":$BE}],"binaryAnnotations":[{"key":"ma","value":true,"endpoint":$KAFKA}]}`,
		[]string{`{"traceId":"0000000000000001","parentId":"0000000000000002","id":"0000000000000003","name":"next-message","kind":"CONSUMER","localEndpoint":$BE,
		  "remoteEndpoint":$KAFKA,"timestamp":1472470996199000}`}},
	{"SpanConverterTest.consumer_duration",
		`{"traceId":"1","parentId":"2","id":"3","name":"next-message","timestamp":1472470996199000,"duration":51000,
		 "annotations":[{"timestamp":1472470996199000,"value":"wr","endpoint":$BE},{"timestamp":1472470996250000,"value":"mr","endpoint":$BE}]}`,
		[]string{`{"traceId":"0000000000000001","parentId":"0000000000000002","id":"0000000000000003","name":"next-message","kind":"CONSUMER","localEndpoint":$BE,
		  "timestamp":1472470996199000,"duration":51000}`}},
	{"SpanConverterTest.clientAndServer",
		`{"traceId":"1","parentId":"2","id":"3","name":"get","timestamp":1472470996199000,"duration":207000,
		 "annotations":[{"timestamp":1472470996199000,"value":"cs","endpoint":$FE},{"timestamp":1472470996238000,"value":"ws","endpoint":$FE},
		   {"timestamp":1472470996250000,"value":"sr","endpoint":$BE},{"timestamp":1472470996350000,"value":"ss","endpoint":$BE},
		   {"timestamp":1472470996403000,"value":"wr","endpoint":$FE},{"timestamp":1472470996406000,"value":"cr","endpoint":$FE}],
		 "binaryAnnotations":[{"key":"http.path","value":"/api","endpoint":$FE},{"key":"http.path","value":"/BACKEND","endpoint":$BE},
		   {"key":"clnt/finagle.version","value":"6.45.0","endpoint":$FE},{"key":"srv/finagle.version","value":"6.44.0","endpoint":$BE},
		   {"key":"ca","value":true,"endpoint":$FE},{"key":"sa","value":true,"endpoint":$BE}]}`,
		[]string{
			`{"traceId":"0000000000000001","parentId":"0000000000000002","id":"0000000000000003","name":"get","kind":"CLIENT","localEndpoint":$FE,"remoteEndpoint":$BE,
			  "timestamp":1472470996199000,"duration":207000,"annotations":[{"timestamp":1472470996238000,"value":"ws"},{"timestamp":1472470996403000,"value":"wr"}],
			  "tags":{"http.path":"/api","clnt/finagle.version":"6.45.0"}}`,
			`{"traceId":"0000000000000001","parentId":"0000000000000002","id":"0000000000000003","name":"get","kind":"SERVER","shared":true,"localEndpoint":$BE,"remoteEndpoint":$FE,
			  "timestamp":1472470996250000,"duration":100000,"tags":{"http.path":"/BACKEND","srv/finagle.version":"6.44.0"}}`}},
	{"SpanConverterTest.assumesServerWithoutTimestampIsShared",
		`{"traceId":"1","parentId":"2","id":"3","name":"get",
		 "annotations":[{"timestamp":1472470996250000,"value":"sr","endpoint":$BE},{"timestamp":1472470996350000,"value":"ss","endpoint":$BE}]}`,
		[]string{`{"traceId":"0000000000000001","parentId":"0000000000000002","id":"0000000000000003","name":"get","kind":"SERVER","shared":true,"localEndpoint":$BE,
		  "timestamp":1472470996250000,"duration":100000}`}},
	{"SpanConverterTest.clientAndServer_loopback",
		`{"traceId":"1","parentId":"2","id":"3","name":"get","timestamp":1472470996199000,"duration":207000,
		 "annotations":[{"timestamp":1472470996199000,"value":"cs","endpoint":$FE},{"timestamp":1472470996250000,"value":"sr","endpoint":$FE},
		   {"timestamp":1472470996350000,"value":"ss","endpoint":$FE},{"timestamp":1472470996406000,"value":"cr","endpoint":$FE}]}`,
		[]string{
			`{"traceId":"0000000000000001","parentId":"0000000000000002","id":"0000000000000003","name":"get","kind":"CLIENT","localEndpoint":$FE,
			  "timestamp":1472470996199000,"duration":207000}`,
			`{"traceId":"0000000000000001","parentId":"0000000000000002","id":"0000000000000003","name":"get","kind":"SERVER","shared":true,"localEndpoint":$FE,
			  "timestamp":1472470996250000,"duration":100000}`}},
	{"SpanConverterTest.oneway_loopback",
		`{"traceId":"1","parentId":"2","id":"3","name":"get",
		 "annotations":[{"timestamp":1472470996199000,"value":"cs","endpoint":$FE},{"timestamp":1472470996250000,"value":"sr","endpoint":$FE}]}`,
		[]string{
			`{"traceId":"0000000000000001","parentId":"0000000000000002","id":"0000000000000003","name":"get","kind":"CLIENT","localEndpoint":$FE,"timestamp":1472470996199000}`,
			`{"traceId":"0000000000000001","parentId":"0000000000000002","id":"0000000000000003","name":"get","kind":"SERVER","shared":true,"localEndpoint":$FE,"timestamp":1472470996250000}`}},
	{"SpanConverterTest.producer",
		`{"traceId":"1","parentId":"2","id":"3","name":"send","annotations":[{"timestamp":1472470996199000,"value":"ms","endpoint":$FE}]}`,
		[]string{`{"traceId":"0000000000000001","parentId":"0000000000000002","id":"0000000000000003","name":"send","kind":"PRODUCER","localEndpoint":$FE,"timestamp":1472470996199000}`}},
	{"SpanConverterTest.client_missingCs",
		`{"traceId":"1","id":"2","name":"get","timestamp":1472470996199000,"duration":207000,
		 "annotations":[{"timestamp":1472470996406000,"value":"cs","endpoint":$FE}]}`,
		[]string{`{"traceId":"0000000000000001","id":"0000000000000002","name":"get","kind":"CLIENT","localEndpoint":$FE,"timestamp":1472470996199000,"duration":207000}`}},
	{"SpanConverterTest.server_missingSr",
		`{"traceId":"1","id":"2","name":"get","timestamp":1472470996199000,"duration":207000,
		 "annotations":[{"timestamp":1472470996406000,"value":"ss","endpoint":$BE}]}`,
		[]string{`{"traceId":"0000000000000001","id":"0000000000000002","name":"get","kind":"SERVER","localEndpoint":$BE,"timestamp":1472470996199000,"duration":207000}`}},
	{"SpanConverterTest.redundantAddressAnnotations_client",
		`{"traceId":"1","parentId":"2","id":"3","name":"get","timestamp":1472470996199000,"duration":207000,
		 "annotations":[{"timestamp":1472470996199000,"value":"cs","endpoint":$FE},{"timestamp":1472470996406000,"value":"cr","endpoint":$FE}],
		 "binaryAnnotations":[{"key":"ca","value":true,"endpoint":$FE},{"key":"sa","value":true,"endpoint":$FE}]}`,
		[]string{`{"traceId":"0000000000000001","parentId":"0000000000000002","id":"0000000000000003","name":"get","kind":"CLIENT","localEndpoint":$FE,"remoteEndpoint":$FE,
		  "timestamp":1472470996199000,"duration":207000}`}},
	{"SpanConverterTest.redundantServiceNameOnAddressAnnotations_server",
		`{"traceId":"1","parentId":"2","id":"3","name":"get","timestamp":1472470996199000,"duration":207000,
		 "annotations":[{"timestamp":1472470996199000,"value":"sr","endpoint":$FE},{"timestamp":1472470996406000,"value":"ss","endpoint":$FE}],
		 "binaryAnnotations":[{"key":"ca","value":true,"endpoint":$FE},{"key":"sa","value":true,"endpoint":$FE}]}`,
		[]string{`{"traceId":"0000000000000001","parentId":"0000000000000002","id":"0000000000000003","name":"get","kind":"SERVER","localEndpoint":$FE,
		  "timestamp":1472470996199000,"duration":207000}`}},
	{"SpanConverterTest.redundantServiceNameOnAddressAnnotations_serverRetainsClientSocket",
		`{"traceId":"1","parentId":"2","id":"3","name":"get","timestamp":1472470996199000,"duration":207000,
		 "annotations":[{"timestamp":1472470996199000,"value":"sr","endpoint":$BE},{"timestamp":1472470996406000,"value":"ss","endpoint":$BE}],
		 "binaryAnnotations":[{"key":"ca","value":true,"endpoint":{"serviceName":"backend","ipv4":"127.0.0.1"}},{"key":"sa","value":true,"endpoint":$BE}]}`,
		[]string{`{"traceId":"0000000000000001","parentId":"0000000000000002","id":"0000000000000003","name":"get","kind":"SERVER","localEndpoint":$BE,
		  "remoteEndpoint":{"ipv4":"127.0.0.1"},"timestamp":1472470996199000,"duration":207000}`}},
	{"SpanConverterTest.producerAndConsumer",
		`{"traceId":"1","parentId":"2","id":"3","name":"whatev",
		 "annotations":[{"timestamp":1472470996199000,"value":"ms","endpoint":$FE},{"timestamp":1472470996238000,"value":"ws","endpoint":$FE},
		   {"timestamp":1472470996403000,"value":"wr","endpoint":$BE},{"timestamp":1472470996406000,"value":"mr","endpoint":$BE}],
		 "binaryAnnotations":[{"key":"ma","value":true,"endpoint":$KAFKA}]}`,
		[]string{
			`{"traceId":"0000000000000001","parentId":"0000000000000002","id":"0000000000000003","name":"whatev","kind":"PRODUCER","localEndpoint":$FE,"remoteEndpoint":$KAFKA,
			  "timestamp":1472470996199000,"duration":39000}`,
			`{"traceId":"0000000000000001","parentId":"0000000000000002","id":"0000000000000003","name":"whatev","kind":"CONSUMER","shared":true,"localEndpoint":$BE,"remoteEndpoint":$KAFKA,
			  "timestamp":1472470996403000,"duration":3000}`}},
	{"SpanConverterTest.producerAndConsumer_loopback_shared",
		`{"traceId":"1","parentId":"2","id":"3","name":"message",
		 "annotations":[{"timestamp":1472470996199000,"value":"ms","endpoint":$FE},{"timestamp":1472470996238000,"value":"ws","endpoint":$FE},
		   {"timestamp":1472470996403000,"value":"wr","endpoint":$FE},{"timestamp":1472470996406000,"value":"mr","endpoint":$FE}]}`,
		[]string{
			`{"traceId":"0000000000000001","parentId":"0000000000000002","id":"0000000000000003","name":"message","kind":"PRODUCER","localEndpoint":$FE,
			  "timestamp":1472470996199000,"duration":39000}`,
			`{"traceId":"0000000000000001","parentId":"0000000000000002","id":"0000000000000003","name":"message","kind":"CONSUMER","shared":true,"localEndpoint":$FE,
			  "timestamp":1472470996403000,"duration":3000}`}},
	{"SpanConverterTest.onlyAddressAnnotations",
		`{"traceId":"1","parentId":"2","id":"3","name":"rpc","binaryAnnotations":[{"key":"ca","value":true,"endpoint":$FE},{"key":"sa","value":true,"endpoint":$BE}]}`,
		[]string{`{"traceId":"0000000000000001","parentId":"0000000000000002","id":"0000000000000003","name":"rpc","localEndpoint":$FE,"remoteEndpoint":$BE}`}},
	{"SpanConverterTest.dataMissingEndpointGoesOnFirstSpan",
		`{"traceId":"1","id":"2","name":"missing",
		 "annotations":[{"timestamp":1472470996199000,"value":"foo","endpoint":$FE},{"timestamp":1472470996238000,"value":"bar","endpoint":$FE},
		   {"timestamp":1472470996250000,"value":"baz","endpoint":$BE},{"timestamp":1472470996350000,"value":"qux","endpoint":$BE},
		   {"timestamp":1472470996403000,"value":"missing"}],
		 "binaryAnnotations":[{"key":"foo","value":"bar","endpoint":$FE},{"key":"baz","value":"qux","endpoint":$BE},{"key":"missing","value":""}]}`,
		[]string{
			`{"traceId":"0000000000000001","id":"0000000000000002","name":"missing","localEndpoint":$FE,
			  "annotations":[{"timestamp":1472470996199000,"value":"foo"},{"timestamp":1472470996238000,"value":"bar"},{"timestamp":1472470996403000,"value":"missing"}],
			  "tags":{"foo":"bar","missing":""}}`,
			`{"traceId":"0000000000000001","id":"0000000000000002","name":"missing","localEndpoint":$BE,
			  "annotations":[{"timestamp":1472470996250000,"value":"baz"},{"timestamp":1472470996350000,"value":"qux"}],"tags":{"baz":"qux"}}`}},
	{"SpanConverterTest.parsesSharedFlagFromRPCSpan",
		`{"traceId":"1","parentId":"2","id":"3","name":"get","timestamp":10,
		 "annotations":[{"timestamp":20,"value":"sr","endpoint":$BE},{"timestamp":30,"value":"ss","endpoint":$BE}]}`,
		[]string{`{"traceId":"0000000000000001","parentId":"0000000000000002","id":"0000000000000003","name":"get","kind":"SERVER","shared":true,"localEndpoint":$BE,
		  "timestamp":20,"duration":10}`}},
	{"V1SpanConverterTest.convert_ma",
		`{"traceId":"1","id":"2","annotations":[{"timestamp":1472470996199000,"value":"mr","endpoint":$BE}],"binaryAnnotations":[{"key":"ma","value":true,"endpoint":$KAFKA}]}`,
		[]string{`{"traceId":"0000000000000001","id":"0000000000000002","kind":"CONSUMER","timestamp":1472470996199000,"localEndpoint":$BE,"remoteEndpoint":$KAFKA}`}},
	{"V1SpanConverterTest.convert_sa",
		`{"traceId":"1","id":"2","annotations":[{"timestamp":1472470996199000,"value":"cs","endpoint":$FE}],"binaryAnnotations":[{"key":"sa","value":true,"endpoint":$BE}]}`,
		[]string{`{"traceId":"0000000000000001","id":"0000000000000002","kind":"CLIENT","timestamp":1472470996199000,"localEndpoint":$FE,"remoteEndpoint":$BE}`}},
	{"V1SpanConverterTest.convert_ca",
		`{"traceId":"1","id":"2","annotations":[{"timestamp":1472470996199000,"value":"sr","endpoint":$BE}],"binaryAnnotations":[{"key":"ca","value":true,"endpoint":$FE}]}`,
		[]string{`{"traceId":"0000000000000001","id":"0000000000000002","kind":"SERVER","timestamp":1472470996199000,"localEndpoint":$BE,"remoteEndpoint":$FE,"shared":true}`}},
	{"V1SpanConverterTest.convert_ma_incorrect_value",
		`{"traceId":"1","id":"2","annotations":[{"timestamp":1472470996199000,"value":"mr","endpoint":$BE}],"binaryAnnotations":[{"key":"ma","value":"1","endpoint":$KAFKA}]}`,
		[]string{`{"traceId":"0000000000000001","id":"0000000000000002","kind":"CONSUMER","timestamp":1472470996199000,"localEndpoint":$BE,"remoteEndpoint":$KAFKA}`}},
	{"V1SpanConverterTest.convert_sa_incorrect_value",
		`{"traceId":"1","id":"2","annotations":[{"timestamp":1472470996199000,"value":"cs","endpoint":$FE}],"binaryAnnotations":[{"key":"sa","value":"1","endpoint":$BE}]}`,
		[]string{`{"traceId":"0000000000000001","id":"0000000000000002","kind":"CLIENT","timestamp":1472470996199000,"localEndpoint":$FE,"remoteEndpoint":$BE}`}},
	{"V1SpanConverterTest.convert_ca_incorrect_value",
		`{"traceId":"1","id":"2","annotations":[{"timestamp":1472470996199000,"value":"sr","endpoint":$BE}],"binaryAnnotations":[{"key":"ca","value":"1","endpoint":$FE}]}`,
		[]string{`{"traceId":"0000000000000001","id":"0000000000000002","kind":"SERVER","timestamp":1472470996199000,"localEndpoint":$BE,"remoteEndpoint":$FE,"shared":true}`}},
	// The case: zipkin-js with JSON_V1 (its default) reports a
	// server span with sr/ss and no span timestamp: a shared server span.
	{"V1SpanConverter (zipkin-js JSON_V1 server span)",
		`{"traceId":"5af7183fb1d4cf5f","parentId":"6b221d5bc9e6496c","id":"352bff9a74ca9ad2","name":"get",
		 "annotations":[{"timestamp":1700000000000000,"value":"sr","endpoint":{"serviceName":"node-recipe","ipv4":"127.0.0.1"}},
		   {"timestamp":1700000000020000,"value":"ss","endpoint":{"serviceName":"node-recipe","ipv4":"127.0.0.1"}}],
		 "binaryAnnotations":[{"key":"http.path","value":"/recipes/42","endpoint":{"serviceName":"node-recipe","ipv4":"127.0.0.1"}}]}`,
		[]string{`{"traceId":"5af7183fb1d4cf5f","parentId":"6b221d5bc9e6496c","id":"352bff9a74ca9ad2","name":"get","kind":"SERVER","shared":true,
		  "localEndpoint":{"serviceName":"node-recipe","ipv4":"127.0.0.1"},"timestamp":1700000000000000,"duration":20000,"tags":{"http.path":"/recipes/42"}}`}},
}

func jsonValue(t *testing.T, s string) any {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("bad test JSON %v: %s", err, s)
	}
	return v
}

func TestV1SpanConverter(t *testing.T) {
	for _, c := range v1Cases {
		t.Run(c.zipkinTest, func(t *testing.T) {
			spans, err := DecodeV1JSON([]byte("[" + expand(c.v1) + "]"))
			if err != nil {
				t.Fatal(err)
			}
			if len(spans) != len(c.want) {
				var got []string
				for _, s := range spans {
					got = append(got, string(s.JSON))
				}
				t.Fatalf("%d spans, want %d: %s", len(spans), len(c.want), got)
			}
			for i, w := range c.want {
				if got, want := jsonValue(t, string(spans[i].JSON)), jsonValue(t, expand(w)); !reflect.DeepEqual(got, want) {
					t.Errorf("span %d:\n got %s\nwant %s", i, spans[i].JSON, expand(w))
				}
			}
		})
	}
}
