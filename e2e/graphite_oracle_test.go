package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
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
	g := &graphiteOracle{carbon: freePort(t), dir: t.TempDir()}
	webPort, pickle, cacheQuery := freePort(t), freePort(t), freePort(t)
	g.web = fmt.Sprintf("http://127.0.0.1:%d", webPort)
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
PICKLE_RECEIVER_PORT = %[4]d
CACHE_QUERY_INTERFACE = 127.0.0.1
CACHE_QUERY_PORT = %[5]d
ENABLE_TAGS = True
TAG_BATCH_SIZE = 1000
TAG_UPDATE_INTERVAL = 1
GRAPHITE_URL = %[6]s
CARBON_METRIC_INTERVAL = 0
`, storage, g.dir, g.carbon, pickle, cacheQuery, g.web))
	write("conf/storage-schemas.conf", "[all]\npattern = .*\nretentions = 10s:1d\n")
	write("conf/storage-aggregation.conf", "[all]\npattern = .*\nxFilesFactor = 0\naggregationMethod = average\n")
	write("py/obs_graphite_settings.py", fmt.Sprintf(`SECRET_KEY = 'obs-differential-test'
ALLOWED_HOSTS = ['*']
TIME_ZONE = 'UTC'
STORAGE_DIR = %[1]q
WHISPER_DIR = %[1]q + '/whisper'
LOG_DIR = %[1]q + '/log/webapp'
INDEX_FILE = %[1]q + '/index'
CARBONLINK_HOSTS = ['127.0.0.1:%[2]d']
DEFAULT_XFILES_FACTOR = 0
DEFAULT_CACHE_DURATION = 0
USE_WORKER_POOL = False
TAGDB = 'graphite.tags.localdatabase.LocalDatabaseTagDB'
DATABASES = {'default': {'NAME': %[1]q + '/graphite.db', 'ENGINE': 'django.db.backends.sqlite3'}}
`, storage, cacheQuery))
	env := append(os.Environ(), "PYTHONPATH="+filepath.Join(g.dir, "py"), "GRAPHITE_SETTINGS_MODULE=obs_graphite_settings",
		"DJANGO_SETTINGS_MODULE=graphite.settings")
	// Debian's modules load under Debian's python, whatever python3 is first on PATH.
	migrate := exec.Command("/usr/bin/python3", "-m", "django", "migrate", "--run-syncdb", "-v", "0")
	migrate.Env = env
	if out, err := migrate.CombinedOutput(); err != nil {
		t.Fatalf("create graphite-web's database: %v\n%s", err, out)
	}
	start := func(name string, args ...string) {
		cmd := exec.Command(args[0], args[1:]...)
		cmd.Env = env
		var log bytes.Buffer
		cmd.Stdout, cmd.Stderr = &log, &log
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		if err := cmd.Start(); err != nil {
			t.Fatalf("start %s: %v", name, err)
		}
		t.Cleanup(func() {
			syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
			done := make(chan struct{})
			go func() { cmd.Wait(); close(done) }()
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
				<-done
			}
			if t.Failed() {
				t.Logf("%s output:\n%s", name, tail(log.String(), 3000))
			}
		})
	}
	start("graphite-web", "/usr/bin/python3", "-m", "django", "runserver", "--noreload", fmt.Sprintf("127.0.0.1:%d", webPort))
	start("carbon-cache", "/usr/bin/carbon-cache", "--config="+filepath.Join(g.dir, "conf/carbon.conf"), "--debug", "start")
	deadline := time.Now().Add(60 * time.Second)
	for {
		c, err1 := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", g.carbon))
		resp, err2 := http.Get(g.web + "/version")
		if err1 == nil {
			c.Close()
		}
		if err2 == nil {
			resp.Body.Close()
		}
		if err1 == nil && err2 == nil {
			return g
		}
		if time.Now().After(deadline) {
			t.Fatalf("graphite did not come up: carbon %v, graphite-web %v", err1, err2)
		}
		time.Sleep(100 * time.Millisecond)
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
