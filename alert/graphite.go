package alert

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"time"

	"github.com/obs-dev/obs/configs"
)

// maxRender bounds what is read of a Graphite answer.
const maxRender = 16 << 20

// renderGraphite asks a Graphite render API for target over the last
// window, as Cabot's graphite.get_data does (format=json, basic auth from
// GRAPHITE_USER/GRAPHITE_PASS when either is set), and keeps each series'
// non-null datapoints newer than now-window (Cabot's validate_datapoint).
// It also returns the answer, for a failing result's raw data.
func renderGraphite(ctx context.Context, client *http.Client, api configs.GraphiteAPIConfig, target string, window time.Duration, now time.Time) ([][]float64, []byte, error) {
	base, err := url.Parse(api.URL)
	if err != nil {
		return nil, nil, errors.New("Error getting data from Graphite: bad graphite_api url")
	}
	u := base.JoinPath("render")
	q := url.Values{"target": {target}, "format": {"json"},
		"from": {fmt.Sprintf("-%ds", int64(math.Ceil(window.Seconds())))}, "until": {"now"}}
	u.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(ctx, "GET", u.String(), nil)
	if err != nil {
		return nil, nil, fmt.Errorf("Error getting data from Graphite: %w", err)
	}
	if api.User != "" || api.Password != "" {
		req.SetBasicAuth(api.User, api.Password)
	}
	resp, err := client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // its message repeats the URL, which may carry a secret
		}
		return nil, nil, fmt.Errorf("Error getting data from Graphite: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxRender))
	if err != nil {
		return nil, nil, fmt.Errorf("Error getting data from Graphite: %w", err)
	}
	if resp.StatusCode != 200 {
		return nil, body, fmt.Errorf("Error getting data from Graphite: HTTP %s", resp.Status)
	}
	var answer []struct {
		Target     string               `json:"target"`
		Datapoints [][2]json.RawMessage `json:"datapoints"`
	}
	if err := json.Unmarshal(body, &answer); err != nil {
		return nil, body, fmt.Errorf("Error getting data from Graphite: not a render API answer: %w", err)
	}
	oldest := now.Add(-window).Unix()
	out := make([][]float64, 0, len(answer))
	for _, s := range answer {
		var vals []float64
		for _, dp := range s.Datapoints {
			var v *float64
			var ts float64
			if json.Unmarshal(dp[0], &v) != nil || v == nil || json.Unmarshal(dp[1], &ts) != nil {
				continue
			}
			if int64(ts) > oldest {
				vals = append(vals, *v)
			}
		}
		out = append(out, vals)
	}
	return out, body, nil
}
