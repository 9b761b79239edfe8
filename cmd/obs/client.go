package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/obs-dev/obs/send"
)

// serverFlag and outputFlag are shared by every query command.
var (
	serverFlag = &cli.StringFlag{Name: "server", Value: "http://127.0.0.1:8000", EnvVars: []string{"OBS_SERVER"}, Usage: "obs server to query"}
	// tokenFlag reads the same variable obs serve does, so one export
	// serves both.
	tokenFlag  = &cli.StringFlag{Name: "token", EnvVars: []string{"OBS_AUTH_TOKEN"}, Usage: "the server's --auth-token, when it has one"}
	outputFlag = &cli.StringFlag{Name: "output", Aliases: []string{"o"}, Value: "text", Usage: "text or json"}
)

func jsonOutput(c *cli.Context) (bool, error) {
	switch c.String("output") {
	case "json":
		return true, nil
	case "text", "":
		return false, nil
	}
	return false, fmt.Errorf("--output must be text or json, got %q", c.String("output"))
}

var httpClient = &http.Client{Timeout: 60 * time.Second}

// apiGet calls the server and decodes its JSON answer into out. API errors
// come back with the server's message (and, for KQL, a pointer to the spot).
func apiGet(c *cli.Context, path string, params url.Values, out any) error {
	return apiCall(c, path, params, out, false)
}

// apiGetAny is apiGet for a route whose error statuses still carry the
// answer (/health is 503 when DOWN).
func apiGetAny(c *cli.Context, path string, params url.Values, out any) error {
	return apiCall(c, path, params, out, true)
}

func apiCall(c *cli.Context, path string, params url.Values, out any, anyStatus bool) error {
	u := strings.TrimRight(c.String("server"), "/") + path
	if len(params) > 0 {
		u += "?" + params.Encode()
	}
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		return fmt.Errorf("--server: %w", err)
	}
	req.Header = authHeader(c)
	resp, err := httpClient.Do(req)
	if err != nil {
		return fmt.Errorf("cannot reach obs at %s (is `obs serve` running? set --server or OBS_SERVER): %w", c.String("server"), err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("read answer from %s: %w", u, err)
	}
	if resp.StatusCode >= 300 && !anyStatus {
		var e struct {
			Error    string `json:"error"`
			Position *int   `json:"position"`
		}
		if json.Unmarshal(body, &e) == nil && e.Error != "" {
			if e.Position != nil && params.Get("q") != "" {
				return fmt.Errorf("%s\n  %s\n  %s^", e.Error, params.Get("q"), strings.Repeat(" ", *e.Position))
			}
			return fmt.Errorf("%s", e.Error)
		}
		return fmt.Errorf("%s: %s", resp.Status, strings.TrimSpace(string(body)))
	}
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("decode answer from %s: %w", u, err)
	}
	return nil
}

// authHeader carries --token (OBS_AUTH_TOKEN) to the server.
func authHeader(c *cli.Context) http.Header {
	h := http.Header{}
	if t := c.String("token"); t != "" {
		h.Set("Authorization", "Bearer "+t)
	}
	return h
}

func printJSON(c *cli.Context, v any) error {
	enc := json.NewEncoder(c.App.Writer)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// colorOK says whether stdout is a terminal that wants colour.
func colorOK() bool {
	if os.Getenv("NO_COLOR") != "" {
		return false
	}
	st, err := os.Stdout.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// intakeAddr is where `obs logs send` and `obs metrics send` send: the
// flag (or the env var obs serve reads too), else the --server host on the
// protocol's default port.
func intakeAddr(c *cli.Context, flag string, port int) string {
	if a := c.String(flag); a != "" {
		return a
	}
	host := "127.0.0.1"
	if u, err := url.Parse(c.String("server")); err == nil && u.Hostname() != "" && u.Hostname() != "localhost" {
		// localhost may resolve to ::1 first, where obs does not listen
		// by default; a UDP send there would vanish silently.
		host = u.Hostname()
	}
	return net.JoinHostPort(host, strconv.Itoa(port))
}

func dialIntake(c *cli.Context, flag string, port int) (*send.Conn, error) {
	network := "udp"
	if c.Bool("tcp") {
		network = "tcp"
	}
	return send.Dial(network, intakeAddr(c, flag, port))
}

// stdinLines reads the non-empty lines of stdin.
func stdinLines() ([]string, error) {
	var lines []string
	sc := bufio.NewScanner(os.Stdin)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if l := strings.TrimRight(sc.Text(), "\r"); strings.TrimSpace(l) != "" {
			lines = append(lines, l)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read stdin: %w", err)
	}
	return lines, nil
}
