package gateway

import "errors"

// Errors returned by Connections and the Server's management methods. The
// management API maps them to the AWS error types of the same names.
var (
	// ErrGone: the connection is unknown, closed, closing, or still in $connect.
	ErrGone = errors.New("gone: connection is not connected")
	// ErrPayloadTooLarge: the data exceeds Limits.MaxMessageBytes.
	ErrPayloadTooLarge = errors.New("payload too large")
	// ErrBadConnectionID: the id does not have the shape of a connection id.
	ErrBadConnectionID = errors.New("invalid connectionId")
	// ErrUnauthorized is what an authorizer returns (or an error whose text
	// is exactly "Unauthorized", as Lambda authorizers throw) to refuse a
	// connection with 401.
	ErrUnauthorized = errors.New("Unauthorized")
	// ErrServerClosed is returned after Shutdown.
	ErrServerClosed = errors.New("gateway: server closed")
)
