package alert

import (
	"errors"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"time"

	"github.com/twilio/twilio-go/client"
	openapi "github.com/twilio/twilio-go/rest/api/v2010"
)

// Twilio sends SMS and calls through twilio-go.
type Twilio struct {
	// api is twilio-go's service for the 2010 REST API alone: its umbrella
	// RestClient links every Twilio product's package, about a third of
	// obs's compile time.
	api  *openapi.ApiService
	from string
	// Backoff is the first wait before retrying a rate-limited (20429)
	// request; it doubles for each of the three retries.
	Backoff time.Duration
}

// rewrite sends twilio-go's requests to another base URL (api_url), so that
// a stand-in can answer the same REST calls.
type rewrite struct {
	base *url.URL
	next http.RoundTripper
}

func (r rewrite) RoundTrip(req *http.Request) (*http.Response, error) {
	req = req.Clone(req.Context())
	req.URL.Scheme, req.URL.Host = r.base.Scheme, r.base.Host
	req.Host = r.base.Host
	return r.next.RoundTrip(req)
}

// NewTwilio builds a sender; apiURL "" means api.twilio.com.
func NewTwilio(sid, token, from, apiURL string) (*Twilio, error) {
	if sid == "" || token == "" || from == "" {
		return nil, errors.New("twilio needs account_sid, auth_token and from (TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN, TWILIO_OUTGOING_NUMBER)")
	}
	hc := &http.Client{Timeout: 15 * time.Second}
	if apiURL != "" {
		u, err := url.Parse(apiURL)
		if err != nil || u.Host == "" {
			return nil, fmt.Errorf("twilio.api_url %q is not a URL", apiURL)
		}
		hc.Transport = rewrite{base: u, next: http.DefaultTransport}
	}
	c := &client.Client{Credentials: client.NewCredentials(sid, token), HTTPClient: hc}
	c.SetAccountSid(sid)
	return &Twilio{api: openapi.NewApiServiceWithClient(c), from: from, Backoff: time.Second}, nil
}

// retry calls f again after a backoff while Twilio answers 20429 (too many
// requests); other errors return at once.
func (t *Twilio) retry(f func() (string, error)) (string, error) {
	wait := t.Backoff
	for attempt := 0; ; attempt++ {
		sid, err := f()
		var te *client.TwilioRestError
		if err == nil || !errors.As(err, &te) || te.Code != 20429 || attempt == 3 {
			return sid, err
		}
		time.Sleep(wait)
		wait *= 2
	}
}

// SMS sends a text message and returns its SID.
func (t *Twilio) SMS(to, body string) (string, error) {
	return t.retry(func() (string, error) {
		p := &openapi.CreateMessageParams{}
		p.SetTo(to).SetFrom(t.from).SetBody(body)
		m, err := t.api.CreateMessage(p)
		if err != nil {
			return "", err
		}
		if m.Sid == nil {
			return "", nil
		}
		return *m.Sid, nil
	})
}

// Call places a phone call that says text (inline TwiML <Say>), so no
// callback URL has to be reachable from Twilio as Cabot's plugin needs.
func (t *Twilio) Call(to, text string) (string, error) {
	// Said twice: the first words are often lost while someone wakes up.
	twiml := `<Response><Say loop="2">` + html.EscapeString(text) + "</Say></Response>"
	return t.retry(func() (string, error) {
		p := &openapi.CreateCallParams{}
		p.SetTo(to).SetFrom(t.from).SetTwiml(twiml)
		c, err := t.api.CreateCall(p)
		if err != nil {
			return "", err
		}
		if c.Sid == nil {
			return "", nil
		}
		return *c.Sid, nil
	})
}

// channelResult records a Twilio answer.
func channelResult(channel, to, sid string, err error) ChannelResult {
	r := ChannelResult{Channel: channel, To: to, SID: sid, OK: err == nil}
	if err != nil {
		r.Error = err.Error()
		var te *client.TwilioRestError
		if errors.As(err, &te) {
			r.Code = te.Code
			r.Error = fmt.Sprintf("Twilio error %d: %s", te.Code, te.Message)
		}
	}
	return r
}
