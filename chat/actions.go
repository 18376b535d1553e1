package chat

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"reflect"
	"strings"

	"github.com/aws/aws-lambda-go/events"

	"github.com/switchboard-ws/switchboard/chat/protocol"
)

// action handles one request; it returns the success reply's data or an
// error reply. Its broadcasts go to r.out, which the router flushes after
// posting the reply.
type action func(s *Service, ctx context.Context, r *request) (any, *apiError)

var actions = map[string]action{
	protocol.ActionCreateRoom:     (*Service).createRoom,
	protocol.ActionListRooms:      (*Service).listRooms,
	protocol.ActionJoinRoom:       (*Service).joinRoom,
	protocol.ActionLeaveRoom:      (*Service).leaveRoom,
	protocol.ActionSendMessage:    (*Service).sendMessage,
	protocol.ActionEditMessage:    (*Service).editMessage,
	protocol.ActionDeleteMessage:  (*Service).deleteMessage,
	protocol.ActionGetRoomHistory: (*Service).getRoomHistory,
	protocol.ActionTypingStart:    (*Service).typingStart,
	protocol.ActionTypingStop:     (*Service).typingStop,
	protocol.ActionGetOnlineUsers: (*Service).getOnlineUsers,
	protocol.ActionHeartbeat:      (*Service).heartbeat,
	protocol.ActionPing:           (*Service).heartbeat,
}

// Actions lists the action names the message handler understands (the
// route keys a deployment maps to it).
func Actions() []string {
	out := make([]string, 0, len(actions))
	for k := range actions {
		out = append(out, k)
	}
	return out
}

// Message is the action router: the integration of every custom route and
// of $default. Every request gets exactly one reply, success or error;
// nothing a client sends makes it fail or closes the connection.
func (s *Service) Message(ctx context.Context, ev events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
	to := ev.RequestContext.ConnectionID
	id, err := identityOf(ev)
	if err != nil {
		s.fail(ctx, to, "", errorf(protocol.CodeForbidden, "this connection was not authorized"))
		return events.APIGatewayProxyResponse{StatusCode: http.StatusForbidden}, nil
	}
	env, apiErr := parseRequest(ev.Body)
	// Every frame counts against the limits, malformed ones included.
	if e := s.admit(id, len(ev.Body)); e != nil {
		s.fail(ctx, to, env.RequestID, e)
		return events.APIGatewayProxyResponse{StatusCode: http.StatusOK}, nil
	}
	if apiErr != nil {
		s.fail(ctx, to, env.RequestID, apiErr)
		return events.APIGatewayProxyResponse{StatusCode: http.StatusOK}, nil
	}
	act, ok := actions[env.Action]
	if !ok {
		s.fail(ctx, to, env.RequestID, errorf(protocol.CodeUnknownAction, "unknown action %q", env.Action))
		return events.APIGatewayProxyResponse{StatusCode: http.StatusOK}, nil
	}
	// The reply goes out before the broadcasts the action makes: the
	// sender hears first, and a large room's fan-out does not delay it.
	r := &request{id: id, requestID: env.RequestID, data: env.Data, out: s.deferredOutbox()}
	data, apiErr := act(s, ctx, r)
	if apiErr != nil {
		s.fail(ctx, to, r.requestID, apiErr)
	} else {
		s.success(ctx, to, r.requestID, data)
	}
	r.out.flush(ctx)
	return events.APIGatewayProxyResponse{StatusCode: http.StatusOK}, nil
}

// parseRequest decodes the envelope {action, data, requestId}. The
// requestId is recovered whenever the body is a JSON object carrying one,
// so that even a malformed request's error can be matched by the client.
func parseRequest(body string) (envelope, *apiError) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal([]byte(body), &raw); err != nil {
		return envelope{}, errorf(protocol.CodeInvalidJSON, "the message is not a JSON object: %s", jsonProblem(err))
	}
	if raw == nil { // the frame was null
		return envelope{}, errorf(protocol.CodeInvalidJSON, "the message is not a JSON object: it is null")
	}
	var req envelope
	if v, ok := raw["requestId"]; ok && string(v) != "null" {
		if err := json.Unmarshal(v, &req.RequestID); err != nil {
			return req, errorf(protocol.CodeInvalidRequest, "requestId must be a string")
		}
		if len(req.RequestID) > 128 {
			req.RequestID = ""
			return req, errorf(protocol.CodeInvalidRequest, "requestId must be at most 128 characters")
		}
	}
	v, ok := raw["action"]
	if !ok || string(v) == "null" {
		return req, errorf(protocol.CodeInvalidRequest, "action is required")
	}
	if err := json.Unmarshal(v, &req.Action); err != nil {
		return req, errorf(protocol.CodeInvalidRequest, "action must be a string")
	}
	if req.Action == "" {
		return req, errorf(protocol.CodeInvalidRequest, "action is required")
	}
	req.Data = raw["data"]
	if len(req.Data) > 0 && string(req.Data) != "null" && req.Data[0] != '{' {
		return req, errorf(protocol.CodeInvalidRequest, "data must be an object")
	}
	return req, nil
}

// decode reads an action's data into v (a pointer to a struct), reporting
// the first wrongly typed field by name. Absent data is an empty object.
func decode(data json.RawMessage, v any) *apiError {
	if len(data) == 0 || string(data) == "null" {
		data = json.RawMessage("{}")
	}
	// data is one JSON value (a part of the frame parseRequest read):
	// Unmarshal, without a Decoder's buffer, reads it as Decode would.
	if err := json.Unmarshal(data, v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			return errorf(protocol.CodeInvalidRequest, "data.%s must be %s", te.Field, jsonTypeName(te.Type))
		}
		return errorf(protocol.CodeInvalidRequest, "data: %s", jsonProblem(err))
	}
	return nil
}

func jsonTypeName(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind().String() {
	case "string":
		return "a string"
	case "bool":
		return "a boolean"
	case "int", "int64", "float64":
		return "a number"
	case "slice":
		return "a list"
	}
	return "of the documented type"
}

func jsonProblem(err error) string {
	msg := err.Error()
	return strings.TrimPrefix(msg, "json: ")
}

// text checks a name people see (a room's name or description, a member
// id) by protocol.CheckText, the rule usernames follow too.
func text(name, v string) *apiError {
	if err := protocol.CheckText(v); err != nil {
		return errorf(protocol.CodeInvalidRequest, "data.%s %s", name, err)
	}
	return nil
}

// required checks that a string field is present and not blank.
func required(name, v string) *apiError {
	if strings.TrimSpace(v) == "" {
		return errorf(protocol.CodeInvalidRequest, "data.%s is required", name)
	}
	return nil
}
