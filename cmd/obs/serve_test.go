package main

import "testing"

func TestCheckExposure(t *testing.T) {
	for addr, wantErr := range map[string]bool{"127.0.0.1:8000": false, "localhost:8000": false, "[::1]:8000": false,
		"0.0.0.0:8000": true, "192.0.2.10:8000": true, ":8000": true} {
		if err := checkExposure("--http", addr, ""); (err != nil) != wantErr {
			t.Errorf("%s without token: %v", addr, err)
		}
		if err := checkExposure("--http", addr, "tok"); err != nil {
			t.Errorf("%s with token: %v", addr, err)
		}
	}
}
