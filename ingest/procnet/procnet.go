// Package procnet reads Linux's per-socket UDP counters.
package procnet

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// UDPDrops returns the receive drops Linux counts for the UDP socket bound
// to port (the last column of /proc/net/udp and /proc/net/udp6): datagrams
// the kernel discarded because the socket's buffer was full.
func UDPDrops(port int) (uint64, error) {
	var total uint64
	found := false
	for _, path := range []string{"/proc/net/udp", "/proc/net/udp6"} {
		n, ok, err := dropsIn(path, port)
		if err != nil {
			continue
		}
		total += n
		found = found || ok
	}
	if !found {
		return 0, fmt.Errorf("no UDP socket on port %d in /proc/net/udp", port)
	}
	return total, nil
}

func dropsIn(path string, port int) (uint64, bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, false, err
	}
	defer f.Close()
	var total uint64
	found := false
	sc := bufio.NewScanner(f)
	sc.Scan() // header
	want := fmt.Sprintf(":%04X", port)
	for sc.Scan() {
		cols := strings.Fields(sc.Text())
		if len(cols) < 13 || !strings.HasSuffix(cols[1], want) {
			continue
		}
		d, err := strconv.ParseUint(cols[len(cols)-1], 10, 64)
		if err != nil {
			continue
		}
		total += d
		found = true
	}
	return total, found, sc.Err()
}
