-- 1: the initial schema. Times are bigint milliseconds since the Unix
-- epoch, UTC (the store's clock decides expiry, not the server's). Ids
-- use the "C" collation, so that ordering is by bytes as in the other
-- stores, whatever the database's locale. Every request-path query is an
-- index scan on one of these keys (TestQueryPlans checks).

CREATE TABLE connections (
	connection_id text COLLATE "C" NOT NULL PRIMARY KEY,
	tenant_id     text COLLATE "C" NOT NULL,
	user_id       text COLLATE "C" NOT NULL,
	username      text NOT NULL,
	connected_at  bigint NOT NULL,
	expires_at    bigint NOT NULL,
	source_ip     text NOT NULL,
	user_agent    text NOT NULL
);
-- UserConnections; CountUserConnections reads only live rows of the user
-- (expires_at > now is a range of this index), at most max of them.
CREATE INDEX connections_by_user ON connections (tenant_id, user_id, expires_at);
-- TenantConnections, in connection id order.
CREATE INDEX connections_by_tenant ON connections (tenant_id, connection_id);
-- DeleteExpired.
CREATE INDEX connections_by_expiry ON connections (expires_at);

-- The last typing event of a connection; it stops limiting anything at
-- expires_at (at + interval).
CREATE TABLE typing_slots (
	connection_id text COLLATE "C" NOT NULL PRIMARY KEY,
	at            bigint NOT NULL,
	expires_at    bigint NOT NULL
);
CREATE INDEX typing_slots_by_expiry ON typing_slots (expires_at);

CREATE TABLE memberships (
	tenant_id     text COLLATE "C" NOT NULL,
	room_id       text COLLATE "C" NOT NULL,
	connection_id text COLLATE "C" NOT NULL,
	user_id       text COLLATE "C" NOT NULL,
	username      text NOT NULL,
	joined_at     bigint NOT NULL,
	expires_at    bigint NOT NULL,
	PRIMARY KEY (tenant_id, room_id, connection_id) -- RoomMembers, JoinRoom, LeaveRoom
);
-- ConnectionRooms, DeleteConnection, TouchConnection.
CREATE INDEX memberships_by_connection ON memberships (connection_id);
-- DeleteExpired.
CREATE INDEX memberships_by_expiry ON memberships (expires_at);

CREATE TABLE rooms (
	tenant_id   text COLLATE "C" NOT NULL,
	room_id     text COLLATE "C" NOT NULL,
	name        text NOT NULL,
	description text NOT NULL,
	created_by  text NOT NULL,
	created_at  bigint NOT NULL,
	is_private  boolean NOT NULL,
	members     text[] NOT NULL, -- user ids; empty for public rooms
	PRIMARY KEY (tenant_id, room_id) -- GetRoom, CreateRoom
);
-- ListRooms, public rooms, newest first.
CREATE INDEX rooms_public ON rooms (tenant_id, created_at, room_id) WHERE NOT is_private;

-- One row per member of a private room: ListRooms, private rooms of a user.
-- created_at is the room's (rooms never change once created).
CREATE TABLE room_access (
	tenant_id  text COLLATE "C" NOT NULL,
	user_id    text COLLATE "C" NOT NULL,
	created_at bigint NOT NULL,
	room_id    text COLLATE "C" NOT NULL,
	PRIMARY KEY (tenant_id, user_id, created_at, room_id)
);

CREATE TABLE messages (
	tenant_id    text COLLATE "C" NOT NULL,
	message_id   text COLLATE "C" NOT NULL,
	room_id      text COLLATE "C" NOT NULL,
	user_id      text COLLATE "C" NOT NULL,
	username     text NOT NULL,
	content      bytea NOT NULL, -- bytes: a message may hold U+0000, which text cannot
	message_type text NOT NULL,
	created_at   bigint NOT NULL,
	edited_at    bigint,          -- NULL: never edited
	deleted      boolean NOT NULL,
	reply_to     text NOT NULL,
	PRIMARY KEY (tenant_id, message_id) -- GetMessage, EditMessage, DeleteMessage
);
-- ListMessages: a room's history by message id (time-sortable).
CREATE INDEX messages_by_room ON messages (tenant_id, room_id, message_id);
