package demo

import (
	"fmt"

	"github.com/obs-dev/obs/configs"
)

// Services is the services: block that makes obs check the demo, for a
// /health at healthAddr: web-api's health (CRITICAL when DOWN, WARNING
// when DEGRADED) and error log events, and recipe-api's latency as
// web-api sees it. Alerts go to obs's log only. `obs serve --demo` adds
// it; `obs demo --print-config` prints it for a config file.
func Services(healthAddr string) string {
	return fmt.Sprintf(`services:
  - name: web-api
    channels: [log]
    checks:
      - {name: web-api-health, type: http, endpoint: "http://%[1]s/health", status_code: 200, importance: critical, interval: 5s}
      - {name: web-api-degraded, type: http, endpoint: "http://%[1]s/health", text_match: "^OK$", importance: warning, interval: 5s}
      - {name: web-api-errors, type: log, query: "app:web-api and severity:error", window: 1m, check_type: ">", value: 5, importance: error, interval: 10s}
  - name: recipe-api
    channels: [log]
    checks:
      - {name: recipe-latency, type: metric, target: "stats.timers.web-api.outbound.recipe-api.request-time.upper_90",
         window: 30s, check_type: ">", value: 200, importance: warning, interval: 10s}
`, healthAddr)
}

// AddServices adds Services(healthAddr) to cfg. A service or check the
// config already names is left as the config has it.
func AddServices(cfg *configs.Config, healthAddr string) error {
	demo := configs.Default()
	if err := configs.Parse([]byte(Services(healthAddr)), &demo); err != nil {
		return fmt.Errorf("demo services: %w", err)
	}
	names := map[string]bool{}
	for _, s := range cfg.Services {
		names["service "+s.Name] = true
		for _, c := range s.Checks {
			names["check "+c.Name] = true
		}
	}
next:
	for _, s := range demo.Services {
		if names["service "+s.Name] {
			continue
		}
		for _, c := range s.Checks {
			if names["check "+c.Name] {
				continue next
			}
		}
		cfg.Services = append(cfg.Services, s)
	}
	return nil
}
