package httpserve

// Descriptors kept out of DefaultMaxConnections: the process's own files,
// the functions' pipes and sockets, the DynamoDB client's connections, the
// Runtime API listeners, the refusals in progress. The reserve is an
// eighth of the limit, at least DefaultFileReserve.
const DefaultFileReserve = 256

// maxDefaultConnections caps the default where the limit is huge (or
// infinite).
const maxDefaultConnections = 1 << 20

// DefaultMaxConnections is the default maximum of open connections: the
// soft file-descriptor limit (after RaiseFileLimit) less a reserve for
// everything else the process opens. Where there is no such limit
// (Windows), maxDefaultConnections.
func DefaultMaxConnections() int {
	lim, ok := fileLimit()
	if !ok {
		return maxDefaultConnections
	}
	return maxConnectionsFor(lim)
}

// maxConnectionsFor is DefaultMaxConnections for a descriptor limit.
func maxConnectionsFor(limit uint64) int {
	if limit > maxDefaultConnections*2 {
		return maxDefaultConnections
	}
	reserve := max(limit/8, DefaultFileReserve)
	if limit < 2*reserve {
		return max(int(limit/2), 1)
	}
	return int(limit - reserve)
}
