// Package kqltest holds the KQL table obs's evaluator is tested against:
// a small corpus of events and queries with the events each must match.
// Compilers of KQL to other stores' languages hold themselves to the same
// table, so that a query finds the same events wherever the logs live.
package kqltest

import (
	"fmt"
	"strings"
	"time"
)

// Base is the time the corpus is written around.
var Base = time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)

// Corpus is the seed's event shape plus edge cases; event i has "n": i.
var Corpus = []string{
	`{"@timestamp":"2026-11-20T12:00:00Z","app":"web-api","severity":"error","type":"http","message":"Connection refused by recipe-api","fields":{"path":"/recipes/42","status":500,"latency":120.5}}`,
	`{"@timestamp":"2026-11-20T12:00:01Z","app":"web-api","severity":"warn","type":"http","message":"slow response from recipe-api","fields":{"path":"/recipes/7","status":200,"latency":900}}`,
	`{"@timestamp":"2026-11-20T12:00:02Z","app":"web-api","severity":"info","type":"http","message":"request done","fields":{"path":"/recipes/42","status":200,"latency":12}}`,
	`{"@timestamp":"2026-11-20T12:00:03Z","app":"recipe-api","severity":"error","type":"db","message":"refused connection to postgres","fields":{"status":503}}`,
	`{"@timestamp":"2026-11-20T12:00:04Z","app":"recipe-api","severity":"debug","type":"db","message":"query ok","tags":["slow","db"],"user":null}`,
	`{"@timestamp":"2026-11-09T12:00:00Z","app":"web-api","severity":"info","type":"cron","message":"nightly job","fields":{"status":"200"},"weird key":"a:b(c)"}`,
	`{"@timestamp":"2026-11-20T12:00:05Z","app":"Web-API","severity":"ERROR","message":"case differs","ok":true,"traceId":"00000000000000aa"}`,
}

// Case is a query and the events (indexes into Corpus) it must match.
type Case struct {
	Q    string
	Want []int
}

// Cases are the queries the evaluator is held to; run over Corpus with now
// at Base plus an hour, each must match exactly its Want.
var Cases = []Case{
	{``, []int{0, 1, 2, 3, 4, 5, 6}},
	{`*`, []int{0, 1, 2, 3, 4, 5, 6}},
	{`app:"web-api" AND (severity:error OR severity:warn)`, []int{0, 1}},
	{`app:web-api and severity:(error or warn)`, []int{0, 1}},
	{`app:web-api AND NOT severity:info`, []int{0, 1}},
	{`not app:web-api`, []int{3, 4, 6}},
	{`severity:error or severity:warn and app:recipe-api`, []int{0, 3}}, // AND binds tighter
	{`(severity:error or severity:warn) and app:recipe-api`, []int{3}},
	{`app:WEB-API`, []int{}},  // keywords are exact
	{`app:Web-API`, []int{6}}, // case-sensitive
	{`app:web*`, []int{0, 1, 2, 5}},
	{`app:*api`, []int{0, 1, 2, 3, 4, 5}},
	{`app:w*-a*i`, []int{0, 1, 2, 5}},
	{`fields.path:"/recipes/42"`, []int{0, 2}},
	{`fields.status:200`, []int{1, 2, 5}},
	{`fields.status >= 500`, []int{0, 3}},
	{`fields.status < 300`, []int{1, 2}},
	{`fields.latency > 100`, []int{0, 1}},
	{`fields.latency <= 12`, []int{2}},
	{`fields.*:200`, []int{1, 2, 5}},
	{`fields.latency:*`, []int{0, 1, 2}},
	{`user:*`, []int{}}, // null is no value
	{`tags:slow`, []int{4}},
	{`tags:(slow and db)`, []int{4}},
	{`message:refused`, []int{0, 3}},
	{`message:"connection refused"`, []int{0}},
	{`message:"refused connection"`, []int{3}},
	{`message:connection refused`, []int{0, 3}}, // unquoted: match any word
	{`message:recipe*`, []int{0, 1}},
	{`refused`, []int{0, 3}},
	{`"recipe-api"`, []int{0, 1, 3, 4}}, // free text: exact value or the phrase in text
	{`recipe-api`, []int{0, 1, 3, 4}},
	{`"refused by recipe"`, []int{0}},
	{`ok:true`, []int{6}},
	{`weird key:a\:b\(c\)`, []int{5}},
	{`"weird key":"a:b(c)"`, []int{5}},
	{`@timestamp < "2026-11-19"`, []int{5}},
	{`@timestamp >= "2026-11-20T12:00:03Z"`, []int{3, 4, 6}},
	{`@timestamp > "2026-11-20T12:00:03Z" and @timestamp < "2026-11-20T12:00:05Z"`, []int{4}},
	{`@timestamp < now-1d`, []int{5}},
	{`@timestamp >= now-1d/d`, []int{0, 1, 2, 3, 4, 6}},
	{`traceId:*`, []int{6}},
	{`NOT (app:web-api or app:recipe-api)`, []int{6}},
	{`app:web-api AND NOT message:"request done" AND NOT type:cron`, []int{0, 1}},
	{`type:http and not fields.latency > 100`, []int{2}},
	{`n:3`, []int{3}},
	{`severity:(error OR warn) AND NOT app:(recipe-api or Web-API)`, []int{0, 1}},
}

func init() {
	for i := range Corpus {
		Corpus[i] = strings.Replace(Corpus[i], "{", fmt.Sprintf(`{"n":%d,`, i), 1)
	}
}
