package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// graphiteOracle is Debian's graphite-web and carbon-cache, started on free
// loopback ports with a throw-away config: storage schema 10s:1d,
// xFilesFactor 0, tags on. The differential tests hold obs to its answers.
type graphiteOracle struct {
	carbon int    // plaintext port
	web    string // http://127.0.0.1:port
	dir    string
}

const graphiteInstall = "apt-get install -y graphite-web graphite-carbon python3-whisper (.ci/run does)"

func startGraphite(t *testing.T) *graphiteOracle {
	t.Helper()
	for _, p := range []string{"/usr/bin/carbon-cache", "/usr/lib/python3/dist-packages/graphite/render/functions.py", "/usr/lib/python3/dist-packages/whisper.py"} {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("graphite-web, carbon or whisper is missing (%s): %s", p, graphiteInstall)
		}
	}
	// The test holds carbon's line port and graphite-web's port; both
	// bind them with SO_REUSEPORT. Carbon's cache-query port is any free
	// one, read from its log. The pickle receiver is off.
	hold := func() *portHold {
		h, err := holdPort(t, "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	lineHold, webHold := hold(), hold()
	_, linePort, _ := net.SplitHostPort(lineHold.addr)
	_, webPort, _ := net.SplitHostPort(webHold.addr)
	g := &graphiteOracle{dir: t.TempDir(), web: "http://" + webHold.addr}
	g.carbon, _ = strconv.Atoi(linePort)
	storage := filepath.Join(g.dir, "storage")
	for _, d := range []string{"conf", "storage/whisper", "storage/log/webapp", "storage/lists", "py"} {
		if err := os.MkdirAll(filepath.Join(g.dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	write := func(name, body string) {
		if err := os.WriteFile(filepath.Join(g.dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("conf/carbon.conf", fmt.Sprintf(`[cache]
STORAGE_DIR = %[1]s/
LOCAL_DATA_DIR = %[1]s/whisper/
WHITELISTS_DIR = %[1]s/lists/
CONF_DIR = %[2]s/conf/
LOG_DIR = %[1]s/log/
PID_DIR = %[1]s/
DATABASE = whisper
USER =
MAX_CACHE_SIZE = inf
MAX_UPDATES_PER_SECOND = inf
MAX_CREATES_PER_MINUTE = inf
LINE_RECEIVER_INTERFACE = 127.0.0.1
LINE_RECEIVER_PORT = %[3]d
ENABLE_UDP_LISTENER = False
PICKLE_RECEIVER_INTERFACE = 127.0.0.1
PICKLE_RECEIVER_PORT = 0
CACHE_QUERY_INTERFACE = 127.0.0.1
CACHE_QUERY_PORT = 0
ENABLE_TAGS = True
TAG_BATCH_SIZE = 1000
TAG_UPDATE_INTERVAL = 1
GRAPHITE_URL = %[4]s
CARBON_METRIC_INTERVAL = 0
`, storage, g.dir, g.carbon, g.web))
	write("conf/storage-schemas.conf", "[all]\npattern = .*\nretentions = 10s:1d\n")
	write("conf/storage-aggregation.conf", "[all]\npattern = .*\nxFilesFactor = 0\naggregationMethod = average\n")
	settings := func(cacheQuery string) string {
		return fmt.Sprintf(`SECRET_KEY = 'obs-differential-test'
ALLOWED_HOSTS = ['*']
TIME_ZONE = 'UTC'
STORAGE_DIR = %[1]q
WHISPER_DIR = %[1]q + '/whisper'
LOG_DIR = %[1]q + '/log/webapp'
INDEX_FILE = %[1]q + '/index'
CARBONLINK_HOSTS = [%[2]s]
DEFAULT_XFILES_FACTOR = 0
DEFAULT_CACHE_DURATION = 0
USE_WORKER_POOL = False
TAGDB = 'graphite.tags.localdatabase.LocalDatabaseTagDB'
DATABASES = {'default': {'NAME': %[1]q + '/graphite.db', 'ENGINE': 'django.db.backends.sqlite3'}}
`, storage, cacheQuery)
	}
	write("py/obs_graphite_settings.py", settings(""))
	env := append(os.Environ(), "PYTHONPATH="+filepath.Join(g.dir, "py"), "GRAPHITE_SETTINGS_MODULE=obs_graphite_settings",
		"DJANGO_SETTINGS_MODULE=graphite.settings")
	// Debian's modules load under Debian's python, whatever python3 is first on PATH.
	migrate := exec.Command("/usr/bin/python3", "-m", "django", "migrate", "--run-syncdb", "-v", "0")
	migrate.Env = env
	if out, err := migrate.CombinedOutput(); err != nil {
		t.Fatalf("create graphite-web's database: %v\n%s", err, out)
	}
	// start runs a daemon; its output is watched for a line matching
	// ready, whose submatches it returns.
	start := func(name, ready string, args ...string) ([]string, <-chan struct{}) {
		cmd := exec.Command(args[0], args[1:]...)
		cmd.Env = env
		log := newLineWatch(ready)
		cmd.Stdout, cmd.Stderr = log, log
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		if err := cmd.Start(); err != nil {
			t.Fatalf("start %s: %v", name, err)
		}
		exited := make(chan struct{})
		go func() { cmd.Wait(); close(exited) }()
		t.Cleanup(func() {
			syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
			select {
			case <-exited:
			case <-time.After(10 * time.Second):
				syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
				<-exited
			}
			if t.Failed() {
				t.Logf("%s output:\n%s", name, tail(log.String(), 3000))
			}
		})
		return log.wait(t, name, exited), exited
	}
	m, carbonExited := start("carbon-cache", `ServerFactory starting on (\d+)`,
		"/usr/bin/carbon-cache", "--config="+filepath.Join(g.dir, "conf/carbon.conf"), "--debug", "start")
	cacheQuery := m[1]
	write("py/obs_graphite_settings.py", settings("'127.0.0.1:"+cacheQuery+"'"))
	testdata, _ := filepath.Abs("testdata/graphite")
	start("graphite-web", `^ready$`, "/usr/bin/python3", filepath.Join(testdata, "web.py"), webPort)
	// carbon's receiver starts listening once its reactor runs.
	for {
		c, err := net.Dial("tcp", lineHold.addr)
		if err == nil {
			c.Close()
			return g
		}
		select {
		case <-carbonExited:
			t.Fatal("carbon-cache exited")
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

// sendCarbon writes plaintext lines to a carbon port over TCP.
func sendCarbon(t *testing.T, port int, lines []string) {
	t.Helper()
	c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := io.WriteString(c, strings.Join(lines, "\n")+"\n"); err != nil {
		t.Fatal(err)
	}
}

// renderJSON is one /render?format=json answer; nil values are nulls.
type renderJSON []struct {
	Target     string        `json:"target"`
	Datapoints [][2]*float64 `json:"datapoints"`
}

// renderRaw fetches /render from base with the given parameters.
func renderRaw(base string, params url.Values) (renderJSON, string, error) {
	params.Set("format", "json")
	resp, err := http.Get(base + "/render?" + params.Encode())
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		return nil, string(b), fmt.Errorf("HTTP %d: %s", resp.StatusCode, tail(string(b), 400))
	}
	var out renderJSON
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, string(b), fmt.Errorf("not render JSON: %v", err)
	}
	return out, string(b), nil
}
