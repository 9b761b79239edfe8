package traces

import (
	"encoding/binary"
	"hash/crc32"
)

// The WAL and names.log are logs of records framed the same way:
// uvarint(len(payload)) | crc32c(payload) u32 | payload. A record torn by
// a crash (or cut short by a full disk) fails its length or crc and ends
// the valid prefix.

func appendRecord(buf []byte, parts ...[]byte) []byte {
	n := 0
	for _, p := range parts {
		n += len(p)
	}
	buf = binary.AppendUvarint(buf, uint64(n))
	var crc uint32
	for _, p := range parts {
		crc = crc32.Update(crc, crcTable, p)
	}
	buf = binary.LittleEndian.AppendUint32(buf, crc)
	for _, p := range parts {
		buf = append(buf, p...)
	}
	return buf
}

// eachRecord calls fn with the payload of each valid record and returns
// where the valid records end.
func eachRecord(b []byte, fn func(payload []byte)) int {
	off := 0
	for off < len(b) {
		plen, n := binary.Uvarint(b[off:])
		if n <= 0 || plen > uint64(len(b)) || off+n+4+int(plen) > len(b) {
			break
		}
		p := b[off+n+4 : off+n+4+int(plen)]
		if crc32.Checksum(p, crcTable) != binary.LittleEndian.Uint32(b[off+n:]) {
			break
		}
		fn(p)
		off += n + 4 + int(plen)
	}
	return off
}
