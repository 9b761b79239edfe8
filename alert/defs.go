package alert

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"gopkg.in/yaml.v3"

	"github.com/obs-dev/obs/alert/atomicfile"
	"github.com/obs-dev/obs/alert/redact"
	"github.com/obs-dev/obs/configs"
)

// storedVersion is the format of services.yaml: services created through
// the API (and obs checks add), with the keys of obs.yaml's services.
const storedVersion = 1

type storedFile struct {
	Version  int                     `yaml:"version"`
	Services []configs.ServiceConfig `yaml:"services"`
}

func (e *Engine) storedPath() string { return filepath.Join(e.opts.DataDir, "services.yaml") }

// loadStored reads services.yaml. Unlike state.json it is never moved
// aside: it is what people typed, and obs refuses to start rather than
// run without it.
func (e *Engine) loadStored() error {
	b, err := os.ReadFile(e.storedPath())
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read stored services: %w", err)
	}
	var f storedFile
	if err := yaml.Unmarshal(b, &f); err != nil {
		return fmt.Errorf("read stored services %s: %w", e.storedPath(), err)
	}
	if f.Version > storedVersion {
		return fmt.Errorf("stored services %s are format %d; this obs reads up to %d", e.storedPath(), f.Version, storedVersion)
	}
	e.stored = f.Services
	return nil
}

func (e *Engine) saveStoredLocked(services []configs.ServiceConfig) error {
	b, err := yaml.Marshal(storedFile{Version: storedVersion, Services: services})
	if err != nil {
		return fmt.Errorf("encode stored services: %w", err)
	}
	head := []byte("# Services and checks created through obs's API (obs checks add); obs rewrites this file.\n")
	if err := atomicfile.Write(e.storedPath(), append(head, b...)); err != nil {
		return fmt.Errorf("store services: %w", err)
	}
	return nil
}

// namesExceptLocked are the names taken by every service but skip.
func (e *Engine) namesExceptLocked(skip string) configs.ServiceNames {
	names := configs.NewServiceNames()
	all := append(append([]configs.ServiceConfig(nil), e.cfg.Services...), e.stored...)
	for _, s := range all {
		if s.Name == skip {
			continue
		}
		names.Services[s.Name] = true
		for _, c := range s.Checks {
			names.Checks[c.Name] = true
		}
	}
	return names
}

// changeStored validates, stores and runs a new list of stored services.
// The file is written before anything runs: a change that cannot be kept
// is refused, not half made.
func (e *Engine) changeStored(services []configs.ServiceConfig) error {
	e.mu.Lock()
	if err := e.saveStoredLocked(services); err != nil {
		e.mu.Unlock()
		return err
	}
	e.stored = services
	cfg := e.cfg
	e.mu.Unlock()
	return e.configure(cfg)
}

func (e *Engine) storedIndexLocked(name string) (int, error) {
	if def := e.services[name]; def != nil && def.fromFile {
		return -1, fmt.Errorf("service %s is %w", name, ErrReadOnly)
	}
	i := slices.IndexFunc(e.stored, func(s configs.ServiceConfig) bool { return s.Name == name })
	if i < 0 {
		return -1, fmt.Errorf("no service named %q: %w", name, ErrNotFound)
	}
	return i, nil
}

func invalid(err error) error { return fmt.Errorf("%w: %w", ErrInvalid, err) }

// CreateService adds a service from its definition (YAML or JSON with the
// keys of obs.yaml's services), validated as the file is.
func (e *Engine) CreateService(body []byte) (configs.ServiceConfig, error) {
	e.mu.Lock()
	cfg := e.cfg
	names := e.namesExceptLocked("")
	s, err := configs.ParseService(body, &cfg, names)
	if err == nil && (e.services[s.Name] != nil || slices.ContainsFunc(e.stored, func(x configs.ServiceConfig) bool { return x.Name == s.Name })) {
		err = fmt.Errorf("%w: service %s exists", ErrConflict, s.Name)
	}
	services := append(slices.Clone(e.stored), s)
	e.mu.Unlock()
	if err != nil {
		if errors.Is(err, ErrConflict) {
			return s, err
		}
		return s, invalid(err)
	}
	return s, e.changeStored(services)
}

// UpdateService replaces a stored service's definition (it may rename it).
// Secrets shown redacted and sent back unchanged keep their stored value.
func (e *Engine) UpdateService(name string, body []byte) (configs.ServiceConfig, error) {
	e.mu.Lock()
	i, err := e.storedIndexLocked(name)
	if err != nil {
		e.mu.Unlock()
		return configs.ServiceConfig{}, err
	}
	cfg := e.cfg
	s, err := configs.ParseService(body, &cfg, e.namesExceptLocked(name))
	restoreServiceSecrets(&s, e.stored[i])
	services := slices.Clone(e.stored)
	services[i] = s
	e.mu.Unlock()
	if err != nil {
		return s, invalid(err)
	}
	return s, e.changeStored(services)
}

// DeleteService removes a stored service; its history stays in the state
// until a service of that name exists again.
func (e *Engine) DeleteService(name string) error {
	e.mu.Lock()
	i, err := e.storedIndexLocked(name)
	if err != nil {
		e.mu.Unlock()
		return err
	}
	services := slices.Delete(slices.Clone(e.stored), i, i+1)
	e.mu.Unlock()
	return e.changeStored(services)
}

// checkIndexLocked finds a check of a stored service.
func (e *Engine) checkIndexLocked(check string) (int, int, error) {
	c := e.checks[check]
	if c == nil {
		for i, s := range e.stored { // stored but not running
			if j := slices.IndexFunc(s.Checks, func(x configs.CheckConfig) bool { return x.Name == check }); j >= 0 {
				return i, j, nil
			}
		}
		return -1, -1, fmt.Errorf("no check named %q: %w", check, ErrNotFound)
	}
	i, err := e.storedIndexLocked(c.Service)
	if err != nil {
		return -1, -1, fmt.Errorf("check %s: %w", check, err)
	}
	j := slices.IndexFunc(e.stored[i].Checks, func(x configs.CheckConfig) bool { return x.Name == check })
	return i, j, nil
}

// AddCheck adds a check to a stored service.
func (e *Engine) AddCheck(service string, body []byte) (configs.CheckConfig, error) {
	e.mu.Lock()
	i, err := e.storedIndexLocked(service)
	if err != nil {
		e.mu.Unlock()
		return configs.CheckConfig{}, err
	}
	cfg := e.cfg
	c, err := configs.ParseCheck(body, &cfg, e.namesExceptLocked(""))
	services := slices.Clone(e.stored)
	services[i].Checks = append(slices.Clone(services[i].Checks), c)
	e.mu.Unlock()
	if err != nil {
		return c, invalid(err)
	}
	return c, e.changeStored(services)
}

// UpdateCheck replaces a check of a stored service (active: false
// disables it).
func (e *Engine) UpdateCheck(name string, body []byte) (configs.CheckConfig, error) {
	e.mu.Lock()
	i, j, err := e.checkIndexLocked(name)
	if err != nil {
		e.mu.Unlock()
		return configs.CheckConfig{}, err
	}
	cfg := e.cfg
	names := e.namesExceptLocked("")
	delete(names.Checks, name)
	c, err := configs.ParseCheck(body, &cfg, names)
	restoreCheckSecrets(&c, e.stored[i].Checks[j])
	services := slices.Clone(e.stored)
	services[i].Checks = slices.Clone(services[i].Checks)
	services[i].Checks[j] = c
	e.mu.Unlock()
	if err != nil {
		return c, invalid(err)
	}
	return c, e.changeStored(services)
}

// DeleteCheck removes a check from a stored service.
func (e *Engine) DeleteCheck(name string) error {
	e.mu.Lock()
	i, j, err := e.checkIndexLocked(name)
	if err != nil {
		e.mu.Unlock()
		return err
	}
	services := slices.Clone(e.stored)
	services[i].Checks = slices.Delete(slices.Clone(services[i].Checks), j, j+1)
	e.mu.Unlock()
	return e.changeStored(services)
}

// ServiceDefinition is a service's definition as the API shows it:
// secrets redacted, and whether it is read-only (from obs.yaml).
type ServiceDefinition struct {
	Source     string                `json:"source"` // config (read-only) or api
	Definition configs.ServiceConfig `json:"definition"`
}

// Definition returns a service's definition, secrets redacted.
func (e *Engine) Definition(name string) (ServiceDefinition, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	var s configs.ServiceConfig
	src := SourceAPI
	if def := e.services[name]; def != nil {
		s = def.cfg
		if def.fromFile {
			src = SourceConfig
		}
	} else if i := slices.IndexFunc(e.stored, func(x configs.ServiceConfig) bool { return x.Name == name }); i >= 0 {
		s = e.stored[i]
	} else {
		return ServiceDefinition{}, fmt.Errorf("no service named %q: %w", name, ErrNotFound)
	}
	return ServiceDefinition{Definition: redactService(s), Source: src}, nil
}

// Where a service was declared.
const (
	SourceConfig = "config"
	SourceAPI    = "api"
)

func redactService(s configs.ServiceConfig) configs.ServiceConfig {
	s.Webhook = redact.URL(s.Webhook)
	s.Checks = slices.Clone(s.Checks)
	for i := range s.Checks {
		s.Checks[i] = redactCheck(s.Checks[i])
	}
	return s
}

func redactCheck(c configs.CheckConfig) configs.CheckConfig {
	c.Password = redact.Secret(c.Password)
	c.Endpoint = redact.URL(c.Endpoint)
	if c.GraphiteAPI != nil {
		g := *c.GraphiteAPI
		g.URL, g.Password = redact.URL(g.URL), redact.Secret(g.Password)
		c.GraphiteAPI = &g
	}
	return c
}

// restoreServiceSecrets puts back the stored secrets that an edit sent
// back redacted, as GET showed them.
func restoreServiceSecrets(s *configs.ServiceConfig, old configs.ServiceConfig) {
	if s.Webhook != "" && s.Webhook == redact.URL(old.Webhook) {
		s.Webhook = old.Webhook
	}
	for i := range s.Checks {
		for _, o := range old.Checks {
			if o.Name == s.Checks[i].Name {
				restoreCheckSecrets(&s.Checks[i], o)
			}
		}
	}
}

func restoreCheckSecrets(c *configs.CheckConfig, old configs.CheckConfig) {
	if c.Password == redact.Mask {
		c.Password = old.Password
	}
	if c.Endpoint != "" && c.Endpoint == redact.URL(old.Endpoint) {
		c.Endpoint = old.Endpoint
	}
	if c.GraphiteAPI != nil && old.GraphiteAPI != nil {
		if c.GraphiteAPI.Password == redact.Mask {
			c.GraphiteAPI.Password = old.GraphiteAPI.Password
		}
		if c.GraphiteAPI.URL == redact.URL(old.GraphiteAPI.URL) {
			c.GraphiteAPI.URL = old.GraphiteAPI.URL
		}
	}
}
