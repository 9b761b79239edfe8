package mask

import "testing"

func TestMessage(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"", ""},
		{"connection refused", "connection refused"},
		{"timeout after 3012 ms", "timeout after <n> ms"},
		{"GET /recipes/42 answered 500", "GET /recipes/<n> answered <n>"},
		{"connect ECONNREFUSED 127.0.0.1:4001", "connect ECONNREFUSED <n>.<n>.<n>.<n>:<n>"},
		{"took 1.25s", "took <n>.<n>s"},
		{"user123 and v2", "user<n> and v<n>"},
		{"trace 7f9c2ab41e00aa11 failed", "trace <hex> failed"},
		{"trace 0000000000000100 failed", "trace <n> failed"}, // all digits: a number
		{"pointer 0x7ffe12ab", "pointer <hex>"},
		{"0xZZ", "<n>xZZ"},
		{"deadbeef and cafebabe stay words", "deadbeef and cafebabe stay words"},
		{"abc1234", "abc<n>"}, // too short for an id: the digits alone
		{"order 3F2504E0-4F89-11D3-9A0C-0305E82C3301 missing", "order <uuid> missing"},
		{"id=123e4567-e89b-12d3-a456-426614174000.", "id=<uuid>."},
		{"123e4567-e89b-12d3-a456-426614174000x", "<hex>-e<n>b-<n>d<n>-a<n>-<n>x"}, // not at a word boundary: words
		{"Error: oh no 17\n    at handler", "Error: oh no <n>\n    at handler"},
		{"héllo 5 wörld", "héllo <n> wörld"},
	} {
		if got := Message(c.in); got != c.want {
			t.Errorf("Message(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

// TestSameTemplate: occurrences of one error that differ only in their
// numbers and ids group together; different errors do not.
func TestSameTemplate(t *testing.T) {
	a := Message("lookup of recipe 42 (req 9b1deb4d-3b7d-4bad-9bdd-2b0d7b3dcb6d) failed after 120 ms")
	b := Message("lookup of recipe 7 (req 1b9d6bcd-bbfd-4b2d-9b5d-ab8dfbbd4bed) failed after 3 ms")
	c := Message("lookup of user 7 (req 1b9d6bcd-bbfd-4b2d-9b5d-ab8dfbbd4bed) failed after 3 ms")
	if a != b || a == c {
		t.Fatalf("%q %q %q", a, b, c)
	}
}

func FuzzMessage(f *testing.F) {
	f.Add("timeout after 3012 ms on 7f9c2ab41e")
	f.Add("123e4567-e89b-12d3-a456-426614174000")
	f.Fuzz(func(t *testing.T, s string) {
		m := Message(s)
		if Message(m) != m {
			t.Fatalf("masking %q twice changes it: %q -> %q", s, m, Message(m))
		}
	})
}
