package sqlite

import (
	"context"
	"database/sql"
	"fmt"
)

// migrations[i] brings the schema from version i to version i+1; the
// database's PRAGMA user_version is its current version. Append to this
// list; never edit a migration that has shipped.
var migrations = []string{
	// 1: the initial schema. Times are integer milliseconds since the Unix
	// epoch, UTC. Every request-path query is a SEARCH on one of these keys
	// (TestQueryPlans checks).
	`
CREATE TABLE connections (
	connection_id TEXT NOT NULL PRIMARY KEY,
	tenant_id     TEXT NOT NULL,
	user_id       TEXT NOT NULL,
	username      TEXT NOT NULL,
	connected_at  INTEGER NOT NULL,
	expires_at    INTEGER NOT NULL,
	source_ip     TEXT NOT NULL,
	user_agent    TEXT NOT NULL
) WITHOUT ROWID;
-- UserConnections; the primary key (connection_id) is implicitly appended.
CREATE INDEX connections_by_user ON connections (tenant_id, user_id);
-- TenantConnections.
CREATE INDEX connections_by_tenant ON connections (tenant_id);
-- DeleteExpired.
CREATE INDEX connections_by_expiry ON connections (expires_at);

-- The last typing event of a connection; it stops limiting anything at
-- expires_at (at + interval).
CREATE TABLE typing_slots (
	connection_id TEXT NOT NULL PRIMARY KEY,
	at            INTEGER NOT NULL,
	expires_at    INTEGER NOT NULL
) WITHOUT ROWID;
-- DeleteExpired.
CREATE INDEX typing_slots_by_expiry ON typing_slots (expires_at);

CREATE TABLE memberships (
	tenant_id     TEXT NOT NULL,
	room_id       TEXT NOT NULL,
	connection_id TEXT NOT NULL,
	user_id       TEXT NOT NULL,
	username      TEXT NOT NULL,
	joined_at     INTEGER NOT NULL,
	expires_at    INTEGER NOT NULL,
	PRIMARY KEY (tenant_id, room_id, connection_id) -- RoomMembers, JoinRoom, LeaveRoom
) WITHOUT ROWID;
-- ConnectionRooms, DeleteConnection, TouchConnection.
CREATE INDEX memberships_by_connection ON memberships (connection_id);
-- DeleteExpired.
CREATE INDEX memberships_by_expiry ON memberships (expires_at);

CREATE TABLE rooms (
	tenant_id   TEXT NOT NULL,
	room_id     TEXT NOT NULL,
	name        TEXT NOT NULL,
	description TEXT NOT NULL,
	created_by  TEXT NOT NULL,
	created_at  INTEGER NOT NULL,
	is_private  INTEGER NOT NULL,
	members     TEXT NOT NULL, -- JSON array of user ids
	PRIMARY KEY (tenant_id, room_id)
);
-- ListRooms, public rooms: newest first.
CREATE INDEX rooms_by_visibility ON rooms (tenant_id, is_private, created_at, room_id);

-- One row per member of a private room: ListRooms, private rooms of a user.
-- created_at is the room's (rooms are never changed once created).
CREATE TABLE room_access (
	tenant_id  TEXT NOT NULL,
	user_id    TEXT NOT NULL,
	created_at INTEGER NOT NULL,
	room_id    TEXT NOT NULL,
	PRIMARY KEY (tenant_id, user_id, created_at, room_id)
) WITHOUT ROWID;

CREATE TABLE messages (
	tenant_id     TEXT NOT NULL,
	message_id    TEXT NOT NULL,
	room_id       TEXT NOT NULL,
	user_id       TEXT NOT NULL,
	username      TEXT NOT NULL,
	content       TEXT NOT NULL,
	message_type  TEXT NOT NULL,
	created_at    INTEGER NOT NULL,
	edited_at     INTEGER,          -- NULL: never edited
	deleted       INTEGER NOT NULL,
	reply_to      TEXT NOT NULL,
	PRIMARY KEY (tenant_id, message_id) -- GetMessage, EditMessage, DeleteMessage
);
-- ListMessages: a room's history by message id (time-sortable).
CREATE INDEX messages_by_room ON messages (tenant_id, room_id, message_id);
`,
	// 2: the memberships each user holds in each room (store.Join, and
	// holds.go): a row per membership held, written by the statement that
	// adds the membership (the trigger) and deleted by the leave or
	// release that ends the hold.
	`
CREATE TABLE room_holds (
	tenant_id     TEXT NOT NULL,
	room_id       TEXT NOT NULL,
	user_id       TEXT NOT NULL,
	connection_id TEXT NOT NULL,
	PRIMARY KEY (tenant_id, room_id, user_id, connection_id)
) WITHOUT ROWID;
INSERT INTO room_holds SELECT tenant_id, room_id, user_id, connection_id FROM memberships;
CREATE TRIGGER memberships_hold AFTER INSERT ON memberships BEGIN
	INSERT INTO room_holds (tenant_id, room_id, user_id, connection_id)
	VALUES (NEW.tenant_id, NEW.room_id, NEW.user_id, NEW.connection_id) ON CONFLICT DO NOTHING;
END;
`,
	// Connections are read from the in-memory index (index.go): these two
	// indexes served reads that no longer reach SQLite, and cost every
	// connect and disconnect two more b-tree pages to write.
	`
DROP INDEX IF EXISTS connections_by_user;
DROP INDEX IF EXISTS connections_by_tenant;
`,
	// 4: connections, memberships, holds and typing slots are kept in
	// memory only (index.go): they die with the process whose WebSockets
	// they describe. The rows a directory of an older version holds are
	// those of a process that is gone: dropped with their tables.
	`
DROP TRIGGER IF EXISTS memberships_hold;
DROP TABLE IF EXISTS room_holds;
DROP TABLE IF EXISTS memberships;
DROP TABLE IF EXISTS typing_slots;
DROP TABLE IF EXISTS connections;
`,
}

// SchemaVersion is the schema version this package writes.
var SchemaVersion = len(migrations)

// migrate brings the database's schema up to SchemaVersion, each step in a
// transaction with the user_version it reaches.
func migrate(ctx context.Context, db *sql.DB) error {
	var v int
	if err := db.QueryRowContext(ctx, `PRAGMA user_version`).Scan(&v); err != nil {
		return fmt.Errorf("reading schema version: %w", err)
	}
	if v > SchemaVersion {
		return fmt.Errorf("schema version %d is newer than this program's (%d)", v, SchemaVersion)
	}
	for ; v < SchemaVersion; v++ {
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return fmt.Errorf("migrating to schema version %d: %w", v+1, err)
		}
		// Another process may have migrated since the check above: the
		// immediate transaction now holds the write lock, so read again.
		var cur int
		if err := tx.QueryRowContext(ctx, `PRAGMA user_version`).Scan(&cur); err != nil {
			tx.Rollback()
			return fmt.Errorf("reading schema version: %w", err)
		}
		if cur != v {
			tx.Rollback()
			if cur > SchemaVersion {
				return fmt.Errorf("schema version %d is newer than this program's (%d)", cur, SchemaVersion)
			}
			v = cur - 1
			continue
		}
		if _, err := tx.ExecContext(ctx, migrations[v]); err != nil {
			tx.Rollback()
			return fmt.Errorf("migrating to schema version %d: %w", v+1, err)
		}
		if _, err := tx.ExecContext(ctx, fmt.Sprintf(`PRAGMA user_version = %d`, v+1)); err != nil {
			tx.Rollback()
			return fmt.Errorf("migrating to schema version %d: %w", v+1, err)
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("migrating to schema version %d: %w", v+1, err)
		}
	}
	return nil
}
