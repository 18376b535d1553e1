package dynamo

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/switchboard-ws/switchboard/chat/store"
)

// Expressions. Attribute names always go through placeholders ("#" + the
// name), since several (name, type, at, ...) are DynamoDB reserved words.
const (
	condNew       = "attribute_not_exists(#PK)"
	condExists    = "attribute_exists(#PK)"
	condLive      = "#expiresAtMs > :now"
	filterLive    = "#expiresAtMs > :now"
	condNewOrGone = "attribute_not_exists(#PK) OR #expiresAtMs <= :now"
	keyPartition  = "#PK = :pk"
	keyPrefix     = "#PK = :pk AND begins_with(#SK, :prefix)"
	setExpiry     = "SET #expiresAt = :expiresAt, #expiresAtMs = :expiresAtMs"
)

// names maps "#name" to name for each attribute name.
func names(attrs ...string) map[string]string {
	m := make(map[string]string, len(attrs))
	for _, a := range attrs {
		m["#"+a] = a
	}
	return m
}

// partitionQuery is a consistent Query of the base-table partition pk,
// limited to sort keys starting with prefix ("" for all), of live items
// only if live is set (at nowMs).
func partitionQuery(pk, prefix string, live bool, nowMs int64) *dynamodb.QueryInput {
	in := &dynamodb.QueryInput{
		KeyConditionExpression:    aws.String(keyPartition),
		ExpressionAttributeNames:  names(attrPK),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": str(pk)},
		ConsistentRead:            aws.Bool(true),
	}
	if prefix != "" {
		in.KeyConditionExpression = aws.String(keyPrefix)
		in.ExpressionAttributeNames["#"+attrSK] = attrSK
		in.ExpressionAttributeValues[":prefix"] = str(prefix)
	}
	if live {
		in.FilterExpression = aws.String(filterLive)
		in.ExpressionAttributeNames["#"+attrExpiresAtMs] = attrExpiresAtMs
		in.ExpressionAttributeValues[":now"] = num(nowMs)
	}
	return in
}

// PutConnection stores a connection and its copy under the user in one
// transaction; ErrExists if the id is taken.
func (s *Store) PutConnection(ctx context.Context, c store.Connection) error {
	conn := connectionItem(c)
	err := s.transact(ctx, []types.TransactWriteItem{
		{Put: &types.Put{
			TableName: s.table, Item: conn,
			ConditionExpression:      aws.String(condNew),
			ExpressionAttributeNames: names(attrPK),
		}},
		{Put: &types.Put{TableName: s.table, Item: userConnItem(conn)}},
	})
	var te *txError
	if errors.As(err, &te) {
		if failed, _ := te.failed(0); failed {
			err = store.ErrExists
		}
	}
	if err != nil {
		return fmt.Errorf("dynamo: put connection %q: %w", c.ConnectionID, err)
	}
	s.guesses.put(c.ConnectionID, c.ExpiresAt.UnixMilli())
	return nil
}

// GetConnection returns a live connection (a consistent GetItem).
func (s *Store) GetConnection(ctx context.Context, connectionID string) (store.Connection, error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: s.table, Key: key(connPK(connectionID), skMeta), ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return store.Connection{}, fmt.Errorf("dynamo: get connection %q: %w", connectionID, err)
	}
	it := item(out.Item)
	if len(it) == 0 || it.str(attrType) != typeConnection || !it.live(s.nowMs()) {
		return store.Connection{}, fmt.Errorf("dynamo: get connection %q: %w", connectionID, store.ErrNotFound)
	}
	c := it.connection()
	s.guesses.put(connectionID, c.ExpiresAt.UnixMilli())
	return c, nil
}

// connItems is what the connection's partition holds: the connection,
// its typing slot and its rooms (CONNROOM copies of its memberships).
type connItems struct {
	meta   item
	typing bool
	rooms  []item
}

// readConnection reads the connection's partition (consistently, expired
// items included).
func (s *Store) readConnection(ctx context.Context, connectionID string) (connItems, error) {
	items, err := s.query(ctx, partitionQuery(connPK(connectionID), "", false, 0), 0)
	if err != nil {
		return connItems{}, err
	}
	var ci connItems
	for _, it := range items {
		switch it.str(attrType) {
		case typeConnection:
			ci.meta = it
		case typeTyping:
			ci.typing = true
		case typeConnRoom:
			ci.rooms = append(ci.rooms, it)
		}
	}
	return ci, nil
}

// DeleteConnection reads the connection's partition, then deletes the
// connection, its copy under the user, its typing slot and each of its
// memberships with its copy and its connection in the user's hold item
// (holds.go), in one transaction (the connection conditionally: of two
// concurrent calls, one gets ErrNotFound). Then it reads the partition's
// memberships again (a consistent Query; nothing found, one request, in
// the common case) and removes what it finds, a transaction each: those
// of a connection in more than 32 rooms that the transaction had no room
// for, and those of joins that came between the read and the transaction
// (JoinRoom checks the connection item in its transaction: no join comes
// after it). No membership outlives its connection.
func (s *Store) DeleteConnection(ctx context.Context, connectionID string) (store.Connection, []store.Membership, error) {
	return s.deleteConnection(ctx, connectionID, true)
}

// deleteConnection is DeleteConnection; with release false it leaves the
// memberships it deletes in their users' hold items, for
// ReleaseMembership (DeleteNodeConnections), and their Last unset.
func (s *Store) deleteConnection(ctx context.Context, connectionID string, release bool) (store.Connection, []store.Membership, error) {
	wrap := func(err error) error { return fmt.Errorf("dynamo: delete connection %q: %w", connectionID, err) }
	s.guesses.forget(connectionID)
	ci, err := s.readConnection(ctx, connectionID)
	if err != nil {
		return store.Connection{}, nil, wrap(err)
	}
	if ci.meta == nil {
		return store.Connection{}, nil, wrap(store.ErrNotFound)
	}
	c := ci.meta.connection()
	del := func(k map[string]types.AttributeValue) types.TransactWriteItem {
		return types.TransactWriteItem{Delete: &types.Delete{TableName: s.table, Key: k}}
	}
	head := []types.TransactWriteItem{
		{Delete: &types.Delete{
			TableName: s.table, Key: key(connPK(connectionID), skMeta),
			ConditionExpression:      aws.String(condExists),
			ExpressionAttributeNames: names(attrPK),
		}},
		del(key(userPK(c.TenantID, c.UserID), prefixConn+connectionID)),
	}
	if ci.typing {
		head = append(head, del(key(connPK(connectionID), skTyping)))
	}
	memberships := make([]store.Membership, len(ci.rooms))
	for i, r := range ci.rooms {
		memberships[i] = r.membership()
	}
	// Each membership is deleted on the condition that it is still there:
	// one removed since the read (LeaveRoom, the sweep) is dropped from the
	// transaction, which is retried, so that only the call that removed a
	// membership reports it (and its hold's Last).
	per := 2 // the items of each membership in the transaction: its copy, itself (and its hold's release)
	if release {
		per = 3
	}
	inTx := slices.Clone(memberships[:min(len(memberships), (maxTransactItems-len(head))/per)])
	states := make([]holdState, len(inTx)) // holdLast: the likeliest
	for attempt := 0; ; attempt++ {
		tx := slices.Clone(head)
		for i, m := range inTx {
			tx = append(tx,
				del(key(connPK(connectionID), connRoomSK(m.TenantID, m.RoomID))),
				types.TransactWriteItem{Delete: &types.Delete{
					TableName: s.table, Key: key(roomPK(m.TenantID, m.RoomID), prefixMember+connectionID),
					ConditionExpression:      aws.String(condExists),
					ExpressionAttributeNames: names(attrPK),
				}},
			)
			if release {
				tx = append(tx, s.releaseWrite(m, states[i]))
			}
		}
		err = s.transact(ctx, tx)
		var te *txError
		if !errors.As(err, &te) {
			break
		}
		if failed, _ := te.failed(0); failed {
			return store.Connection{}, nil, wrap(store.ErrNotFound)
		}
		again := false
		keep, keepStates := inTx[:0], states[:0]
		for i, m := range inTx {
			st := states[i]
			if gone, _ := te.failed(len(head) + per*i + 1); gone {
				again = true
				continue
			}
			if release {
				if failed, old := te.failed(len(head) + per*i + 2); failed {
					st, again = holdStateOf(old, connectionID), true
				}
			}
			keep, keepStates = append(keep, m), append(keepStates, st)
		}
		inTx, states = keep, keepStates
		if !again {
			break
		}
		if attempt >= s.retries {
			err = errHoldContended
			break
		}
	}
	if err != nil {
		return store.Connection{}, nil, wrap(err)
	}
	for i := range inTx {
		inTx[i].Last = release && states[i] == holdLast
	}
	// The memberships left in the partition: those beyond the transaction
	// and those of joins that came between the read and the transaction.
	// A consistent read after the connection item's deletion: a join's
	// transaction checks the connection item, so none comes after it.
	rest, err := s.query(ctx, partitionQuery(connPK(connectionID), prefixRoom, false, 0), 0)
	if err != nil {
		return store.Connection{}, nil, wrap(err)
	}
	memberships = inTx
	for _, r := range rest {
		m := r.membership()
		remove := s.removeMembership
		if !release {
			remove = s.dropMembership
		}
		last, found, err := remove(ctx, m)
		if err != nil {
			return store.Connection{}, nil, wrap(err)
		}
		if found {
			m.Last = last
			memberships = append(memberships, m)
		}
	}
	sortMemberships(memberships)
	return c, memberships, nil
}

func sortMemberships(ms []store.Membership) {
	slices.SortFunc(ms, func(a, b store.Membership) int {
		if c := strings.Compare(a.TenantID, b.TenantID); c != 0 {
			return c
		}
		return strings.Compare(a.RoomID, b.RoomID)
	})
}

// TouchConnection reads the connection's partition, then in one
// transaction moves the expiry of the connection (if still live), of its
// copy under the user, and of each live membership and its copy. Expired
// memberships stay expired. A membership left concurrently is dropped from
// the transaction, which is retried; a connection in more than 49 rooms
// has the rest touched in further transactions. The connection's write is
// conditioned on its count of joins (attrJoins) being the one read: a join
// that came between the read and the transaction cancels it, and the
// partition is read again, so that the join's membership is touched too
// (JoinRoom gave it the expiry it found).
func (s *Store) TouchConnection(ctx context.Context, connectionID string, expiresAt time.Time) error {
	wrap := func(err error) error { return fmt.Errorf("dynamo: touch connection %q: %w", connectionID, err) }
	for range s.retries {
		again, err := s.touch(ctx, connectionID, expiresAt)
		if err != nil {
			return wrap(err)
		}
		if !again {
			s.guesses.put(connectionID, expiresAt.UnixMilli())
			return nil
		}
	}
	return wrap(errJoinsContended)
}

// errJoinsContended: joins of the connection kept coming between a
// heartbeat's read and its write.
var errJoinsContended = errors.New("joins of the connection kept coming")

// touch is one attempt of TouchConnection; again if a join came between
// its read and its first transaction.
func (s *Store) touch(ctx context.Context, connectionID string, expiresAt time.Time) (again bool, err error) {
	now := s.nowMs()
	ci, err := s.readConnection(ctx, connectionID)
	if err != nil {
		return false, err
	}
	if ci.meta == nil || !ci.meta.live(now) {
		return false, store.ErrNotFound
	}
	vals := map[string]types.AttributeValue{
		":expiresAt":   num(ttlSeconds(expiresAt)),
		":expiresAtMs": num(expiresAt.UnixMilli()),
		":now":         num(now),
	}
	update := func(k map[string]types.AttributeValue) types.TransactWriteItem {
		return types.TransactWriteItem{Update: &types.Update{
			TableName: s.table, Key: k,
			UpdateExpression:          aws.String(setExpiry),
			ConditionExpression:       aws.String(condLive),
			ExpressionAttributeNames:  names(attrExpiresAt, attrExpiresAtMs),
			ExpressionAttributeValues: vals,
		}}
	}
	// The connection's write, conditioned on the joins counted as read.
	connWrite := update(key(connPK(connectionID), skMeta))
	cu := connWrite.Update
	cu.ExpressionAttributeNames = names(attrExpiresAt, attrExpiresAtMs, attrJoins)
	cu.ExpressionAttributeValues = maps.Clone(vals)
	if joins, ok := ci.meta.num(attrJoins); ok {
		cu.ConditionExpression = aws.String(condLive + " AND #joins = :joins")
		cu.ExpressionAttributeValues[":joins"] = num(joins)
	} else {
		cu.ConditionExpression = aws.String(condLive + " AND attribute_not_exists(#joins)")
	}
	// The user's copy is written whole from the connection: it cannot
	// drift, and the connection's condition guards it.
	touched := make(item, len(ci.meta))
	for k, v := range ci.meta {
		touched[k] = v
	}
	touched[attrExpiresAt], touched[attrExpiresAtMs] = vals[":expiresAt"], vals[":expiresAtMs"]
	head := []types.TransactWriteItem{
		connWrite,
		{Put: &types.Put{TableName: s.table, Item: userConnItem(touched)}},
	}
	var pairs [][2]types.TransactWriteItem
	for _, r := range ci.rooms {
		if !r.live(now) {
			continue
		}
		m := r.membership()
		pairs = append(pairs, [2]types.TransactWriteItem{
			update(key(connPK(connectionID), r.str(attrSK))),
			update(key(roomPK(m.TenantID, m.RoomID), prefixMember+connectionID)),
		})
	}
	for first := true; first || len(pairs) > 0; first = false {
		chunk := head
		if !first {
			chunk = nil
		}
		n := min(len(pairs), (maxTransactItems-len(chunk))/2)
		mine := pairs[:n]
		pairs = pairs[n:]
		for {
			items := slices.Clone(chunk)
			for _, p := range mine {
				items = append(items, p[0], p[1])
			}
			if len(items) == 0 {
				break
			}
			err := s.transact(ctx, items)
			var te *txError
			if !errors.As(err, &te) {
				if err != nil {
					return false, err
				}
				break
			}
			if failed, _ := te.failed(0); first && failed {
				return true, nil // expired, deleted or joined meanwhile: read again
			}
			// Drop the memberships that expired or were left meanwhile.
			var keep [][2]types.TransactWriteItem
			for i, p := range mine {
				j := len(chunk) + 2*i
				f1, _ := te.failed(j)
				f2, _ := te.failed(j + 1)
				if !f1 && !f2 {
					keep = append(keep, p)
				}
			}
			if len(keep) == len(mine) {
				return false, err
			}
			mine = keep
		}
	}
	return false, nil
}

// UserConnections lists a user's live connections, by connection id: a
// consistent Query of the user's partition, which PutConnection and
// DeleteConnection write in the same transaction as the connection.
func (s *Store) UserConnections(ctx context.Context, tenantID, userID string) ([]store.Connection, error) {
	items, err := s.query(ctx, partitionQuery(userPK(tenantID, userID), prefixConn, true, s.nowMs()), 0)
	if err != nil {
		return nil, fmt.Errorf("dynamo: connections of user %q of tenant %q: %w", userID, tenantID, err)
	}
	return connections(items), nil
}

// CountUserConnections counts a user's live connections up to max: a
// consistent Query of the user's partition with Select COUNT and Limit, so
// that it reads max items when none has expired (Limit counts items before
// the filter drops expired ones; a page that met expired items is followed
// by another, of at least countPage items so that a user's many expired
// items, waiting for TTL deletion, cost few round trips).
func (s *Store) CountUserConnections(ctx context.Context, tenantID, userID string, limit int) (int, error) {
	n, err := s.countLive(ctx, userPK(tenantID, userID), prefixConn, limit)
	if err != nil {
		return 0, fmt.Errorf("dynamo: count connections of user %q of tenant %q: %w", userID, tenantID, err)
	}
	return n, nil
}

// countLive counts the live items of partition pk whose sort key starts
// with prefix, up to limit (CountUserConnections says how).
func (s *Store) countLive(ctx context.Context, pk, prefix string, limit int) (int, error) {
	if limit <= 0 {
		return 0, nil
	}
	return s.countQuery(ctx, partitionQuery(pk, prefix, true, s.nowMs()), limit)
}

// countQuery counts the items in's Query finds, up to limit, reading at
// most limit items (and those its filter drops) on the first page, at
// least countPage on the next ones.
func (s *Store) countQuery(ctx context.Context, in *dynamodb.QueryInput, limit int) (int, error) {
	if limit <= 0 {
		return 0, nil
	}
	in.TableName = s.table
	in.Select = types.SelectCount
	n := 0
	for page := 0; ; page++ {
		want := limit - n
		if page > 0 {
			want = max(want, countPage)
		}
		in.Limit = aws.Int32(int32(want))
		res, err := s.db.Query(ctx, in)
		if err != nil {
			return 0, err
		}
		n += int(res.Count)
		if n >= limit || len(res.LastEvaluatedKey) == 0 {
			return min(n, limit), nil
		}
		in.ExclusiveStartKey = res.LastEvaluatedKey
	}
}

// countPage is the least Limit of CountUserConnections' pages after the
// first.
const countPage = 100

var _ store.TenantConnectionCounter = (*Store)(nil)

// CountTenantConnections counts a tenant's live connections up to max: a
// Query of GSI1 (eventually consistent, as TenantConnections) with
// Select=COUNT and Limit, reading at most max items on its first page.
func (s *Store) CountTenantConnections(ctx context.Context, tenantID string, max int) (int, error) {
	n, err := s.countQuery(ctx, &dynamodb.QueryInput{
		IndexName:                aws.String(GSI1),
		KeyConditionExpression:   aws.String("#GSI1PK = :pk"),
		FilterExpression:         aws.String(filterLive),
		ExpressionAttributeNames: names(attrGSI1PK, attrExpiresAtMs),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":pk": str(tenantConnsPK(tenantID)), ":now": num(s.nowMs()),
		},
	}, max)
	if err != nil {
		return 0, fmt.Errorf("dynamo: count connections of tenant %q: %w", tenantID, err)
	}
	return n, nil
}

// TenantConnections lists a tenant's live connections, by connection id
// (a Query of GSI1: eventually consistent).
func (s *Store) TenantConnections(ctx context.Context, tenantID string) ([]store.Connection, error) {
	items, err := s.query(ctx, &dynamodb.QueryInput{
		IndexName:                aws.String(GSI1),
		KeyConditionExpression:   aws.String("#GSI1PK = :pk"),
		FilterExpression:         aws.String(filterLive),
		ExpressionAttributeNames: names(attrGSI1PK, attrExpiresAtMs),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":pk": str(tenantConnsPK(tenantID)), ":now": num(s.nowMs()),
		},
	}, 0)
	if err != nil {
		return nil, fmt.Errorf("dynamo: connections of tenant %q: %w", tenantID, err)
	}
	return connections(items), nil
}

func connections(items []item) []store.Connection {
	var out []store.Connection
	for _, it := range items {
		out = append(out, it.connection())
	}
	return out
}

// TakeTypingSlot records a typing event at now with one conditional
// UpdateItem of the connection's typing slot; a failed condition means
// rate limited. The slot expires (TTL) when it no longer limits anything.
func (s *Store) TakeTypingSlot(ctx context.Context, connectionID string, now time.Time, interval time.Duration) (bool, error) {
	at, iv := now.UnixMilli(), interval.Milliseconds()
	err := s.withRetry(ctx, func() error {
		_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName:                s.table,
			Key:                      key(connPK(connectionID), skTyping),
			UpdateExpression:         aws.String("SET #type = :type, #at = :at, #expiresAt = :expiresAt, #expiresAtMs = :expiresAtMs"),
			ConditionExpression:      aws.String("attribute_not_exists(#at) OR #at <= :since"),
			ExpressionAttributeNames: names(attrType, attrAt, attrExpiresAt, attrExpiresAtMs),
			ExpressionAttributeValues: map[string]types.AttributeValue{
				":type":        str(typeTyping),
				":at":          num(at),
				":expiresAt":   num(ceilSeconds(at + iv)),
				":expiresAtMs": num(at + iv),
				":since":       num(at - iv),
			},
		})
		return err
	})
	if failed, _ := conditionFailed(err); failed {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("dynamo: typing slot of %q: %w", connectionID, err)
	}
	return true, nil
}

// RoomMembers lists the live memberships of a room, by connection id (a
// consistent Query of the room's partition).
func (s *Store) RoomMembers(ctx context.Context, tenantID, roomID string) (store.Members, error) {
	items, err := s.query(ctx, partitionQuery(roomPK(tenantID, roomID), prefixMember, true, s.nowMs()), 0)
	if err != nil {
		return store.Members{}, fmt.Errorf("dynamo: members of room %q of tenant %q: %w", roomID, tenantID, err)
	}
	return store.MembersOf(memberships(items)), nil
}

// ConnectionRooms lists the live memberships of a connection, by tenant
// and room id (a consistent Query of the connection's partition).
func (s *Store) ConnectionRooms(ctx context.Context, connectionID string) ([]store.Membership, error) {
	items, err := s.query(ctx, partitionQuery(connPK(connectionID), prefixRoom, true, s.nowMs()), 0)
	if err != nil {
		return nil, fmt.Errorf("dynamo: rooms of connection %q: %w", connectionID, err)
	}
	ms := memberships(items)
	sortMemberships(ms)
	return ms, nil
}

func memberships(items []item) []store.Membership {
	var out []store.Membership
	for _, it := range items {
		out = append(out, it.membership())
	}
	return out
}
