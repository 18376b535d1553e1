-- The memberships each user holds in each room (store.Join): a join,
-- leave or expiry asks whether the user holds another there with an index
-- search bounded to the user, not a read of the room. Its writes take a
-- transaction-scoped advisory lock on (tenant, room, user) first (holds.go),
-- so that of concurrent joins or leaves of one user on any node exactly one
-- sees the user's holds go from none to some, or from some to none.
CREATE TABLE room_holds (
	tenant_id     text COLLATE "C" NOT NULL,
	room_id       text COLLATE "C" NOT NULL,
	user_id       text COLLATE "C" NOT NULL,
	connection_id text COLLATE "C" NOT NULL,
	PRIMARY KEY (tenant_id, room_id, user_id, connection_id)
);
INSERT INTO room_holds SELECT tenant_id, room_id, user_id, connection_id FROM memberships;
